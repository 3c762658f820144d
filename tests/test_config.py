"""The configuration file: the example, defaults, and one clear message per mistake."""

from __future__ import annotations

import io
import os
import tomllib
from pathlib import Path

import pytest

from rig.config import (
    AdcConfig,
    AnalogWiring,
    AthleteConfig,
    ConfigError,
    DigitalWiring,
    DrillConfig,
    check_config_main,
    example_config_path,
    load_config,
    parse_config,
)
from rig.layout import RigLayout
from rig.settings import DetectionSettings

RIG = """
[rig]
treads = 2
riser_m = 0.17
"""

WIRING = """
[wiring]
"tread.1" = { pin = 5, pull_up = true }
"tread.2" = { pin = 6, pull_up = true }
"""

LEFT_FORCE = '"rail.left.force" = { adc_channel = 0, scale_n = 500.0 }\n'


def write(tmp_path: Path, text: str, name: str = "rig.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def config_text(tables: str = "", wiring: str = "", rig: str = RIG) -> str:
    """A small valid rig (2 plain switch treads) plus extra tables and wiring lines."""
    return rig + tables + WIRING + wiring


def error(tmp_path: Path, text: str) -> str:
    """Load a bad file; return the message after checking that it names the file."""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    assert "Traceback" not in message
    return message


# -- good files ------------------------------------------------------------

def test_example_loads_with_expected_layout_and_wiring():
    path = example_config_path()
    assert os.path.isabs(path) and Path(path).parent == Path(__file__).parents[1] / "rig"
    config = load_config(path)
    assert config.path == path
    assert config.layout == RigLayout(kind="flight", treads=5, riser_m=0.17, tread_sensor="switch", split=True,
                                      rails={"left": ("touch", "force"), "right": ("touch", "force")})
    assert list(config.wiring) == list(config.layout.channels())
    assert len(config.wiring) == 14
    assert config.wiring["tread.1.front"] == DigitalWiring("tread.1.front", pin=4, pull_up=True, active_state=None)
    assert config.wiring["rail.left.touch"] == DigitalWiring("rail.left.touch", pin=17, pull_up=None,
                                                             active_state=True)
    assert config.wiring["rail.right.force"] == AnalogWiring("rail.right.force", adc_channel=1, zero_offset=0.02,
                                                             scale_n=200.0)
    pins = [w.pin for w in config.wiring.values() if isinstance(w, DigitalWiring)]
    assert len(set(pins)) == 12 and not set(pins) & {0, 1, 2, 3, 7, 8, 9, 10, 11, 14, 15, 18, 22, 23, 24, 25}
    assert config.adc == AdcConfig(spi_port=0, spi_device=0, sample_hz=50.0)
    assert config.athlete.weight_kg == 70.0
    assert config.drill == DrillConfig(facing="backward", grip="light")
    assert config.detection == DetectionSettings()
    assert config.data_dir == "/var/lib/stairrig"
    assert config.record_traces is True


def test_example_lists_every_detection_setting_with_its_default():
    with open(example_config_path(), "rb") as stream:
        detection = tomllib.load(stream)["detection"]
    assert detection == {name: getattr(DetectionSettings(), name) for name in DetectionSettings.names()}


def test_missing_tables_take_defaults(tmp_path):
    config = load_config(write(tmp_path, config_text()))
    assert config.rig_id == "stairrig"
    assert config.layout == RigLayout(kind="flight", treads=2, riser_m=0.17)
    assert config.wiring == {"tread.1": DigitalWiring("tread.1", 5, True, None),
                             "tread.2": DigitalWiring("tread.2", 6, True, None)}
    assert config.adc is None  # no force channel
    assert config.athlete == AthleteConfig(name="Athlete", weight_kg=70.0)
    assert config.drill == DrillConfig(facing="backward", grip="light")
    assert config.detection == DetectionSettings()
    assert config.data_dir == "/var/lib/stairrig"
    assert config.pin_factory is None
    assert config.record_traces is True


def test_settings_are_read(tmp_path):
    text = config_text(rig=RIG + 'id = "hall-stairs"\n', tables="""
[athlete]
name = "Ana"
weight_kg = 68
[service]
pin_factory = "mock"
record_traces = false
[adc]
spi_device = 1
sample_hz = 100
[detection]
min_contact_s = 0.12
stall_s = 5
""", wiring=LEFT_FORCE)
    config = load_config(write(tmp_path, text))
    assert config.rig_id == "hall-stairs"
    assert config.athlete == AthleteConfig(name="Ana", weight_kg=68.0)
    assert config.pin_factory == "mock" and config.record_traces is False
    assert config.adc == AdcConfig(spi_port=0, spi_device=1, sample_hz=100.0)
    assert config.detection == DetectionSettings(min_contact_s=0.12, stall_s=5.0)
    assert config.layout.rails == {"left": ("force",)}


def test_relative_data_dir_resolves_against_the_files_folder(tmp_path, monkeypatch):
    monkeypatch.chdir("/")
    folder = tmp_path / "etc"
    folder.mkdir()
    config = load_config(write(folder, config_text('[service]\ndata_dir = "data/sessions"\n')))
    assert config.data_dir == str(folder / "data" / "sessions")


def test_stepper(tmp_path):
    text = config_text(rig='[rig]\nkind = "stepper"\ntreads = 2\nriser_m = 0.2\n')
    config = load_config(write(tmp_path, text))
    assert config.layout.kind == "stepper"
    assert list(config.wiring) == ["tread.1", "tread.2"]


def test_force_treads(tmp_path):
    text = RIG + 'tread_sensor = "force"\n' + """
[wiring]
"tread.1.force" = { adc_channel = 0, zero_offset = 0.02, scale_n = 2000 }
"tread.2.force" = { adc_channel = 1, scale_n = -1500.0 }
"""
    config = load_config(write(tmp_path, text))
    assert config.layout.tread_sensor == "force"
    assert config.wiring["tread.2.force"] == AnalogWiring("tread.2.force", adc_channel=1, zero_offset=0.0,
                                                          scale_n=-1500.0)
    assert config.adc == AdcConfig()
    assert config.wiring["tread.1.force"].to_newtons(0.52) == pytest.approx(1000.0)


def test_parse_config_takes_a_dict():
    config = parse_config({"rig": {"treads": 1, "riser_m": 0.15}, "wiring": {"tread.1": {"pin": 4, "pull_up": False}}})
    assert config.path == "<config>"
    assert config.wiring["tread.1"].pull_up is False
    with pytest.raises(ConfigError, match=r"^<config>: rig\.treads: is required"):
        parse_config({"wiring": {}})


def test_spi_pins_are_free_without_a_force_channel(tmp_path):
    config = load_config(write(tmp_path, config_text(wiring='"rail.left.touch" = { pin = 9, pull_up = false }\n')))
    assert config.wiring["rail.left.touch"].pin == 9 and config.adc is None


# -- unknown keys ----------------------------------------------------------

def test_unknown_top_level_key(tmp_path):
    message = error(tmp_path, config_text("[athlet]\nname = 'Ana'\n"))
    assert ": athlet: unknown key" in message
    assert "did you mean 'athlete'?" in message


def test_unknown_key_in_a_table(tmp_path):
    message = error(tmp_path, config_text(rig=RIG + "treadz = 5\n"))
    assert ": rig.treadz: unknown key (expected one of: id, kind, treads," in message
    assert "did you mean 'treads'?" in message


def test_unknown_key_in_a_wiring_entry(tmp_path):
    message = error(tmp_path, config_text(wiring='"rail.left.touch" = { pin = 17, pullup = true }\n'))
    assert ': wiring."rail.left.touch".pullup: unknown key' in message
    assert "did you mean 'pull_up'?" in message


def test_unquoted_channel_names(tmp_path):
    message = error(tmp_path, RIG + "[wiring]\ntread.1 = { pin = 5, pull_up = true }\n")
    assert ": wiring.tread: channel names contain dots, so quote them" in message


# -- types and ranges ------------------------------------------------------

@pytest.mark.parametrize("tables, rig, key, expected", [
    ("", RIG.replace("treads = 2", 'treads = "two"'), "rig.treads", "whole number from 1 to 64, not a string"),
    ("", RIG.replace("treads = 2", "treads = 2.0"), "rig.treads", "whole number from 1 to 64, not 2.0"),
    ("", RIG.replace("riser_m = 0.17", 'riser_m = "17 cm"'), "rig.riser_m", "must be a number"),
    ("", RIG + 'kind = "escalator"\n', "rig.kind", "flight, stepper"),
    ("", RIG + 'tread_zones = ["front"]\n', "rig.tread_zones", "must be []"),
    ("[athlete]\nname = 5\n", RIG, "athlete.name", "must be a string"),
    ('[drill]\nfacing = "sideways"\n', RIG, "drill.facing", "forward, backward"),
    ('[drill]\ngrip = "tight"\n', RIG, "drill.grip", "firm, light, hover, none"),
    ('[service]\nrecord_traces = "yes"\n', RIG, "service.record_traces", "true or false"),
    ('[service]\npin_factory = "pigpio"\n', RIG, "service.pin_factory", "lgpio, rpigpio, native, mock"),
    ('[service]\ndata_dir = 7\n', RIG, "service.data_dir", "must be a string"),
])
def test_wrong_type(tmp_path, tables, rig, key, expected):
    message = error(tmp_path, config_text(tables, rig=rig))
    assert f": {key}: " in message and expected in message


def test_a_table_given_as_a_value(tmp_path):
    assert ": athlete: must be a table, not a whole number" in error(tmp_path, "athlete = 5\n" + config_text())


@pytest.mark.parametrize("tables, rig, key", [
    ("", RIG.replace("treads = 2", "treads = 0"), "rig.treads"),
    ("", RIG.replace("riser_m = 0.17", "riser_m = 0.6"), "rig.riser_m"),
    ("", RIG.replace("riser_m = 0.17", "riser_m = 0"), "rig.riser_m"),
    ("", RIG.replace("riser_m = 0.17", "riser_m = inf"), "rig.riser_m"),
    ("", RIG + 'id = "hall stairs"\n', "rig.id"),
    ("[athlete]\nweight_kg = 15\n", RIG, "athlete.weight_kg"),
    ("[athlete]\nweight_kg = 301\n", RIG, "athlete.weight_kg"),
    ("[adc]\nsample_hz = 0.5\n", RIG, "adc.sample_hz"),
    ("[adc]\nsample_hz = 2000\n", RIG, "adc.sample_hz"),
    ("[adc]\nspi_device = 2\n", RIG, "adc.spi_device"),
    ("[adc]\nspi_port = 1\n", RIG, "adc.spi_port"),
    ("[detection]\nmin_contact_s = 0\n", RIG, "detection.min_contact_s"),
    ("[detection]\nstall_s = -3\n", RIG, "detection.stall_s"),
    ("[detection]\ngrab_window_s = nan\n", RIG, "detection.grab_window_s"),
])
def test_out_of_range(tmp_path, tables, rig, key):
    assert f": {key}: must" in error(tmp_path, config_text(tables, rig=rig))


def test_stepper_needs_two_pedals(tmp_path):
    message = error(tmp_path, config_text(rig='[rig]\nkind = "stepper"\ntreads = 3\nriser_m = 0.2\n'))
    assert ": rig.treads: a stepper has two pedals: treads must be 2" in message


def test_pin_and_adc_channel_out_of_range(tmp_path):
    assert ': wiring."tread.2".pin: must be from 0 to 27, not 28' in error(
        tmp_path, config_text().replace("pin = 6", "pin = 28"))
    assert ': wiring."rail.left.force".adc_channel: must be from 0 to 7, not 8' in error(
        tmp_path, config_text(wiring=LEFT_FORCE.replace("adc_channel = 0", "adc_channel = 8")))


@pytest.mark.parametrize("tables, wiring, key", [
    ("[detection]\nmin_contact_s = true\n", "", "detection.min_contact_s"),
    ("[athlete]\nweight_kg = true\n", "", "athlete.weight_kg"),
    ("", '"rail.left.touch" = { pin = true, pull_up = true }\n', 'wiring."rail.left.touch".pin'),
    ("", '"rail.left.force" = { adc_channel = 0, scale_n = true }\n', 'wiring."rail.left.force".scale_n'),
])
def test_a_boolean_is_not_a_number(tmp_path, tables, wiring, key):
    message = error(tmp_path, config_text(tables, wiring))
    assert f": {key}: must be a " in message and "not a boolean" in message


def test_force_treads_cannot_be_split(tmp_path):
    message = error(tmp_path, RIG + 'tread_sensor = "force"\ntread_zones = ["front", "back"]\n[wiring]\n')
    assert ": rig.tread_zones: only switch treads can be split" in message


# -- detection thresholds --------------------------------------------------

@pytest.mark.parametrize("detection, key", [
    ("rail_contact_on_n = 0.2\nrail_contact_off_n = 0.2\n", "detection.rail_contact_off_n"),
    ("firm_off_n = 1.5\n", "detection.firm_off_n"),
])
def test_off_threshold_must_be_below_on_threshold(tmp_path, detection, key):
    message = error(tmp_path, config_text("[detection]\n" + detection))
    on_key = key.replace("_off_", "_on_")
    assert f": {key}: must be below {on_key}" in message


def test_tread_force_off_ratio_must_be_a_fraction(tmp_path):
    message = error(tmp_path, config_text("[detection]\ntread_force_off_ratio = 1.0\n"))
    assert ": detection.tread_force_off_ratio: must be below 1" in message


# -- pins --------------------------------------------------------------------

def test_pin_used_twice_names_both_channels(tmp_path):
    message = error(tmp_path, config_text().replace("pin = 6", "pin = 5"))
    assert ': wiring."tread.2".pin: pin 5 is already used by "tread.1"' in message


@pytest.mark.parametrize("pin, role", [(9, "MISO"), (10, "MOSI"), (11, "SCLK"), (8, "CE0")])
def test_pin_clashing_with_the_adc_spi_bus(tmp_path, pin, role):
    wiring = f'"rail.left.touch" = {{ pin = {pin}, active_state = true }}\n' + LEFT_FORCE
    message = error(tmp_path, config_text(wiring=wiring))
    assert f": wiring.\"rail.left.touch\".pin: pin {pin} is used by the MCP3008's SPI bus ({role})" in message


def test_pin_clashing_with_ce1(tmp_path):
    wiring = '"rail.left.touch" = { pin = 7, active_state = true }\n' + LEFT_FORCE
    message = error(tmp_path, config_text("[adc]\nspi_device = 1\n", wiring))
    assert ": wiring.\"rail.left.touch\".pin: pin 7 is used by the MCP3008's SPI bus (CE1)" in message
    # dtparam=spi=on claims both chip selects, so CE0's pin is not free either.
    message = error(tmp_path, config_text("[adc]\nspi_device = 1\n", wiring.replace("pin = 7", "pin = 8")))
    assert "pin 8 is used by the MCP3008's SPI bus (CE0 (claimed by the SPI driver))" in message


@pytest.mark.parametrize("pin, name", [(0, "ID_SD"), (1, "ID_SC")])
def test_id_eeprom_pins_are_rejected(tmp_path, pin, name):
    message = error(tmp_path, config_text().replace("pin = 6", f"pin = {pin}"))
    assert f': wiring."tread.2".pin: pin {pin} ({name}) is reserved for the HAT ID EEPROM' in message


def test_adc_channel_used_twice_names_both_channels(tmp_path):
    wiring = LEFT_FORCE + '"rail.right.force" = { adc_channel = 0, scale_n = 500.0 }\n'
    message = error(tmp_path, config_text(wiring=wiring))
    assert ': wiring."rail.right.force".adc_channel: ADC channel 0 is already used by "rail.left.force"' in message


def test_pull_up_none_needs_active_state(tmp_path):
    message = error(tmp_path, config_text(wiring='"rail.left.touch" = { pin = 17 }\n'))
    assert ': wiring."rail.left.touch": without pull_up' in message and "active_state is required" in message


def test_pull_up_and_active_state_together(tmp_path):
    message = error(tmp_path, config_text(wiring='"rail.left.touch" = { pin = 17, pull_up = true, '
                                                 'active_state = true }\n'))
    assert ': wiring."rail.left.touch".active_state: give either pull_up' in message


# -- channels ------------------------------------------------------------------

def test_tread_without_a_channel(tmp_path):
    message = error(tmp_path, config_text().replace('"tread.2" = { pin = 6, pull_up = true }\n', ""))
    assert message.endswith(': wiring: tread 2 has no channel: add "tread.2"')


def test_split_tread_without_a_channel(tmp_path):
    text = RIG + 'tread_zones = ["front", "back"]\n' + """
[wiring]
"tread.1.front" = { pin = 5, pull_up = true }
"tread.1.back" = { pin = 6, pull_up = true }
"""
    message = error(tmp_path, text)
    assert message.endswith(': wiring: tread 2 has no channel: add "tread.2.front" and "tread.2.back"')


def test_split_tread_missing_a_half(tmp_path):
    text = RIG + 'tread_zones = ["front", "back"]\n' + """
[wiring]
"tread.1.front" = { pin = 5, pull_up = true }
"tread.1.back" = { pin = 6, pull_up = true }
"tread.2.front" = { pin = 12, pull_up = true }
"""
    message = error(tmp_path, text)
    assert message.endswith(': wiring: tread 2 has no back half: add "tread.2.back"')


@pytest.mark.parametrize("channel, expected", [
    ("tread.3", "tread.<i> for i = 1 to 2"),
    ("tread.1.front", "tread.<i> for i = 1 to 2"),
    ("rail.middle.touch", "rail.<left|right>.<touch|force>"),
    ("rail.left.grip", "rail.<left|right>.<touch|force>"),
])
def test_unknown_channel_name(tmp_path, channel, expected):
    message = error(tmp_path, config_text(wiring=f'"{channel}" = {{ pin = 20, pull_up = true }}\n'))
    assert f': wiring."{channel}": not a channel of this rig' in message and expected in message


def test_plain_tread_channel_on_a_split_rig(tmp_path):
    message = error(tmp_path, config_text(rig=RIG + 'tread_zones = ["front", "back"]\n'))
    assert ': wiring."tread.1": not a channel of this rig' in message
    assert "tread.<i>.front and tread.<i>.back" in message


def test_digital_channel_given_adc_channel(tmp_path):
    message = error(tmp_path, config_text(wiring='"rail.left.touch" = { adc_channel = 3 }\n'))
    assert ': wiring."rail.left.touch".adc_channel: rail.left.touch is a digital channel on a GPIO pin' in message


def test_analog_channel_given_a_pin(tmp_path):
    message = error(tmp_path, config_text(wiring='"rail.left.force" = { pin = 20, scale_n = 500.0 }\n'))
    assert ': wiring."rail.left.force".pin: rail.left.force is a force channel, read through the MCP3008' in message


def test_analog_channel_without_scale_n(tmp_path):
    message = error(tmp_path, config_text(wiring='"rail.left.force" = { adc_channel = 0, zero_offset = 0.01 }\n'))
    assert ': wiring."rail.left.force".scale_n: is required' in message


def test_analog_channel_with_zero_scale_n(tmp_path):
    message = error(tmp_path, config_text(wiring=LEFT_FORCE.replace("500.0", "0")))
    assert ': wiring."rail.left.force".scale_n: must not be 0' in message


# -- reading the file ----------------------------------------------------------

def test_invalid_toml_names_the_file_and_the_line(tmp_path):
    message = error(tmp_path, config_text().replace("treads = 2", "treads = = 2"))
    assert "invalid TOML" in message and "line 3" in message


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere.toml"
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}: configuration file not found"


