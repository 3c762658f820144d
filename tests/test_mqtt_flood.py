"""Thousands of MQTT commands a second: a bounded log, a bounded <base>/error, and a rig that counts on.

The throttle's rules are tested as pure code (time is an argument); the
floods go through the session's real Mosquitto to a real service on
gpiozero's MockFactory pins, which the test walks on while the flood runs.
The report window is cut from 10 s to 2 s so that the summary comes soon.
Nothing asserts how fast anything is: bounds on how much is logged and run
are stated per window or per second of the test's own duration, which only
loosens them on a slow machine.
"""

import logging
import math
import queue
import re
import threading
import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from rig.mqtt import commands as mqtt_commands
from rig.mqtt.throttle import RejectThrottle, TokenBucket
from tests.broker import Collector

FLOOD = 5000
WINDOW_S = 2.0
SUMMARY = re.compile(r"and ([0-9,]+) more rejected commands? in the last")


# -- the rules, as pure code -------------------------------------------------------------------
def test_the_first_few_of_a_window_are_reported_the_rest_counted_then_summarised():
    throttle = RejectThrottle(per_window=3, window_s=10.0, known=("grip", "facing"))
    shown = [throttle.note(100.0 + i * 0.001, "grip" if i % 3 else "facing", f"bad {i}") for i in range(1000)]
    assert [full for full, _ in shown[:3]] == [True] * 3
    assert not any(full for full, _ in shown[3:]) and not any(ended for _, ended in shown)
    assert throttle.due(109.0) is None                        # the window is not over yet
    assert throttle.next_due(109.0) == pytest.approx(1.0)      # when the worker wakes to say it
    summary = throttle.due(110.5)
    assert summary.count == 997 and summary.command == "grip" and summary.last_error == "bad 999"
    assert summary.message().startswith("and 997 more rejected commands in the last 10 s")
    assert throttle.due(111.0) is None                        # said once
    assert throttle.next_due(111.0) is None                   # nothing held back: nothing to wake for
    assert throttle.note(200.0, "grip", "again") == (True, None)    # a new window reports again
    assert throttle.suppressed_total == 997


def test_a_flood_that_goes_on_is_summarised_window_by_window_and_unknown_names_are_not_kept():
    throttle = RejectThrottle(per_window=2, window_s=1.0, known=("grip",))
    summaries = []
    for i in range(5000):
        full, ended = throttle.note(i * 0.001, f"junk{i}", "unknown command")
        summaries += [ended] if ended else []
    summaries += [throttle.due(10.0)]
    assert len(summaries) == 5 and all(s.command == "an unknown command" for s in summaries)
    assert sum(s.count for s in summaries) == 5000 - 2 * 5 == throttle.suppressed_total
    assert summaries[0].message().startswith("and 998 more rejected commands in the last 1 s")


def test_the_token_bucket_lets_a_burst_through_then_its_rate():
    bucket = TokenBucket(rate_per_s=10.0, burst=20)
    assert sum(bucket.take(0.0) for _ in range(1000)) == 20
    assert sum(bucket.take(1.0) for _ in range(1000)) == 10
    assert sum(bucket.take(100.0) for _ in range(1000)) == 20      # never more than the burst


# -- floods through a real broker ----------------------------------------------------------------
@pytest.fixture
def collector(mqtt_broker):
    c = Collector(mqtt_broker.port, topics=("stairrig/#",))
    yield c
    c.close()


@pytest.fixture
def short_window(monkeypatch):
    monkeypatch.setattr(mqtt_commands, "REPORT_WINDOW_S", WINDOW_S)


class Flooder:
    """A client of its own that publishes as fast as paho lets it (QoS 0: nobody waits)."""

    def __init__(self, port: int):
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"flooder-{time.monotonic_ns()}")
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def flood(self, messages) -> None:
        for topic, payload in messages:
            self.client.publish(topic, payload, qos=0)
        self.client.publish("flood/done", b"1", qos=1).wait_for_publish(30)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Walker:
    """Steps up the three treads of the test rig on its mock pins, and sees the engine count them."""

    def __init__(self, service, factory):
        self.steps: queue.Queue = queue.Queue()
        service.subscribe("test-steps", self.steps.put, types={"step"})
        self.pins = [factory.pin(service.config.wiring[f"tread.{i}"].pin) for i in (1, 2, 3)]

    def climb(self) -> int:
        """One climb, step over step; returns the steps the engine counted."""
        pause = threading.Event()
        self.pins[0].drive_low()
        for lead, trail in ((self.pins[1], self.pins[0]), (self.pins[2], self.pins[1])):
            pause.wait(0.25)
            lead.drive_low()
            pause.wait(0.25)
            trail.drive_high()
        pause.wait(0.25)
        self.pins[2].drive_high()
        counted = []
        deadline = time.monotonic() + 20
        while len(counted) < 3 and time.monotonic() < deadline:
            try:
                counted.append(self.steps.get(timeout=1))
            except queue.Empty:
                pass
        pause.wait(0.5)
        return len(counted)


def _mqtt_warnings(caplog):
    return [r for r in caplog.records if r.name == "rig.mqtt.commands" and r.levelno >= logging.WARNING]


