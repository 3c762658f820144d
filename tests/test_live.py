"""The live path on gpiozero's MockFactory: pin edges in, step events out.

Only the hardware is mocked (the mock Pi's pins and the mock MCP3008 on its
hardware SPI); the engine, bus, detector and recorder are the real ones. Waits
have generous upper bounds so that a broken path fails instead of hanging;
nothing here asserts how fast anything is (that is bench/'s job).
"""

import json
import queue
import threading

import pytest
from gpiozero import Device

from rig.layout import RigLayout
from rig.replay import replay
from rig.service import Service
from rig.hardware.mockpi import RigMockFactory
from rig.sim.mockrig import RigDriver, SimulatedRig
from rig.trace import read_trace
from tests.rigs import config_for
from tests.truth import differences, shared_dir

WAIT_S = 10.0


@pytest.fixture
def mock_factory():
    save = Device.pin_factory
    Device.pin_factory = RigMockFactory()
    try:
        yield Device.pin_factory
    finally:
        Device.pin_factory.reset()
        Device.pin_factory = save


class Events:
    def __init__(self, service, types):
        self.q = queue.Queue()
        service.subscribe("test", self.q.put, types=types)

    def next(self, etype):
        while True:
            event = self.q.get(timeout=WAIT_S)
            if event["type"] == etype:
                return event


def test_pin_edges_become_step_events(mock_factory, tmp_path):
    layout = RigLayout(treads=3, riser_m=0.17)
    config = config_for(layout, str(tmp_path))
    service = Service(config, pin_factory=mock_factory)
    events = Events(service, {"step", "ascent"})
    service.start()
    try:
        pins = [config.wiring[f"tread.{i}"].pin for i in (1, 2, 3)]
        idle = threading.Event()
        # bounce on the first edge: the core must merge it into one contact
        p = mock_factory.pin(pins[0])   # a mat to ground with the pull-up: closed is low
        for _ in range(3):
            p.drive_low()
            p.drive_high()
        # step-over-step: the trailing foot leaves a tread after the lead foot lands
        mock_factory.pin(pins[0]).drive_low()
        first = events.next("step")
        assert (first["tread"], first["direction"], first["steps"]) == (1, "up", 1)
        for lead, trail in ((pins[1], pins[0]), (pins[2], pins[1])):
            mock_factory.pin(lead).drive_low()
            idle.wait(0.2)
            mock_factory.pin(trail).drive_high()
        assert events.next("step")["tread"] == 2
        third = events.next("step")
        assert (third["tread"], third["direction"]) == (3, "up")
        idle.wait(0.2)
        mock_factory.pin(pins[2]).drive_high()
        assert events.next("ascent")["ascents"] == 1
    finally:
        summary = service.stop()
    assert (summary["steps"], summary["steps_up"], summary["ascents"]) == (3, 3, 1)
    assert summary["elevation_gain_m"] == pytest.approx(4 * 0.17)


def test_force_channels_through_the_mcp3008(mock_factory, tmp_path):
    layout = RigLayout(treads=2, rails={"left": ("force",)})
    config = config_for(layout, str(tmp_path))
    adc = mock_factory.mcp3008(0, 0)
    wire = config.wiring["rail.left.force"]
    adc.values[wire.adc_channel] = wire.zero_offset
    service = Service(config, pin_factory=mock_factory)
    events = Events(service, {"grip", "grab"})
    service.start()
    try:
        adc.values[wire.adc_channel] = wire.zero_offset + 0.6 / wire.scale_n   # a light touch, 0.6 N
        light = events.next("grip")
        assert light["grip"] == "light" and light["rail"] == "left"
        adc.values[wire.adc_channel] = wire.zero_offset + 120 / wire.scale_n   # a sudden grab
        grab = events.next("grab")
        assert grab["rail"] == "left" and grab["force_n"] == pytest.approx(120, abs=0.5)
        assert events.next("grip")["grip"] == "firm"
    finally:
        service.stop()


def test_recorded_trace_replays_to_the_live_summary(mock_factory, tmp_path):
    layout = RigLayout(treads=2, split=True, rails={"right": ("touch",)})
    config = config_for(layout, str(tmp_path))
    service = Service(config, pin_factory=mock_factory)
    events = Events(service, {"step"})
    service.start()
    idle = threading.Event()
    try:
        touch = mock_factory.pin(config.wiring["rail.right.touch"].pin)
        touch.drive_high()
        for tread in (1, 2):
            back = mock_factory.pin(config.wiring[f"tread.{tread}.back"].pin)
            front = mock_factory.pin(config.wiring[f"tread.{tread}.front"].pin)
            back.drive_low()
            idle.wait(0.05)
            front.drive_low()
            assert events.next("step")["facing"] == "forward"   # up, heel-side (back) half first
            idle.wait(0.2)
            back.drive_high()
            front.drive_high()
        touch.drive_low()
    finally:
        live = service.stop()
    path = service.recorder.path
    assert path.startswith(str(tmp_path)) and path.endswith(".jsonl.gz")
    trace = read_trace(path)
    assert trace.header.layout == layout and trace.header.source == "gpio"
    samples = list(trace)
    assert len(samples) >= 9 and trace.warnings == []
    assert replay(path) == live


