"""Force channels on an HX711 (``hx711 = { dout, sck, rate_hz }``) and the pins the Pi keeps
(I2C's BCM 2 and 3), read from real TOML files; check-config's own words."""

from __future__ import annotations

from pathlib import Path

import pytest

from rig.config import AnalogWiring, ConfigError, Hx711Wiring, load_config
from rig.config.load import check_config_main

BASE = """
[rig]
treads = 2
riser_m = 0.17

[wiring]
"tread.1" = { pin = 5, pull_up = true }
"tread.2" = { pin = 6, pull_up = true }
"""


def load(tmp_path: Path, wiring: str, extra: str = ""):
    path = tmp_path / "rig.toml"
    path.write_text(BASE + wiring + extra)
    return load_config(path)


def error(tmp_path: Path, wiring: str, extra: str = "") -> str:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, wiring, extra)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'rig.toml'}: "), message
    return message


def test_an_hx711_channel_is_read(tmp_path):
    config = load(tmp_path, '"rail.left.force" = { hx711 = { dout = 23, sck = 24, rate_hz = 80 }, '
                            'zero_offset = 0.5012, scale_n = 1532.0 }\n')
    assert config.wiring["rail.left.force"] == AnalogWiring(
        "rail.left.force", adc_channel=None, zero_offset=0.5012, scale_n=1532.0,
        hx711=Hx711Wiring(dout=23, sck=24, rate_hz=80))


def test_its_defaults_are_10_hz_and_a_zero_at_0_v(tmp_path):
    wire = load(tmp_path, '"rail.left.force" = { hx711 = { dout = 23, sck = 24 }, scale_n = 1532.0 }\n'
                ).wiring["rail.left.force"]
    assert (wire.hx711.rate_hz, wire.zero_offset) == (10, 0.5)


def test_an_hx711_rig_leaves_the_spi_pins_free(tmp_path):
    # no MCP3008 wired: BCM 9, 10 and 11 are ordinary pins
    load(tmp_path, '"rail.left.force" = { hx711 = { dout = 9, sck = 10 }, scale_n = 1532.0 }\n'
                   '"rail.left.touch" = { pin = 11, active_state = true }\n')


def test_mixed_with_the_mcp3008(tmp_path):
    config = load(tmp_path, '"rail.left.force" = { hx711 = { dout = 23, sck = 24 }, scale_n = 1532.0 }\n'
                            '"rail.right.force" = { adc_channel = 0, scale_n = 200.0 }\n')
    assert config.wiring["rail.right.force"].hx711 is None and config.adc is not None
    message = error(tmp_path, '"rail.left.force" = { hx711 = { dout = 10, sck = 24 }, scale_n = 1532.0 }\n'
                              '"rail.right.force" = { adc_channel = 0, scale_n = 200.0 }\n')
    assert message.endswith('wiring."rail.left.force".hx711.dout: pin 10 is used by the MCP3008\'s SPI bus '
                            '(MOSI); choose another pin')


