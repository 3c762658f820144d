"""The calibration file and the pure tare and scale: real files in a temporary directory,
and a real Service on the mock rig for what the file does at start."""

import json
import logging
import os
import stat

import pytest

from rig.calibration import (FORMAT, MIN_LOAD_DELTA, STEADY_SD, VERSION, CalibrationError, apply_calibration,
                             calibration_path, load_calibration, save_channel, scale_from, tare_offset)
from rig.layout import RigLayout
from rig.service import Service
from rig.sim.mockrig import SimulatedRig
from tests.rigs import config_for

LAYOUT = RigLayout(treads=2, rails={"left": ("touch", "force"), "right": ("force",)})


def noisy(mean, spread, n=50):
    """Readings around ``mean``, a step of the ADC either way (a real MCP3008 jitters)."""
    return [mean + spread * ((i % 3) - 1) for i in range(n)]


# -- tare and scale (pure) ---------------------------------------------------------

def test_tare_is_the_mean_of_steady_readings():
    readings = noisy(0.0312, 1 / 1023)
    assert tare_offset(readings) == pytest.approx(sum(readings) / len(readings), abs=1e-6)


@pytest.mark.parametrize("readings, words", [
    (noisy(0.03, 0.02), "vary too much"),                  # a hand on the rail
    ([0.03] * 5, "only 5 unloaded readings"),
    ([], "only 0"),
    ([0.03] * 40 + [1.0] * 10, "full scale"),
    ([0.0] * 50, "0 V"),
    (["0.03"] * 50, "must be numbers"),
    ([float("nan")] * 50, "must be numbers"),
])
def test_tare_refuses_what_is_no_zero(readings, words):
    with pytest.raises(CalibrationError, match=words):
        tare_offset(readings)


def test_scale_is_newtons_per_unit_of_reading():
    zero = 0.021
    loaded = noisy(0.441, 1 / 1023)
    assert scale_from(loaded, zero, 10.0 * 9.80665) == pytest.approx(10.0 * 9.80665 / (0.441 - zero), rel=1e-4)


@pytest.mark.parametrize("loaded, known_n, words", [
    (noisy(0.021 + MIN_LOAD_DELTA / 2, 0.0), 5.0, "too little to tell from zero"),
    (noisy(0.021, 0.0), 5.0, "too little to tell from zero"),
    ([1.0] * 50, 98.0, "full scale"),
    (noisy(0.005 - MIN_LOAD_DELTA, 0.0), 98.0, "went down under the load"),   # below the zero of 0.021
    (noisy(0.4, 0.05), 98.0, "still swinging"),
    (noisy(0.021 + 0.5, 0.0), 1e6, "outside"),                                # an absurd scale
    (noisy(0.4, 0.0), 0.0, "positive force"),
    (noisy(0.4, 0.0)[:3], 98.0, "only 3 loaded readings"),
])
def test_scale_refuses_what_cannot_give_a_scale(loaded, known_n, words):
    with pytest.raises(CalibrationError, match=words):
        scale_from(loaded, 0.021, known_n)


def test_scale_refuses_a_zero_out_of_range():
    with pytest.raises(CalibrationError, match="zero"):
        scale_from(noisy(0.4, 0.0), 1.2, 98.0)


def test_steadiness_limit_is_a_few_adc_steps():
    assert 2 / 1023 < STEADY_SD < 10 / 1023


# -- the file ------------------------------------------------------------------------

def test_save_and_load_round_trip(tmp_path):
    data_dir = str(tmp_path / "data")              # not there yet: made on save
    saved = save_channel(data_dir, "rail.left.force", 0.0213, 233.5)
    path = calibration_path(data_dir)
    doc = json.loads(open(path).read())
    assert doc["format"] == FORMAT and doc["version"] == VERSION
    assert doc["channels"]["rail.left.force"] == {"zero_offset": 0.0213, "scale_n": 233.5,
                                                  "updated_at": saved.updated_at}
    assert saved.updated_at.endswith("+00:00")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    save_channel(data_dir, "rail.right.force", 0.04, 180.0)
    save_channel(data_dir, "rail.left.force", 0.025, 240.0)    # replaces only its own entry
    loaded = load_calibration(data_dir)
    assert {ch: (e.zero_offset, e.scale_n) for ch, e in loaded.items()} == {
        "rail.left.force": (0.025, 240.0), "rail.right.force": (0.04, 180.0)}
    assert sorted(os.listdir(data_dir)) == ["calibration.json"]   # no temporary file left behind


def test_no_file_is_no_calibration(tmp_path):
    assert load_calibration(str(tmp_path)) == {}


@pytest.mark.parametrize("zero, scale", [(-0.1, 200.0), (1.0, 200.0), (0.02, 0.0), (0.02, -200.0),
                                         (0.02, float("inf")), (True, 200.0)])
def test_values_out_of_range_are_not_saved(tmp_path, zero, scale):
    save_channel(str(tmp_path), "rail.left.force", 0.02, 200.0)
    before = open(calibration_path(str(tmp_path))).read()
    with pytest.raises(CalibrationError, match="rail.left.force"):
        save_channel(str(tmp_path), "rail.left.force", zero, scale)
    assert open(calibration_path(str(tmp_path))).read() == before


def test_saving_where_no_directory_can_be_made_is_an_os_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(OSError):
        save_channel(str(blocker / "data"), "rail.left.force", 0.02, 200.0)


def test_saving_over_a_broken_file_keeps_it_aside(tmp_path, caplog):
    path = calibration_path(str(tmp_path))
    with open(path, "w") as fh:
        fh.write("{ half a file")
    save_channel(str(tmp_path), "rail.left.force", 0.03, 210.0)
    aside = [name for name in os.listdir(tmp_path) if name.startswith("calibration.json.unreadable-")]
    assert len(aside) == 1
    assert open(tmp_path / aside[0]).read() == "{ half a file"
    assert load_calibration(str(tmp_path))["rail.left.force"].scale_n == 210.0
    assert any("kept as" in r.getMessage() for r in caplog.records)