def test_5000_bad_commands_are_logged_and_reported_a_few_at_a_time_and_the_rig_counts_on(
        mqtt_broker, mqtt_rig, collector, short_window, caplog):
    caplog.set_level(logging.INFO)
    service = mqtt_rig.start(mqtt_broker.port, rig_id="flood")
    worker = service.mqtt._worker
    base = "stairrig/flood"
    collector.wait_for(lambda m: m.topic == f"{base}/state", what="the first state")
    walker = Walker(service, mqtt_rig.factories[-1])
    bad = [(f"{base}/{name}/set", payload) for name, payload in
           (("planned_flights", b"1_0"), ("added_load_kg", b"1e999"), ("grip", b"iron"), ("nope", b"x"),
            ("session", b"\x1b[31mstart"))]
    flooder = Flooder(mqtt_broker.port)
    started = time.monotonic()
    try:
        flood = threading.Thread(target=flooder.flood, args=([bad[i % len(bad)] for i in range(FLOOD)],))
        flood.start()
        counted = walker.climb()                                # the rig counts while the flood arrives
        collector.publish(f"{base}/grip/set", "hover")          # and a good command still works
        collector.wait_for(lambda m: m.topic == f"{base}/state" and m.json()["drill"]["grip"] == "hover",
                           what="the good command's effect")
        flood.join(60)
        assert not flood.is_alive()
    finally:
        flooder.close()
    assert counted == 3

    # every rejection the rig received is accounted for: one by one, or in a window's summary
    def accounted(messages):
        errors = [m.json() for m in messages if m.topic == f"{base}/error"]
        one_by_one = [e for e in errors if not SUMMARY.match(e["error"])]
        summed = sum(int(SUMMARY.match(e["error"]).group(1).replace(",", "")) for e in errors
                     if SUMMARY.match(e["error"]))
        return (errors, one_by_one) if len(one_by_one) + summed == worker.failed else None
    errors, one_by_one = collector.wait_until(accounted, timeout=30, what="the flood's summaries")
    elapsed_s = time.monotonic() - started
    assert worker.failed >= 500, "a flood reached the rig"      # all 5,000 here; a busy Mosquitto may drop some
    assert worker.suppressed == worker.failed - len(one_by_one)

    windows = math.ceil(elapsed_s / WINDOW_S) + 1
    assert len(one_by_one) <= mqtt_commands.REPORTS_PER_WINDOW * windows
    assert len(errors) <= (mqtt_commands.REPORTS_PER_WINDOW + 1) * windows
    warnings = _mqtt_warnings(caplog)
    assert len(warnings) <= (mqtt_commands.REPORTS_PER_WINDOW + 1) * windows
    summaries = [r.getMessage() for r in warnings if "more rejected commands" in r.getMessage()]
    assert summaries and all("not reported one by one" in s for s in summaries)
    assert all(r.exc_info is None for r in caplog.records), "no traceback"
    assert any("the last:" in e["error"] and "most for" in e["error"] for e in errors)
    assert service.healthy() and worker.is_alive()
    assert walker.climb() == 3                                  # and after it


def test_5000_valid_commands_reach_the_engine_at_a_bounded_rate_and_the_excess_is_counted(
        mqtt_broker, mqtt_rig, collector, short_window, caplog):
    caplog.set_level(logging.INFO)
    service = mqtt_rig.start(mqtt_broker.port, rig_id="busy")
    worker = service.mqtt._worker
    base = "stairrig/busy"
    collector.wait_for(lambda m: m.topic == f"{base}/state", what="the first state")
    walker = Walker(service, mqtt_rig.factories[-1])
    valid = [(f"{base}/facing/set", b"forward"), (f"{base}/facing/set", b"backward"),
             (f"{base}/athlete/set", b"Test"), (f"{base}/planned_flights/set", b"12")]
    flooder = Flooder(mqtt_broker.port)
    started = time.monotonic()
    try:
        flood = threading.Thread(target=flooder.flood, args=([valid[i % len(valid)] for i in range(FLOOD)],))
        flood.start()
        counted = walker.climb()
        flood.join(60)
        assert not flood.is_alive()
    finally:
        flooder.close()
    assert counted == 3

    # the worker has finished what it took in: every command received was done or rejected
    received = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        received.append(worker.done + worker.failed)
        if len(received) > 3 and received[-1] == received[-4] and worker._queue.empty():
            break
        time.sleep(0.5)
    elapsed_s = time.monotonic() - started
    assert worker.done + worker.failed >= 500, "a flood reached the rig"
    # at most the burst and the rate ever reached the engine; the rest were dropped and counted
    assert 1 <= worker.done <= mqtt_commands.COMMAND_BURST + mqtt_commands.COMMANDS_PER_S * elapsed_s
    assert worker.dropped >= worker.done + worker.failed - (mqtt_commands.COMMAND_BURST +
                                                            mqtt_commands.COMMANDS_PER_S * elapsed_s)
    assert len(_mqtt_warnings(caplog)) <= (mqtt_commands.REPORTS_PER_WINDOW + 1) * (elapsed_s / WINDOW_S + 2)
    collector.wait_until(lambda ms: any(m.topic == f"{base}/error" and "too many commands" in m.json()["error"]
                                        for m in ms), what="a dropped command reported")
    # once the flood is over, a command goes through at once
    time.sleep(2 / mqtt_commands.COMMANDS_PER_S)                # a token comes back
    collector.publish(f"{base}/grip/set", "light")
    collector.wait_for(lambda m: m.topic == f"{base}/state" and m.json()["drill"]["grip"] == "light",
                       what="a command after the flood")
    assert service.healthy() and worker.is_alive()
    assert walker.climb() == 3
