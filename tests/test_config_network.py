"""The [mqtt] and [web] tables, and the buzzer's pin against the others."""

from __future__ import annotations

import pytest

from rig.config import MqttConfig, WebConfig, example_config_path, load_config

from tests.test_config import config_text, error, write


def test_defaults_without_the_tables(tmp_path):
    config = load_config(write(tmp_path, config_text()))
    assert config.mqtt == MqttConfig()
    assert config.mqtt.host is None and config.mqtt.effective_port == 1883
    assert config.web == WebConfig() and (config.web.host, config.web.port) == ("0.0.0.0", 8080)
    assert config.buzzer is None


def test_the_example_documents_every_key():
    text = open(example_config_path()).read()

    def section(header: str) -> str:
        start = text.index(header)
        end = text.find("\n[", start + len(header))
        return text[start:end if end != -1 else None]

    for header, keys in (("[mqtt]", MqttConfig.__dataclass_fields__.keys() - {"password"}),
                         ("[web]", WebConfig.__dataclass_fields__.keys()),
                         ("# [buzzer]", ("pin", "kind", "active_high"))):
        body = section(header)
        for key in keys:
            assert f"{key} =" in body, (header, key)
    config = load_config(example_config_path())
    assert config.mqtt.host is None and config.web.enabled


def test_a_full_mqtt_table(tmp_path):
    (tmp_path / "ca.pem").write_text("x")
    config = load_config(write(tmp_path, config_text(
        '[mqtt]\nhost = "broker.lan"\ntls = true\nca_file = "ca.pem"\nusername = "rig"\n'
        'password_env = "RIG_PW"\nclient_id = "rig-1"\nbase_topic = "home/stairs"\n'
        'discovery_prefix = "ha"\ndiscovery = "entity"\ndevice_id = "stairs_1"\nstate_max_hz = 2\n')))
    m = config.mqtt
    assert (m.host, m.effective_port, m.tls, m.username, m.password_env) == ("broker.lan", 8883, True, "rig", "RIG_PW")
    assert m.ca_file == str(tmp_path / "ca.pem")   # relative to the file, like data_dir
    assert (m.base_topic, m.discovery_prefix, m.discovery, m.device_id, m.state_max_hz) == (
        "home/stairs", "ha", "entity", "stairs_1", 2.0)


@pytest.mark.parametrize("table, key, expected", [
    ('[mqtt]\nport = 0\n', "mqtt.port", "must be from 1 to 65535"),
    ('[mqtt]\nport = "1883"\n', "mqtt.port", "whole number"),
    ('[mqtt]\nhost = ""\n', "mqtt.host", "must not be empty"),
    ('[mqtt]\ntls = "yes"\n', "mqtt.tls", "true or false"),
    ('[mqtt]\nbase_topic = "stairrig/#"\n', "mqtt.base_topic", "must be a topic"),
    ('[mqtt]\nbase_topic = "/stairrig"\n', "mqtt.base_topic", "must not start or end"),
    ('[mqtt]\nbase_topic = "a//b"\n', "mqtt.base_topic", "empty level"),
    ('[mqtt]\ndiscovery_prefix = "home assistant"\n', "mqtt.discovery_prefix", "must be a topic"),
    ('[mqtt]\ndiscovery = "auto"\n', "mqtt.discovery", "device, entity, none"),
    ('[mqtt]\ndevice_id = "my rig"\n', "mqtt.device_id", "letters, digits"),
    ('[mqtt]\nclient_id = "a b"\n', "mqtt.client_id", "letters, digits"),
    ('[mqtt]\npassword_env = "1PW"\n', "mqtt.password_env", "environment variable"),
    ('[mqtt]\npassword_file = "pw"\npassword_env = "PW"\n', "mqtt.password_env", "not both"),
    ('[mqtt]\nstate_max_hz = 100\n', "mqtt.state_max_hz", "must be in"),
    ('[mqtt]\nqueue_limit = 5\n', "mqtt.queue_limit", "must be from 10"),
    ('[mqtt]\npassword = "secret"\n', "mqtt.password", "unknown key"),
    ('[web]\nport = 70000\n', "web.port", "must be from 0 to 65535"),
    ('[web]\npin = 4711\n', "web.pin", "in quotes"),
    ('[web]\npin = "12ab"\n', "web.pin", "4 to 12 digits"),
    ('[web]\npin = "123"\n', "web.pin", "4 to 12 digits"),
    ('[web]\nunits = "furlongs"\n', "web.units", "metric, imperial"),
    ('[web]\nthreads = 2\n', "web.threads", "must be from 4"),
    ('[web]\nhost = ""\n', "web.host", "must not be empty"),
    ('[web]\nprot = 8080\n', "web.prot", "did you mean 'port'"),
    ('[buzzer]\nkind = "buzzer"\n', "buzzer.pin", "is required"),
    ('[buzzer]\npin = 1\n', "buzzer.pin", "HAT ID EEPROM"),
    ('[buzzer]\npin = 5\n', "buzzer.pin", 'already used by "tread.1"'),
])
def test_bad_values_name_their_key(tmp_path, table, key, expected):
    message = error(tmp_path, config_text(table))
    assert f": {key}: " in message and expected in message, message


def test_the_buzzer_keeps_off_the_adc_bus(tmp_path):
    message = error(tmp_path, config_text('[buzzer]\npin = 10\n',
                                          wiring='"rail.left.force" = { adc_channel = 0, scale_n = 500.0 }\n'))
    assert ": buzzer.pin: pin 10 is used by the MCP3008's SPI bus (MOSI)" in message