def test_other_entries_are_kept_as_written(tmp_path):
    path = calibration_path(str(tmp_path))
    odd = {"zero_offset": 7, "scale_n": "big", "note": "from an older rig"}
    with open(path, "w") as fh:
        json.dump({"format": FORMAT, "version": 1, "channels": {"rail.old.force": odd}}, fh)
    save_channel(str(tmp_path), "rail.left.force", 0.03, 210.0)
    assert json.load(open(path))["channels"]["rail.old.force"] == odd


# -- apply_calibration -----------------------------------------------------------------

def write(tmp_path, doc):
    path = calibration_path(str(tmp_path))
    with open(path, "w") as fh:
        fh.write(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def test_the_file_overrides_the_configuration_for_its_channels(tmp_path):
    config = config_for(LAYOUT, str(tmp_path))
    save_channel(str(tmp_path), "rail.left.force", 0.031, 187.0)
    applied = apply_calibration(config)
    assert (applied.wiring["rail.left.force"].zero_offset, applied.wiring["rail.left.force"].scale_n) == (0.031, 187.0)
    right = config.wiring["rail.right.force"]
    assert applied.wiring["rail.right.force"] == right               # not in the file: the configuration's
    assert applied.wiring["rail.left.force"].adc_channel == config.wiring["rail.left.force"].adc_channel
    assert config.wiring["rail.left.force"].zero_offset == 0.02      # the configuration itself is untouched


@pytest.mark.parametrize("content, words", [
    ("{ not json", "invalid JSON"),
    ('{"hello": "world"}', "not a stairrig calibration file"),
    ('[1, 2]', "not a stairrig calibration file"),
    ({"format": FORMAT, "version": 99, "channels": {}}, "newer stairrig"),
    ({"format": FORMAT, "version": "one", "channels": {}}, "no valid version"),
    ({"format": FORMAT, "version": 1, "channels": []}, 'no "channels" object'),
    ("[" * 100_000 + "]" * 100_000, "nested too deep"),
    ('{"format": "' + "x" * (1 << 20) + '"}', "over 1024 KB"),
])
def test_a_broken_or_foreign_file_is_logged_ignored_and_left_alone(tmp_path, caplog, content, words):
    config = config_for(LAYOUT, str(tmp_path))
    path = write(tmp_path, content)
    before = open(path, "rb").read()
    with caplog.at_level(logging.INFO, logger="rig.calibration"):
        applied = apply_calibration(config)
    assert applied.wiring == config.wiring
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and path in errors[0] and words in errors[0] and "ignored" in errors[0]
    assert open(path, "rb").read() == before


def test_entries_for_unknown_channels_or_bad_values_are_skipped_alone(tmp_path, caplog):
    config = config_for(LAYOUT, str(tmp_path))
    write(tmp_path, {"format": FORMAT, "version": 1, "channels": {
        "rail.left.force": {"zero_offset": 0.05, "scale_n": 150.0, "updated_at": "2025-01-01T00:00:00+00:00"},
        "rail.right.force": {"zero_offset": 1.5, "scale_n": 150.0},
        "tread.1": {"zero_offset": 0.05, "scale_n": 150.0},              # a switch, not a force channel
        "tread.9.force": {"zero_offset": 0.05, "scale_n": 150.0},
        "rail.left.touch": "nonsense"}})
    applied = apply_calibration(config)
    assert applied.wiring["rail.left.force"].zero_offset == 0.05
    assert applied.wiring["rail.right.force"] == config.wiring["rail.right.force"]
    assert applied.wiring["tread.1"] == config.wiring["tread.1"]
    warnings = " | ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    for words in ("rail.right.force: zero_offset must be", "tread.1 is not a force channel",
                  "tread.9.force is not a force channel", "rail.left.touch: must be an object"):
        assert words in warnings


# -- through the service --------------------------------------------------------------

def make_service(config):
    rig = SimulatedRig(config)
    return rig, Service(config, pin_factory=rig.factory, clock=rig.clock, source="sim")


def test_a_new_service_reads_the_saved_calibration(tmp_path):
    config = config_for(LAYOUT, str(tmp_path))
    save_channel(config.data_dir, "rail.right.force", 0.044, 321.0)
    rig, service = make_service(config)
    try:
        wire = service.config.wiring["rail.right.force"]
        assert (wire.zero_offset, wire.scale_n) == (0.044, 321.0)
        assert service.sensors.sampler.calibration("rail.right.force") == (0.044, 321.0)
        assert service.sensors.sampler.calibration("rail.left.force") == (0.02, 200.0)
        cal = service.rigcheck.calibration()
        assert cal["rail.right.force"]["source"] == "file" and cal["rail.right.force"]["updated_at"]
        assert cal["rail.left.force"] == {"zero_offset": 0.02, "scale_n": 200.0, "source": "config",
                                          "updated_at": None}
    finally:
        service.stop()
        rig.close()


def test_a_service_with_a_broken_file_starts_on_the_configuration(tmp_path, caplog):
    config = config_for(LAYOUT, str(tmp_path))
    path = write(tmp_path, "garbage")
    rig, service = make_service(config)
    try:
        assert service.config.wiring == config.wiring
        assert {c["source"] for c in service.rigcheck.calibration().values()} == {"config"}
    finally:
        service.stop()
        rig.close()
    assert any(path in r.getMessage() and r.levelno == logging.ERROR for r in caplog.records)
    assert open(path).read() == "garbage"
