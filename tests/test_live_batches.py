"""The live path in batches (issue 12): the ADC sampler's scans and its idle rate, the engine
merging scans with edges in time order, the bus batches, and the live state's cheap reading of a
batch. Nothing here asserts how fast anything is: waits have generous deadlines, far from the
periods they tell apart."""

from __future__ import annotations

import queue
import threading
import time

from gpiozero import MCP3008, Device

from rig.bus import EventBus
from rig.clock import PinFactoryClock
from rig.hardware.adc import AnalogSampler
from rig.hardware.mockpi import RigMockFactory
from rig.layout import RigLayout
from rig.live import LiveState
from rig.service import Service
from rig.sim.mockrig import SimulatedRig
from tests.rigs import config_for

DEADLINE_S = 30.0


def wait_until(check, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not check():
        assert time.monotonic() < deadline, f"{what} did not happen within {DEADLINE_S:g} s"
        time.sleep(0.01)


class Scans:
    def __init__(self):
        self.items: list[tuple] = []
        self.wakes = 0

    def __call__(self, t, readings, wake=False):
        self.items.append((t, readings))
        self.wakes += bool(wake)


def close(sampler: AnalogSampler, factory: RigMockFactory) -> None:
    sampler.stop.set()
    sampler._nudge.set()
    sampler.thread.join(5)
    for _, device in sampler.channels:
        device.close()
    factory.close()


def make_sampler(scans: Scans, *, idle_hz: float | None) -> tuple[AnalogSampler, RigMockFactory, threading.Event]:
    factory = RigMockFactory()
    Device.pin_factory = factory
    devices = [(f"rail.{side}.force", MCP3008(channel=c, pin_factory=factory), 0.0, 200.0)
               for c, side in enumerate(("left", "right"))]
    stop = threading.Event()
    sampler = AnalogSampler(devices, 50.0, scans, PinFactoryClock(factory), stop,
                            idle_hz=idle_hz, idle_after_s=1.0, active_n=0.25)
    return sampler, factory, stop


def test_a_scan_is_one_item_with_every_force_channel():
    scans = Scans()
    save = Device.pin_factory
    sampler, factory, stop = make_sampler(scans, idle_hz=None)
    try:
        factory.mcp3008(0, 0).values[1] = 0.05          # 10 N on the right rail
        sampler.start()
        wait_until(lambda: len(scans.items) >= 3, "three scans")
    finally:
        close(sampler, factory)
        Device.pin_factory = save
    t, readings = scans.items[-1]
    assert [name for name, _ in readings] == ["rail.left.force", "rail.right.force"]
    assert abs(readings[1][1] - 10.0) <= 200.0 / 1023      # within a step of the 10-bit ADC
    assert scans.wakes >= 1                              # in use: it wakes the engine now and then


def test_an_idle_rig_is_read_slowly_and_an_edge_or_a_watcher_brings_the_full_rate_back_at_once():
    """idle_hz = 0.01: an idle read every 100 s, so the reads seen within the deadline after an
    edge can only come from the edge ending the idle wait."""
    scans = Scans()
    save = Device.pin_factory
    sampler, factory, stop = make_sampler(scans, idle_hz=0.01)
    chip = factory.mcp3008(0, 0)
    try:
        sampler.start()
        wait_until(lambda: sampler.idle and len(scans.items) >= 1, "the sampler idle")
        n = len(scans.items)
        sampler.note_edge(sampler.clock.now(), "tread.1", 1)          # someone steps on
        wait_until(lambda: len(scans.items) >= n + 20, "the full rate after an edge")
        assert not sampler.idle
        sampler.note_edge(sampler.clock.now(), "tread.1", 0)          # and off: idle a second later
        wait_until(lambda: sampler.idle, "idle again")
        n = len(scans.items)
        assert sampler.wake_up() is True                               # the rig check's raw channels
        wait_until(lambda: len(scans.items) >= n + 20, "the full rate for a watcher")
        chip.values[0] = 0.01                                          # 2 N on a rail: in use
        time.sleep(2.5)                                                # more than idle_after_s
        assert not sampler.idle
        chip.values[0] = 0.0
        wait_until(lambda: sampler.idle, "idle once the rail is let go")
    finally:
        close(sampler, factory)
        Device.pin_factory = save


def test_the_engine_feeds_scans_and_edges_in_time_order(tmp_path):
    """Scans wait on the side while an edge wakes the engine: fed, they go in time order around
    the edge (the trace and the detector see 1.00, 1.01, 1.02), none moved to a later time."""
    layout = RigLayout(treads=2, rails={"left": ("force",)})
    config = config_for(layout, str(tmp_path))
    rig = SimulatedRig(config, speed=1.0, virtual=True)
    try:
        service = Service(config, pin_factory=rig.factory, clock=rig.clock, source="sim")
        seen: queue.Queue = queue.Queue()
        service.subscribe("test", lambda e: [seen.put(s) for s in e["samples"]], types={"samples"})
        service.sensors.sampler.start = lambda: None     # this test plays the sampler itself
        engine = service.engine
        held, release = threading.Event(), threading.Event()

        def hold() -> None:                            # the engine waits at the end of a loop...
            held.set()
            release.wait(DEADLINE_S)
        engine.heartbeat = hold
        service.start()
        assert held.wait(DEADLINE_S)
        rig.virtual.set(0.9)
        engine.sink_scan(1.00, (("rail.left.force", 3.0),))      # ...while the scans and the edge arrive
        engine.sink_scan(1.02, (("rail.left.force", 4.0),))
        engine.sink(1.01, "tread.1", 1)
        engine.heartbeat = None
        release.set()                                  # its next loop takes the edge and the scans together
        rig.virtual.set(1.5)
        got = []
        deadline = time.monotonic() + DEADLINE_S
        while len(got) < 3 and time.monotonic() < deadline:
            try:
                sample = seen.get(timeout=0.5)
            except queue.Empty:
                continue
            if sample[0] >= 1.0:
                got.append(sample)
        service.stop()
    finally:
        rig.close()
    assert got == [(1.0, "rail.left.force", 3.0), (1.01, "tread.1", 1), (1.02, "rail.left.force", 4.0)]
    assert engine.late_samples == 0


def test_the_bus_delivers_a_batch_in_order_in_one_go():
    bus = EventBus()
    got = []
    bus.subscribe("a", got.append)
    bus.start()
    bus.publish_all([{"type": "samples", "samples": []}, {"type": "tick", "t": 1.0}])
    bus.publish({"type": "summary", "t": 1.0})
    bus.close()
    assert [e["type"] for e in got] == ["samples", "tick", "summary"]


def test_the_live_state_reads_a_batch_by_each_channels_last_sample():
    layout = RigLayout(treads=2, rails={"left": ("touch", "force")})
    live = LiveState(rig_id="r", layout=layout, athlete={"id": None, "name": "A", "weight_kg": 70.0},
                     drill={"facing": "backward", "grip": "light", "planned_flights": None, "added_load_kg": 0.0},
                     stuck_after_s=5.0)
    live({"type": "samples", "samples": [(1.0, "tread.1", 1), (1.0, "rail.left.force", 2.04)]})
    live({"type": "samples", "samples": [(2.0, "tread.1", 0), (3.0, "tread.1", 1), (3.1, "rail.left.force", 0.3)]})
    channels = live.channels()
    assert channels["tread.1"] == {"value": 1, "t_s": 3.0}
    assert live.snapshot()["rails"]["left"]["force_n"] == 0.3
    changes = live.changes
    live({"type": "tick", "t": 7.0})                  # on since 3.0 (let go at 2.0): not stuck yet
    assert live.snapshot()["stuck_channels"] == [] and live.changes == changes   # nothing moved
    live({"type": "tick", "t": 8.5})
    assert live.snapshot()["stuck_channels"] == ["tread.1"] and live.changes == changes + 1
