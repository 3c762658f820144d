"""The [adc] table's idle rate: idle_sample_hz and idle_after_s, read from real TOML files."""

from __future__ import annotations

import tomllib
from dataclasses import fields
from pathlib import Path

import pytest

from rig.config import AdcConfig, ConfigError, example_config_path, load_config

BASE = """
[rig]
treads = 2
riser_m = 0.17

[wiring]
"tread.1" = { pin = 5, pull_up = true }
"tread.2" = { pin = 6, pull_up = true }
"rail.left.force" = { adc_channel = 0, scale_n = 200.0 }
"""


def load(tmp_path: Path, adc: str):
    path = tmp_path / "rig.toml"
    path.write_text(BASE + "\n[adc]\n" + adc)
    return load_config(path)


def error(tmp_path: Path, adc: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, adc)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'rig.toml'}: adc."), message
    return message


def test_the_defaults():
    assert AdcConfig() == AdcConfig(spi_port=0, spi_device=0, sample_hz=50.0, idle_sample_hz=2.0, idle_after_s=10.0)


def test_left_out_the_keys_take_their_defaults(tmp_path):
    adc = load(tmp_path, "").adc
    assert (adc.idle_sample_hz, adc.idle_after_s) == (2.0, 10.0)


def test_the_keys_are_read(tmp_path):
    adc = load(tmp_path, "sample_hz = 100\nidle_sample_hz = 5\nidle_after_s = 30.5\n").adc
    assert adc == AdcConfig(sample_hz=100.0, idle_sample_hz=5.0, idle_after_s=30.5)
    assert isinstance(adc.idle_sample_hz, float) and isinstance(adc.idle_after_s, float)


@pytest.mark.parametrize("adc, idle_sample_hz", [
    ("idle_sample_hz = 0.5\n", 0.5),                         # the lowest
    ("sample_hz = 20\nidle_sample_hz = 20\n", 20.0),         # = sample_hz: the idle rate is off
    ("sample_hz = 1\n", 1.0),                                # left out, sample_hz below 2 Hz: no idle rate
    ("sample_hz = 1.5\n", 1.5),                              # (a file valid before the key existed stays valid)
    ("sample_hz = 1\nidle_sample_hz = 0.5\n", 0.5),
])
def test_idle_sample_hz_from_half_a_hertz_to_sample_hz(tmp_path, adc, idle_sample_hz):
    assert load(tmp_path, adc).adc.idle_sample_hz == idle_sample_hz


@pytest.mark.parametrize("adc, expected", [
    ("idle_sample_hz = 0.4\n", ("adc.idle_sample_hz: must be in [0.5, 50] (at most adc.sample_hz; "
                                "idle_sample_hz = sample_hz turns the idle rate off), not 0.4")),
    ("idle_sample_hz = 0\n", "adc.idle_sample_hz: must be in [0.5, 50]"),
    ("idle_sample_hz = -2\n", "adc.idle_sample_hz: must be in [0.5, 50]"),
    ("sample_hz = 10\nidle_sample_hz = 12\n", ("adc.idle_sample_hz: must be in [0.5, 10] (at most adc.sample_hz; "
                                               "idle_sample_hz = sample_hz turns the idle rate off), not 12")),
    ("sample_hz = 1\nidle_sample_hz = 2\n", "adc.idle_sample_hz: must be in [0.5, 1] "),
    ("idle_sample_hz = true\n", "adc.idle_sample_hz: must be a number in [0.5, 50], not a boolean"),
    ('idle_sample_hz = "2"\n', "adc.idle_sample_hz: must be a number in [0.5, 50], not a string"),
    ("idle_sample_hz = nan\n", "adc.idle_sample_hz: must be a finite number in [0.5, 50], not nan"),
    ("idle_sample_hz = inf\n", "adc.idle_sample_hz: must be a finite number in [0.5, 50], not inf"),
    ("idle_after_s = 0.5\n", "adc.idle_after_s: must be in [1, 3600], not 0.5"),
    ("idle_after_s = 3601\n", "adc.idle_after_s: must be in [1, 3600], not 3601"),
    ("idle_after_s = -10\n", "adc.idle_after_s: must be in [1, 3600], not -10"),
    ("idle_after_s = false\n", "adc.idle_after_s: must be a number in [1, 3600], not a boolean"),
    ("idle_after_s = [10]\n", "adc.idle_after_s: must be a number in [1, 3600], not a list"),
    ("idle_sample_rate = 2\n", ("adc.idle_sample_rate: unknown key (expected one of: spi_port, spi_device, "
                                "sample_hz, idle_sample_hz, idle_after_s); did you mean 'idle_sample_hz'?")),
    ("idle_after = 10\n", "did you mean 'idle_after_s'?"),
])
def test_mistakes_name_the_key(tmp_path, adc, expected):
    assert expected in error(tmp_path, adc)


@pytest.mark.parametrize("idle_after_s", [1, 3600, 1.0, 600])
def test_idle_after_s_from_one_second_to_an_hour(tmp_path, idle_after_s):
    assert load(tmp_path, f"idle_after_s = {idle_after_s}\n").adc.idle_after_s == float(idle_after_s)


def test_a_wrong_sample_hz_is_reported_before_the_idle_rate(tmp_path):
    assert "adc.sample_hz: must be in [1, 1000], not 0.5" in error(tmp_path, "sample_hz = 0.5\nidle_sample_hz = 9\n")


def test_the_table_is_checked_on_a_rig_without_force_channels(tmp_path):
    path = tmp_path / "rig.toml"
    path.write_text(BASE.replace('"rail.left.force" = { adc_channel = 0, scale_n = 200.0 }\n', "")
                    + "\n[adc]\nidle_after_s = 0\n")
    with pytest.raises(ConfigError, match=r"adc\.idle_after_s: must be in \[1, 3600\], not 0"):
        load_config(path)


def test_the_example_lists_every_adc_key_with_its_default():
    with open(example_config_path(), "rb") as stream:
        adc = tomllib.load(stream)["adc"]
    assert adc == {f.name: getattr(AdcConfig(), f.name) for f in fields(AdcConfig)}
    assert load_config(example_config_path()).adc == AdcConfig()