@pytest.mark.parametrize("wiring, expected", [
    ('"rail.left.force" = { hx711 = { dout = 5, sck = 24 }, scale_n = 1532.0 }\n',
     'wiring."rail.left.force".hx711.dout: pin 5 is already used by "tread.1"; each HX711 needs its own two pins'),
    ('"rail.left.force" = { hx711 = { dout = 23, sck = 24 }, scale_n = 1532.0 }\n'
     '"rail.right.force" = { hx711 = { dout = 25, sck = 24 }, scale_n = 1532.0 }\n',
     'wiring."rail.right.force".hx711.sck: pin 24 is already used by "rail.left.force (sck)"; '
     'each HX711 needs its own two pins'),
    ('"rail.left.force" = { hx711 = { dout = 23, sck = 23 }, scale_n = 1532.0 }\n',
     'wiring."rail.left.force".hx711.sck: DOUT and PD_SCK need two pins, not both 23'),
    ('"rail.left.force" = { hx711 = { dout = 23, sck = 24, rate_hz = 40 }, scale_n = 1532.0 }\n',
     'wiring."rail.left.force".hx711.rate_hz: must be 10 or 80 (the HX711\'s rates: its RATE pin to ground '
     'is 10, to VCC 80), not 40'),
    ('"rail.left.force" = { hx711 = { dout = 23, sck = 24, rate_hz = 80 }, scale_n = 1532.0 }\n'
     '"rail.right.force" = { hx711 = { dout = 25, sck = 26 }, scale_n = 1532.0 }\n',
     'wiring."rail.right.force".hx711.rate_hz: the HX711s of a rig are read together, at one rate: 10 here '
     'but 80 on "rail.left.force"; wire every board\'s RATE pin alike'),
    ('"rail.left.force" = { hx711 = { dout = 23 }, scale_n = 1532.0 }\n',
     'wiring."rail.left.force".hx711.sck: is required'),
    ('"rail.left.force" = { hx711 = { dout = 23, sck = 24, gain = 64 }, scale_n = 1532.0 }\n',
     'wiring."rail.left.force".hx711.gain: unknown key (expected one of: dout, sck, rate_hz)'),
    ('"rail.left.force" = { hx711 = { dout = 28, sck = 24 }, scale_n = 1532.0 }\n',
     'wiring."rail.left.force".hx711.dout: must be from 0 to 27, not 28'),
    ('"rail.left.force" = { hx711 = { dout = 1, sck = 24 }, scale_n = 1532.0 }\n',
     'wiring."rail.left.force".hx711.dout: pin 1 (ID_SC) is reserved for the HAT ID EEPROM; choose another pin'),
    ('"rail.left.force" = { hx711 = 23, scale_n = 1532.0 }\n',
     'wiring."rail.left.force".hx711: must be a table, not a whole number'),
    ('"rail.left.force" = { hx711 = { dout = 23, sck = 24 }, adc_channel = 0, scale_n = 1532.0 }\n',
     'wiring."rail.left.force".hx711: give either adc_channel (an MCP3008 input) or hx711 (the amplifier\'s '
     'own two pins), not both'),
    ('"rail.left.force" = { hx711 = { dout = 23, sck = 24 } }\n',
     'wiring."rail.left.force".scale_n: is required'),
    ('"rail.left.touch" = { hx711 = { dout = 23, sck = 24 } }\n',
     'wiring."rail.left.touch".hx711: rail.left.touch is a digital channel on a GPIO pin'),
])
def test_bad_hx711_wiring_is_named(tmp_path, wiring, expected):
    message = error(tmp_path, wiring)
    assert expected in message, message


@pytest.mark.parametrize("wiring, extra, key, pin", [
    ('"rail.left.touch" = { pin = 2, active_state = true }\n', "", 'wiring."rail.left.touch".pin', 2),
    ('"rail.left.touch" = { pin = 3, active_state = true }\n', "", 'wiring."rail.left.touch".pin', 3),
    ('"rail.left.force" = { hx711 = { dout = 2, sck = 24 }, scale_n = 1532.0 }\n', "",
     'wiring."rail.left.force".hx711.dout', 2),
    ("", "\n[buzzer]\npin = 3\n", "buzzer.pin", 3),
])
def test_the_i2c_pins_are_refused_with_the_reason(tmp_path, wiring, extra, key, pin):
    message = error(tmp_path, wiring, extra)
    name = {2: "SDA", 3: "SCL"}[pin]
    assert message.endswith(f"{key}: pin {pin} is I2C {name}, which the Pi keeps for I2C devices (it has a "
                            f"fixed 1.8 kOhm pull-up to 3.3 V on the board); choose another pin"), message


def test_check_config_says_ok_for_an_hx711_rig_and_names_a_bad_pin(tmp_path, capsys):
    path = tmp_path / "rig.toml"
    path.write_text(BASE + '"rail.left.force" = { hx711 = { dout = 23, sck = 24 }, scale_n = 1532.0 }\n')
    assert check_config_main(str(path)) == 0
    assert capsys.readouterr().out == f"{path}: OK — flight of 2 treads, rails left (force); 3 channels wired\n"
    path.write_text(BASE.replace("pin = 6", "pin = 3"))
    assert check_config_main(str(path)) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith(f'{path}: wiring."tread.2".pin: pin 3 is I2C SCL')
    assert "Traceback" not in captured.err
