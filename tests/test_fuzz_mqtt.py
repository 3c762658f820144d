"""Hypothesis-generated MQTT commands: each one is done or rejected with a reason, never a traceback.

Two layers. The checks themselves (``plan``, as pure code) take thousands
of generated payloads for every command topic and must either accept one
or raise ``Rejected``; numbers are held to an independent statement of the
grammar in docs/mqtt.md (plain decimals, Decimal arithmetic). Then batches of
generated commands go through the session's real Mosquitto to one real
service (on gpiozero's MockFactory pins): every one is accounted for (done,
or rejected on ``<base>/error``), none fails with a bug, the log has no
traceback, and the rig still counts steps afterwards. (The rate limits are
lifted for the live part so that every command is accounted for one by one;
tests/test_mqtt_flood.py tests them.)
"""

import json
import logging
import re
import string
from collections import Counter
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rig.logsafe import has_unsafe
from rig.mqtt import commands as mqtt_commands
from rig.mqtt.commands import Rejected, plan
from rig.mqtt.topics import COMMANDS
from tests.broker import Collector
from tests.test_mqtt_flood import Walker

WORDS = ("start", "stop", "acknowledge", "ok", "press", "raise", "forward", "backward", "firm", "light", "hover",
         "none", "purge", "Test", "0", "12", "200", "201", "2.5", "50", "-0", "1_0", "1e2", "inf", "nan", "NaN",
         "0x10", "１２", "٣", "1,5", " 12 ", "12\n", "\t7", "\u00a07", "+5", ".5", "5.")


def _cased(word: str, flips: list[bool]) -> str:
    return "".join(c.upper() if flip else c for c, flip in zip(word, flips + [False] * len(word)))


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner,
                                                                                         max_size=4),
                           max_leaves=12)

payloads = st.one_of(
    st.binary(max_size=600),
    st.text(max_size=120).map(str.encode),
    st.builds(_cased, st.sampled_from(WORDS), st.lists(st.booleans(), max_size=12)).map(str.encode),
    st.tuples(st.sampled_from(["", " ", "\t", "\n", "\r\n", "\x00", "\x1b", "\u2028", "\u202e", "\x85"]),
              st.sampled_from(WORDS), st.sampled_from(["", " ", "\n", "\x00", "\u200f"]))
    .map(lambda t: "".join(t).encode()),
    st.integers(min_value=-10**30, max_value=10**30).map(lambda n: str(n).encode()),
    st.floats().map(lambda x: repr(x).encode()),
    st.from_regex(r"\A[-+]?[0-9_ .eE]{1,12}\Z").map(str.encode),
    st.text(alphabet="0123456789", min_size=13, max_size=520).map(str.encode),
    st.fixed_dictionaries({"by": st.text(max_size=60)}).map(lambda d: json.dumps(d).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
)


class NoCommands:
    """plan() only builds its calls; nothing here may be called while checking."""

    def __getattr__(self, name):
        def called(*args, **kwargs):
            raise AssertionError(f"plan() called commands.{name} while checking")
        return called


def _plain_number(payload: bytes, low: int, high: int, whole: bool) -> bool:
    """The documented grammar, stated apart from the code: ASCII digits, an optional minus and
    decimal part, trimmed of spaces, tabs and line ends; in range; whole where asked."""
    try:
        text = payload.decode("utf-8").strip(" \t\r\n")
    except UnicodeDecodeError:
        return False
    if len(payload) > 512 or len(text) > 16 or not re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", text, re.ASCII):
        return False
    value = Decimal(text)
    return low <= value <= high and (not whole or value == value.to_integral_value())


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(COMMANDS), payload=payloads)
def test_every_payload_on_every_command_is_accepted_or_rejected_with_a_reason(name, payload):
    try:
        what, call = plan(name, payload, NoCommands(), purge=lambda: None)
    except Rejected as exc:
        message = str(exc)
        assert message and "\n" not in message and not has_unsafe(message)
        assert len(message) < 400
        accepted = False
    else:
        assert callable(call) and isinstance(what, str) and not has_unsafe(what)
        accepted = True
    text = payload.decode("utf-8", "replace").strip(" \t\r\n")
    if name == "planned_flights":
        assert accepted == _plain_number(payload, 0, 200, whole=True), payload
    elif name == "added_load_kg":
        assert accepted == _plain_number(payload, 0, 50, whole=False), payload
    elif name in ("session", "facing", "grip", "purge"):
        choices = {"session": {"start", "stop"}, "facing": {"forward", "backward"},
                   "grip": {"firm", "light", "hover", "none"}, "purge": {"purge"}}[name]
        assert accepted == (len(payload) <= 512 and text.lower() in choices and not has_unsafe(text))
    elif accepted:        # athlete, fall, test_alarm: text, bounded, without control characters
        assert len(payload) <= 512 and not has_unsafe(text) and text
        if name == "athlete":
            assert len(text) <= 100


