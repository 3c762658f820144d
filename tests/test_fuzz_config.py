"""Fuzzing the configuration: whatever the file holds, one ConfigError or a configuration.

Hypothesis builds configurations three ways: the example with values
replaced by anything TOML can hold (huge, infinite, nested, wrongly typed,
unknown keys), written out as TOML text and loaded as ``check-config`` loads
a file; the same dicts straight into ``parse_config``; and the example's text
with random text spliced in. Whatever comes in, the only exception is
:class:`ConfigError`, its message one short line naming the file, never a
traceback, control characters escaped; a configuration that loads is usable (``describe_rig``).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
import os
import tomllib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rig.config import ConfigError, describe_rig, example_config_path, load_config, parse_config
from rig.config.wiring import _ANALOG_KEYS, _DIGITAL_KEYS
from tests.test_hostile_config import full_example

EXAMPLE_TEXT = open(example_config_path()).read()
EXAMPLE = full_example()
# STAIRRIG_FUZZ_EXAMPLES=5000 for a longer hunt than the test suite's
FUZZ = settings(max_examples=int(os.environ.get("STAIRRIG_FUZZ_EXAMPLES", "150")), deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                         HealthCheck.function_scoped_fixture])
MAX_MESSAGE_CHARS = 600

KNOWN_KEYS = sorted({key for table in EXAMPLE.values() if isinstance(table, dict) for key in table}
                    | set(_ANALOG_KEYS) | set(_DIGITAL_KEYS) | {"planned_flights", "pin_factory", "password_env",
                                                                  "password_file", "host", "pin", "cues"})

scalars = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([0, 1, -1, 2, 64, 65, 10**9, 10**18, 10**300, -(10**300), 10**4000]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=30),
    st.sampled_from(["", " ", "\0", "front", "back", "grab", "0.0.0.0", "no such host", "x" * 5000, "1883",
                     "[fd00::1]", "éé", "\x1b[31m"]),
    st.dates(), st.times(), st.datetimes(),
)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.sampled_from(KNOWN_KEYS) | st.text(max_size=8), inner, max_size=4)), max_leaves=12)


def key_paths(data: dict, path: tuple = ()) -> list[tuple]:
    out = []
    for key, value in data.items():
        out.append((*path, key))
        if isinstance(value, dict):
            out += key_paths(value, (*path, key))
    return out


PATHS = key_paths(EXAMPLE)


@st.composite
def mutated_configs(draw) -> dict:
    """The example with a few changes: a value replaced, a key removed or added anywhere."""
    data = copy.deepcopy(EXAMPLE)
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(PATHS))
        parent = data
        for part in path[:-1]:
            parent = parent.get(part) if isinstance(parent, dict) else None
        if not isinstance(parent, dict):
            continue
        action = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(values)
        elif action == "delete":
            parent.pop(path[-1], None)
        else:
            parent[draw(st.sampled_from(KNOWN_KEYS) | st.text(min_size=1, max_size=10))] = draw(values)
    return data


# -- a small TOML writer, enough for what the strategies make -----------------------
def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value) if abs(value) < 10**4000 else "9" * 4400   # past Python's digit limit
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)   # a JSON string is a TOML basic string
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(type(value))


def toml_text(data: dict) -> str:
    lines = [f"{json.dumps(k)} = {toml_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for name, table in data.items():
        if isinstance(table, dict):
            lines.append(f"[{json.dumps(name)}]")
            lines += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def check_one(load) -> None:
    """``load()`` returns a configuration or raises ConfigError with one short line."""
    try:
        config = load()
    except ConfigError as exc:
        message = str(exc)
        assert not any(ord(c) < 32 or c == "\x7f" for c in message), repr(message)   # escaped, one line
        assert len(message) < MAX_MESSAGE_CHARS, message[:300]
        assert "Traceback" not in message
        return
    assert describe_rig(config)


def test_the_writer_round_trips_the_example(tmp_path):
    assert tomllib.loads(toml_text(EXAMPLE)) == EXAMPLE
    check_one(lambda: load_config(_write(tmp_path, toml_text(EXAMPLE))))


def _write(tmp_path, text: str):
    path = tmp_path / "rig.toml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    return path


@FUZZ
@given(data=mutated_configs())
def test_parse_config_raises_only_config_error(data):
    check_one(lambda: parse_config(data, "rig.toml"))


@FUZZ
@given(data=mutated_configs())
def test_a_generated_file_loads_or_says_why(tmp_path, data):
    try:
        text = toml_text(data)
        text.encode("utf-8")
    except (TypeError, UnicodeEncodeError):
        return   # a lone surrogate: not a string a TOML file can hold
    check_one(lambda: load_config(_write(tmp_path, text)))


@FUZZ
@given(cut=st.integers(0, len(EXAMPLE_TEXT)), drop=st.integers(0, 40),
       insert=st.text(max_size=60) | st.sampled_from(["[", "]]]]", "{", "= 1e999", "treads = 10000000000",
                                                      "x = " + "[" * 3000, '"""', "'", "\\u0000", "\n[rig]\n",
                                                      "= 0x7fffffffffffffffffffff", "= 1979-05-27T07:32:00Z"]))
def test_the_example_with_text_spliced_in(tmp_path, cut, drop, insert):
    text = EXAMPLE_TEXT[:cut] + insert + EXAMPLE_TEXT[cut + drop:]
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return
    check_one(lambda: load_config(_write(tmp_path, text)))


@FUZZ
@given(raw=st.binary(max_size=200))
def test_any_bytes(tmp_path, raw):
    path = tmp_path / "rig.toml"
    path.write_bytes(raw)
    check_one(lambda: load_config(path))