@pytest.mark.parametrize("name", ["public-02-n4-forward-harsh-hover", "public-08-n6-backward-harsh-firm"])
def test_a_sample_trace_through_the_live_path_on_a_virtual_clock(tmp_path, name):
    """Play a recorded trace into the mock pins and ADC at 20x real time:
    the live service counts what replay counts (forces go through the
    10-bit ADC and the 50 Hz sampler, so their figures keep the tolerances)."""
    trace_path = shared_dir() / "traces" / f"{name}.jsonl"
    truth = json.loads(trace_path.with_name(f"{name}.truth.json").read_text())
    trace = read_trace(trace_path)
    config = config_for(trace.header.layout, str(tmp_path), weight_kg=trace.header.weight_kg,
                        drill={"added_load_kg": trace.header.drill_added_load_kg})
    samples = list(trace)
    rig = SimulatedRig(config, speed=20.0)
    try:
        service = Service(config, pin_factory=rig.factory, clock=rig.clock, source="sim")
        service.start()
        driver = RigDriver(rig, samples, service.stop_event)
        driver.start()
        assert driver.done.wait(120)
        rig.virtual.set(samples[-1][0] + 0.5)
        live = service.stop()
    finally:
        rig.close()
    assert driver.driven == len(samples)
    live_diffs = differences(live, truth)
    # the live trace starts when the service does, so only active time-based figures compare
    assert live_diffs == []
    assert replay(service.recorder.path)["steps"] == truth["steps"]


def test_a_tread_held_at_stop_ends_there_live_and_in_the_trace(mock_factory, tmp_path):
    """Stopping while someone stands on a tread: the live summary and the
    replay of the recorded trace agree (the trace ends where the run did)."""
    layout = RigLayout(treads=3)
    config = config_for(layout, str(tmp_path), detection={"stall_s": 0.5})
    service = Service(config, pin_factory=mock_factory)
    events = Events(service, {"step", "stall"})
    service.start()
    try:
        mock_factory.pin(config.wiring["tread.1"].pin).drive_low()
        assert events.next("step")["tread"] == 1
        assert events.next("stall")["tread"] == 1        # still standing there
    finally:
        live = service.stop()
    assert live["steps"] == 1 and live["active_s"] > 0.5
    assert live["active_s"] <= live["duration_s"] + 1e-4   # active_s has 4 decimals
    replayed = replay(service.recorder.path, config.detection)
    assert replayed == live


def test_a_late_sample_is_taken_at_the_time_already_decided(mock_factory, tmp_path):
    """A sample stamped before a time the engine has advanced to (a slow
    callback or ADC read) is moved to that time, live and in the trace, so no
    contact the detector already closed can be reopened behind its back."""
    layout = RigLayout(treads=2)
    config = config_for(layout, str(tmp_path))
    service = Service(config, pin_factory=mock_factory)
    events = Events(service, {"step"})
    service.start()
    idle = threading.Event()
    try:
        pin = mock_factory.pin(config.wiring["tread.1"].pin)
        pin.drive_low()
        assert events.next("step")["steps"] == 1
        pin.drive_high()
        idle.wait(0.3)                                   # the release is settled by now
        late = service.clock.now() - 0.25                 # stamped inside the settled gap
        service.engine.sink(late, "tread.1", 1)
        service.engine.sink(late + 0.01, "tread.1", 0)
        idle.wait(0.2)
    finally:
        live = service.stop()
    assert service.engine.late_samples == 2
    assert live["steps"] == 1                            # too short to be a step where it was moved
    assert replay(service.recorder.path) == live


def test_an_engine_failure_stops_the_rig_and_says_so(mock_factory, tmp_path):
    """Fault injection: the detector raises inside the engine thread."""
    config = config_for(RigLayout(treads=2), str(tmp_path))
    service = Service(config, pin_factory=mock_factory)

    def broken(now):
        raise RuntimeError("injected fault")
    service.detector.advance = broken
    service.start()
    assert service.stop_event.wait(WAIT_S)               # the engine sets the shared stop
    assert isinstance(service.engine.error, RuntimeError)
    assert not service.healthy()
    assert service.stop() is None                        # no final summary, and no hang
