"""``--mqtt URL`` and ``STAIRRIG_MQTT_URL``: a broker given without editing the configuration."""

import pytest

from rig.config import ConfigError
from rig.layout import RigLayout
from rig.mqtt.url import apply_mqtt_url, mqtt_url_from_env
from tests.rigs import config_for


@pytest.fixture
def config(tmp_path):
    return config_for(RigLayout(treads=2), str(tmp_path),
                      mqtt={"host": "file-host", "port": 1999, "username": "fileuser",
                            "password_env": "RIG_MQTT_PASSWORD", "base_topic": "gym/rig"})


def test_a_plain_url_sets_host_and_port_and_keeps_the_rest(config):
    out = apply_mqtt_url(config, "mqtt://broker.lan:1884", "--mqtt")
    m = out.mqtt
    assert (m.host, m.port, m.tls, m.effective_port) == ("broker.lan", 1884, False, 1884)
    # no credentials in the URL: the file's stay; other settings are untouched
    assert (m.username, m.password_env, m.password, m.base_topic) == ("fileuser", "RIG_MQTT_PASSWORD", None, "gym/rig")
    assert config.mqtt.host == "file-host"          # the original is not changed


def test_mqtts_turns_tls_on_with_its_default_port(config):
    m = apply_mqtt_url(config, "mqtts://broker.example.org", "--mqtt").mqtt
    assert (m.tls, m.port, m.effective_port) == (True, None, 8883)
    assert apply_mqtt_url(config, "mqtt://broker.example.org", "--mqtt").mqtt.effective_port == 1883


def test_user_and_password_are_percent_decoded(config):
    m = apply_mqtt_url(config, "mqtt://rig%40gym:p%3Ass%40w%2Frd@10.0.0.5:1883", "STAIRRIG_MQTT_URL").mqtt
    assert (m.username, m.password, m.host) == ("rig@gym", "p:ss@w/rd", "10.0.0.5")
    # a password in the URL replaces the file's way of finding one
    assert m.password_env is None and m.password_file is None


def test_a_user_without_password_keeps_the_files_password_source(config):
    m = apply_mqtt_url(config, "mqtt://someone@host", "--mqtt").mqtt
    assert (m.username, m.password, m.password_env) == ("someone", None, "RIG_MQTT_PASSWORD")


def test_ipv6_hosts(config):
    m = apply_mqtt_url(config, "mqtt://[fd00::1]:1885", "--mqtt").mqtt
    assert (m.host, m.port) == ("fd00::1", 1885)


def test_a_url_enables_mqtt_even_if_the_file_disabled_it(tmp_path):
    config = config_for(RigLayout(treads=2), str(tmp_path), mqtt={"enabled": False})
    assert apply_mqtt_url(config, "mqtt://h", "--mqtt").mqtt.enabled is True


@pytest.mark.parametrize("url, words", [
    ("http://broker:1883", "the scheme must be mqtt:// or mqtts://"),
    ("broker:1883", "the scheme must be mqtt:// or mqtts://"),
    ("mqtt://broker:99999", "the port must be a whole number from 1 to 65535"),
    ("mqtt://broker:0", "the port must be a whole number from 1 to 65535"),
    ("mqtt://broker:abc", "the port must be a whole number from 1 to 65535, not 'abc'"),
    ("mqtt://broker:", "an empty port"),
    ("mqtt://:1883", "no host"),
    ("mqtt://", "no host"),
    ("mqtt://bro ker", "is not a host name"),
    ("mqtt://broker/topic", "no path"),
    ("mqtt://broker?x=1", "no path"),
    ("mqtt://:secret@broker", "an empty user name"),
    ("", "an empty URL"),
    ("   ", "an empty URL"),
])
def test_bad_urls_are_a_clear_error_naming_the_source(config, url, words):
    with pytest.raises(ConfigError) as err:
        apply_mqtt_url(config, url, "STAIRRIG_MQTT_URL")
    message = str(err.value)
    assert message.startswith("STAIRRIG_MQTT_URL: ")
    assert words in message


def test_an_error_never_repeats_the_password(config):
    with pytest.raises(ConfigError) as err:
        apply_mqtt_url(config, "mqtt://user:hunter2@broker:70000", "--mqtt")
    assert "hunter2" not in str(err.value) and "user:***@broker" in str(err.value)


def test_the_environment_variable(config):
    assert mqtt_url_from_env(config, {}) is config
    assert mqtt_url_from_env(config, {"STAIRRIG_MQTT_URL": "  "}) is config
    out = mqtt_url_from_env(config, {"STAIRRIG_MQTT_URL": "mqtts://u:p@envhost:8884"})
    assert (out.mqtt.host, out.mqtt.port, out.mqtt.tls, out.mqtt.username, out.mqtt.password) == \
        ("envhost", 8884, True, "u", "p")
    with pytest.raises(ConfigError, match=r"^STAIRRIG_MQTT_URL: .*scheme"):
        mqtt_url_from_env(config, {"STAIRRIG_MQTT_URL": "tcp://envhost"})


def test_the_command_line_wins_over_the_environment(config):
    # the order the CLI applies them: the environment, then --mqtt
    out = apply_mqtt_url(mqtt_url_from_env(config, {"STAIRRIG_MQTT_URL": "mqtt://envhost:1"}),
                         "mqtt://clihost:2", "--mqtt")
    assert (out.mqtt.host, out.mqtt.port) == ("clihost", 2)


def test_the_command_line_refuses_a_password_the_environment_may_hold(config):
    with pytest.raises(ConfigError) as err:
        apply_mqtt_url(config, "mqtt://coach:hunter2@broker", "--mqtt", allow_password=False)
    message = str(err.value)
    assert message.startswith("--mqtt: 'mqtt://coach:***@broker': a password on the command line")
    assert "hunter2" not in message
    for way in ("password_file", "password_env", "STAIRRIG_MQTT_URL"):
        assert way in message
    # without the password: the user from the URL, the password from the file's password_env
    m = apply_mqtt_url(config, "mqtt://coach@broker", "--mqtt", allow_password=False).mqtt
    assert (m.username, m.password, m.password_env) == ("coach", None, "RIG_MQTT_PASSWORD")
    # the environment is private to the user: a password there stays allowed
    m = mqtt_url_from_env(config, {"STAIRRIG_MQTT_URL": "mqtt://coach:hunter2@broker"}).mqtt
    assert (m.username, m.password) == ("coach", "hunter2")