# -- the command-line check ----------------------------------------------------

def test_check_config_main_ok_for_the_example():
    out, err = io.StringIO(), io.StringIO()
    assert check_config_main(example_config_path(), out, err) == 0
    assert out.getvalue() == (f"{example_config_path()}: OK — flight of 5 split treads, "
                              "rails left (touch, force), right (touch, force); 14 channels wired\n")
    assert err.getvalue() == ""


def test_check_config_main_reports_a_bad_file(tmp_path, capsys):
    path = write(tmp_path, config_text().replace("pin = 6", "pin = 5"))
    assert check_config_main(str(path)) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (f'{path}: wiring."tread.2".pin: pin 5 is already used by "tread.1"; '
                            "each channel needs its own pin\n")


def test_drill_planned_flights_and_load(tmp_path):
    config = load_config(write(tmp_path, config_text("[drill]\nplanned_flights = 4\nadded_load_kg = 2.5\n")))
    assert (config.drill.planned_flights, config.drill.added_load_kg) == (4, 2.5)
    message = error(tmp_path, config_text("[drill]\nplanned_flights = 0\n"))
    assert ": drill.planned_flights: must be from 1 to 200, not 0" in message
    message = error(tmp_path, config_text("[drill]\nadded_load_kg = 80\n"))
    assert ": drill.added_load_kg:" in message