@pytest.mark.parametrize("payload, words", [
    (b"1_0", "written like 12"), (b"1e999", "written like 12"), (b"inf", "written like 12"),
    (b"nan", "written like 12"), (b" 1 0 ", "written like 12"), ("１２".encode(), "written like 12"),
    (b"9" * 5001, "too long"), (b"9" * 500, "not a number of 500 characters"), (b"201", "from 0 to 200, not 201"),
    (b"2.5", "whole number"),
])
def test_planned_flights_are_strict_and_the_message_names_the_field_and_range(payload, words):
    with pytest.raises(Rejected) as caught:
        plan("planned_flights", payload, NoCommands(), purge=lambda: None)
    message = str(caught.value)
    assert words in message and (message.startswith("planned flights must be") or "too long" in message)
    assert "Exceeds the limit" not in message


# -- through the broker, to a real rig ---------------------------------------------------------------
topic_names = st.one_of(st.sampled_from(COMMANDS), st.sampled_from(COMMANDS), st.text(
    alphabet=string.ascii_letters + string.digits + "_-é", min_size=1, max_size=20))


def test_generated_commands_through_a_real_broker_are_each_done_or_reported(mqtt_broker, mqtt_rig, monkeypatch,
                                                                              caplog):
    monkeypatch.setattr(mqtt_commands, "REPORTS_PER_WINDOW", 10**9)
    monkeypatch.setattr(mqtt_commands, "COMMANDS_PER_S", 10**6)
    monkeypatch.setattr(mqtt_commands, "COMMAND_BURST", 10**6)
    monkeypatch.setattr(mqtt_commands, "QUEUE_SIZE", 10**4)
    caplog.set_level(logging.INFO)
    base = "stairrig/hypo"
    service = mqtt_rig.start(mqtt_broker.port, rig_id="hypo")
    worker = service.mqtt._worker
    collector = Collector(mqtt_broker.port, topics=(f"{base}/#",))
    sent: Counter = Counter()       # by command: messages that are commands (not empty)
    rejected_here: Counter = Counter()
    try:
        collector.wait_for(lambda m: m.topic == f"{base}/state", what="the first state")

        @settings(max_examples=25, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
        @given(batch=st.lists(st.tuples(topic_names, payloads), min_size=1, max_size=25))
        def send(batch):
            for name, payload in batch:
                if name == "purge" and payload.strip(b" \t\r\n").lower() == b"purge":
                    continue        # a real purge removes the rig from Home Assistant: tested on its own
                try:
                    plan(name, payload, NoCommands(), purge=lambda: None)
                except Rejected:
                    rejected_here[name] += bool(payload)
                collector.publish(f"{base}/{name}/set", payload)
                sent[name] += bool(payload)
        send()
        total = sum(sent.values())
        collector.wait_until(lambda ms: worker.done + worker.failed >= total and worker._queue.empty(),
                             timeout=60, what=f"all {total} commands done or rejected")
        assert worker.done + worker.failed == total
        errors = collector.wait_until(lambda ms: (lambda e: e if len(e) >= worker.failed else None)(
            [m.json() for m in ms if m.topic == f"{base}/error"]), timeout=30, what="every rejection reported")
        assert len(errors) == worker.failed
        by_command = Counter(e["command"] for e in errors)
        for name, n in rejected_here.items():
            assert by_command[name[:60]] >= n, name
        assert not [e for e in errors if "the command failed" in e["error"] or "could not be checked" in e["error"]]
        bad_log = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
        assert not bad_log, [r.getMessage() for r in bad_log]
        assert service.healthy() and worker.is_alive() and service.mqtt._publisher.is_alive()
        assert Walker(service, mqtt_rig.factories[-1]).climb() == 3      # the rig counts on
    finally:
        collector.close()


# -- the shared checks of rig/commands.py (MQTT and the panel's API hand them what came off the network) --
huge_ints = st.builds(lambda digits, sign: sign * 10 ** digits, st.integers(0, 6000), st.sampled_from([1, -1]))
long_texts = st.builds(lambda c, n: c * n, st.characters(), st.integers(0, 20_000))
anything = st.one_of(st.none(), st.booleans(), st.integers(), huge_ints, st.floats(), st.text(max_size=120),
                     long_texts, st.sampled_from(["forward", "backward", "firm", "hover", "Test", "1", "12"]),
                     st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(),
                                                                          max_size=2))


@pytest.fixture
def shared_service(tmp_path):
    from tests.test_web_support import Rig, make_config
    rig = Rig(make_config(str(tmp_path / "data")))
    rig.settle()
    yield rig.service
    rig.close()


def test_the_shared_commands_refuse_any_value_with_a_message_not_a_traceback(shared_service):
    from rig.commands import CommandError
    commands = shared_service.commands

    @settings(max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(field=st.sampled_from(["facing", "grip", "planned_flights", "added_load_kg", "athlete", "by"]),
           value=anything)
    def check(field, value):
        try:
            if field == "athlete":
                commands.find_athlete(value)
            elif field == "by":
                commands.acknowledge_fall(value)       # no fall: refused either way, but who is checked first
            else:
                commands.set_drill(**{field: value})
        except CommandError as exc:
            message = str(exc)
            assert message and len(message) < 1000 and "Exceeds the limit" not in message
            assert "\n" not in message
    check()
    assert shared_service.healthy()
