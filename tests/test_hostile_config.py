"""Hostile configurations: every number bounded, one clear message, never a traceback.

A billion treads, 1e999, a 5,001-digit number, lists nested 5,000 deep, a
file of a megabyte and more, a panel host that does not exist: each is one
message naming the file and the key (or line), from the library and from
``stairrig check-config`` and ``stairrig run`` as a user runs them.
"""

from __future__ import annotations

import copy
import subprocess
import sys
import tomllib

import pytest

from rig.config import ConfigError, check_web_host, example_config_path, load_config, parse_config
from rig.limits import DETECTION_MAX, MAX_CONFIG_BYTES, MAX_TREADS
from rig.settings import DetectionSettings
from tests.test_config import config_text, error, write

HUGE = (10**12, 1e300, float("inf"), 10**4000)


def stairrig(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    import os
    return subprocess.run([sys.executable, "-m", "rig", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "GPIOZERO_PIN_FACTORY": "mock", **(env or {})})


def full_example() -> dict:
    """The example with every optional numeric key given (planned_flights, the MQTT port, a buzzer)."""
    data = tomllib.loads(open(example_config_path()).read())
    data["drill"]["planned_flights"] = 4
    data["mqtt"]["port"] = 1883
    data["buzzer"] = {"pin": 18}
    return data


def numeric_keys(data: dict, path: tuple = ()) -> list[tuple[str, ...]]:
    out = []
    for key, value in data.items():
        if isinstance(value, dict):
            out += numeric_keys(value, (*path, key))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out.append((*path, key))
    return out


KEYS = numeric_keys(full_example())


def test_the_example_has_the_numbers_we_think():
    assert len(KEYS) > 40   # every detection setting, the ADC, history, MQTT, web, wiring...
    assert ("rig", "treads") in KEYS and ("wiring", "rail.left.force", "scale_n") in KEYS
    assert {k[1] for k in KEYS if k[0] == "detection"} == set(DetectionSettings.names())


@pytest.mark.parametrize("key", KEYS, ids=".".join)
def test_every_number_has_an_upper_bound(key):
    """Each numeric key, set far too large, is refused with a message naming the key and its range."""
    for huge in HUGE:
        data = full_example()
        table = data
        for part in key[:-1]:
            table = table[part]
        table[key[-1]] = huge
        with pytest.raises(ConfigError) as info:
            parse_config(copy.deepcopy(data), "rig.toml")
        message = str(info.value)
        shown = ".".join(f'"{p}"' if "." in p else p for p in key)
        assert message.startswith(f"rig.toml: {shown}: "), message
        assert len(message) < 300, message          # a 4,000-digit number is not echoed
        if key[0] in ("rig", "adc", "history", "mqtt", "web", "athlete", "drill", "detection") \
                and key[-1] not in ("spi_port",):
            assert any(w in message for w in (" in [", " in (", " from ", "at most")), message


def test_a_billion_treads(tmp_path):
    text = config_text().replace("treads = 2", "treads = 1000000000")
    message = error(tmp_path, text)
    assert message.endswith(f"rig.treads: must be from 1 to {MAX_TREADS}, not 1000000000")
    done = stairrig("check-config", str(write(tmp_path, text)))
    assert done.returncode == 1 and "rig.treads: must be from 1 to 64" in done.stderr


@pytest.mark.parametrize("name", sorted(DETECTION_MAX))
def test_detection_settings_have_their_bound(tmp_path, name):
    top = DETECTION_MAX[name]
    message = error(tmp_path, config_text(f"[detection]\n{name} = {top * 10}\n"))
    assert f"detection.{name}: must be in (0, {top:g}], not " in message


@pytest.mark.parametrize("text, key, words", [
    ("[athlete]\nweight_kg = 1e999\n", "athlete.weight_kg", "must be a finite number in [20, 300], not inf"),
    ("[drill]\nplanned_flights = 1e999\n", "drill.planned_flights", "must be a whole number from 1 to 200, not inf"),
    ("[web]\nport = 1e999\n", "web.port", "must be a whole number from 0 to 65535, not inf"),
    ("[web]\nport = 8080.0\n", "web.port", "must be a whole number from 0 to 65535, not 8080.0"),
    ("[drill]\nplanned_flights = " + "9" * 4000 + "\n", "drill.planned_flights",
     "must be from 1 to 200, not a whole number of 4000 digits"),
    ("[mqtt]\nqueue_limit = 1000000\n", "mqtt.queue_limit", "must be from 10 to 100000, not 1000000"),
    ("[history]\nidle_end_s = -1e999\n", "history.idle_end_s", "must be a finite number in [5, 86400], not -inf"),
    ("[service]\ndata_dir = \"/tmp/a\\u0000b\"\n", "service.data_dir", "NUL"),
    ("[mqtt]\nusername = \"" + "u" * 300 + "\"\n", "mqtt.username", "at most 256 characters, not 300"),
    ("[mqtt]\nhost = \"broker lan\"\n", "mqtt.host", "a host name or an IP address"),
    ("[web]\nhost = \"no such host\"\n", "web.host", "must be an IP address of this machine"),
    ("[web]\nallowed_hosts = [" + ", ".join(['"a.lan"'] * 65) + "]\n", "web.allowed_hosts", "at most 64"),
])
def test_clear_messages_with_the_range(tmp_path, text, key, words):
    message = error(tmp_path, config_text(text))
    assert f": {key}: " in message and words in message, message
    assert "Exceeds the limit" not in message and len(message) < 400


def test_scale_n_is_bounded_both_ways(tmp_path):
    for value in ("1e7", "-1e7"):
        message = error(tmp_path, config_text(wiring=f'"rail.left.force" = {{ adc_channel = 0, scale_n = {value} }}\n'))
        assert 'wiring."rail.left.force".scale_n: must be in [-100000, 100000]' in message, message


def test_a_number_past_pythons_digit_limit_names_the_line(tmp_path):
    text = config_text("[drill]\nplanned_flights = " + "9" * 5001 + "\n")
    line = text.split("\n").index("planned_flights = " + "9" * 5001) + 1
    message = error(tmp_path, text)
    assert f": line {line}: planned_flights = a whole number of more than 4300 digits" in message, message
    assert "sys.set_int_max_str_digits" not in message and "999999" not in message
    done = stairrig("check-config", str(write(tmp_path, text)))
    assert done.returncode == 1 and f"line {line}" in done.stderr and "Traceback" not in done.stderr


def test_lists_nested_five_thousand_deep(tmp_path):
    text = config_text() + "\n[athlete]\nx = " + "[" * 5000 + "]" * 5000 + "\n"
    message = error(tmp_path, text)
    line = text.split("\n").index("x = " + "[" * 5000 + "]" * 5000) + 1
    assert f": line {line}: values nested 5000 deep" in message, message[:200]
    done = stairrig("check-config", str(write(tmp_path, text)))
    assert done.returncode == 1 and f"line {line}: values nested" in done.stderr
    assert "Traceback" not in done.stderr and "RecursionError" not in done.stderr


def test_nesting_found_outside_strings_and_comments(tmp_path):
    # brackets in strings and comments do not count; inline tables do
    text = (config_text() + '\n[athlete]\nname = "[[[[[["  # [[[[[[[[\n'
            + "y = " + "{a = " * 3000 + "1" + "}" * 3000 + "\n")
    message = error(tmp_path, text)
    assert ": line 12: values nested 3000 deep" in message, message[:200]


def test_a_file_too_large_or_endless(tmp_path):
    big = tmp_path / "big.toml"
    big.write_bytes(b"# " + b"x" * MAX_CONFIG_BYTES + b"\n")
    with pytest.raises(ConfigError, match=r"big.toml: larger than 1 MB: not a configuration file"):
        load_config(big)
    done = stairrig("check-config", "/dev/zero")
    assert done.returncode == 1 and done.stderr.startswith("/dev/zero: larger than 1 MB"), done.stderr


def test_binary_and_folders(tmp_path):
    (tmp_path / "bin.toml").write_bytes(b"[rig]\ntreads = 2\n\xff\xfe\n")
    with pytest.raises(ConfigError, match=r"bin.toml: line 3: not a text file"):
        load_config(tmp_path / "bin.toml")
    with pytest.raises(ConfigError, match=r"a folder, not a configuration file"):
        load_config(tmp_path)


# -- [web] host ------------------------------------------------------------

def test_the_panel_host_resolves_and_belongs_to_this_machine(tmp_path):
    for host in ("0.0.0.0", "127.0.0.1", "localhost", "::1"):
        try:
            check_web_host(load_config(write(tmp_path, config_text(f'[web]\nhost = "{host}"\n'))))
        except ConfigError as exc:   # a machine without IPv6
            assert host == "::1" and "cannot listen" in str(exc)
    with pytest.raises(ConfigError) as info:
        check_web_host(load_config(write(tmp_path, config_text('[web]\nhost = "nosuchhost.invalid"\n'))))
    assert str(info.value).startswith(f"{tmp_path / 'rig.toml'}: web.host: cannot resolve 'nosuchhost.invalid'")
    with pytest.raises(ConfigError, match=r"web.host: the panel cannot listen on '192.0.2.1'"):
        check_web_host(load_config(write(tmp_path, config_text('[web]\nhost = "192.0.2.1"\n'))))
    # the panel off: nothing to listen on, nothing to check
    check_web_host(load_config(write(tmp_path, config_text('[web]\nenabled = false\nhost = "192.0.2.1"\n'))))


def test_check_config_and_run_refuse_a_host_they_cannot_listen_on(tmp_path):
    text = open(example_config_path()).read().replace('host = "0.0.0.0"', 'host = "nosuchhost.invalid"')
    assert 'host = "nosuchhost.invalid"' in text
    path = write(tmp_path, text)
    done = stairrig("check-config", str(path))
    assert done.returncode == 1 and "web.host: cannot resolve 'nosuchhost.invalid'" in done.stderr, done.stderr
    done = stairrig("run", "--config", str(path))
    assert done.returncode == 1, done.stderr
    assert "stairrig run: " in done.stderr and "web.host: cannot resolve" in done.stderr
    assert "Traceback" not in done.stderr and "ValueError" not in done.stderr


# -- the documented bounds are the code's --------------------------------------

def documented_bounds() -> list[tuple[str, float]]:
    """(key, upper bound) for each key of docs/configuration.md's table of bounds."""
    from pathlib import Path
    import re
    text = (Path(__file__).parents[1] / "docs" / "configuration.md").read_text()
    section = text[text.index("## Bounds"):text.index("## Wiring")]
    out = []
    rows = re.findall(r"^\| (`[^|]+`) \| [-0-9.]+(?: \(excluded\))? to ([0-9.]+)( \(excluded\))?", section, re.M)
    for keys, high, open_end in rows:
        out += [(key, float(high), bool(open_end)) for key in re.findall(r"`([a-z_.*]+)`", keys)]
    return out


def test_the_documented_table_of_bounds_is_whole():
    keys = {key for key, _, _ in documented_bounds()}
    expected = {".".join(k) for k in KEYS if k[0] != "wiring"} - {"adc.idle_sample_hz"}
    expected |= {"wiring.*.pin", "wiring.*.adc_channel", "wiring.*.zero_offset", "wiring.*.scale_n"}
    assert keys == expected


@pytest.mark.parametrize("key, high, open_end", documented_bounds(), ids=lambda x: str(x))
def test_the_documented_upper_bounds_are_the_codes(key, high, open_end):
    parts = key.replace("wiring.*.", "wiring.@.").split(".")
    channel = "rail.left.force" if parts[-1] in ("adc_channel", "zero_offset", "scale_n") else "tread.1.front"
    path = [channel if p == "@" else p for p in parts]
    # the top itself, or just below it when it is excluded or an "on" threshold's top bounds an "off" one
    top = high * 0.999 if open_end or key.endswith("_off_n") else int(high) if high == int(high) else high
    for value, ok in ((top, True), (high + 1, False)):
        data = full_example()
        table = data
        for part in path[:-1]:
            table = table[part]
        table[path[-1]] = value
        if key.endswith("_off_n"):   # off must stay below on
            data["detection"][key.split(".")[1].replace("_off_n", "_on_n")] = 5000.0
        if key == "buzzer.pin":
            data["wiring"]["rail.right.touch"]["pin"] = 22   # free BCM 27 for the buzzer
        if key == "wiring.*.pin":
            data["buzzer"]["pin"] = 22
            data["wiring"]["rail.right.touch"]["pin"] = 18
        try:
            parse_config(data, "rig.toml")
            refused = None
        except ConfigError as exc:
            refused = str(exc)
        shown = ".".join(f'"{p}"' if "." in p else p for p in path)
        if ok:
            assert refused is None or f": {shown}: " not in refused, refused
        else:
            assert refused is not None and f": {shown}: " in refused, (key, refused)
            assert f"{high:g}" in refused, refused
