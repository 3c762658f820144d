"""Driving a mock rig from another process (STAIRRIG_MOCK_SOCKET): datagrams become edges and
forces on the mock wires; a bad datagram is dropped with a reason; no file is ever removed that the
service did not bind."""

from __future__ import annotations

import socket
import threading

import pytest

from rig.layout import RigLayout
from rig.sim.mockcontrol import MockRigControl, parse_command
from rig.sim.mockrig import SimulatedRig
from tests.rigs import config_for

LAYOUT = RigLayout(treads=2, rails={"left": ("touch", "force")})


@pytest.fixture
def rig(tmp_path):
    r = SimulatedRig(config_for(LAYOUT, str(tmp_path)))
    try:
        yield r
    finally:
        r.close()


def send(path, *lines: bytes) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        for line in lines:
            s.sendto(line, str(path))


def wait_until(check, what: str) -> None:
    idle = threading.Event()
    for _ in range(200):
        if check():
            return
        idle.wait(0.025)
    raise AssertionError(f"{what} did not happen within 5 s")


def test_datagrams_drive_the_wires_as_the_sensors_would(rig, tmp_path):
    path = tmp_path / "rig.sock"
    control = MockRigControl(rig, str(path))
    control.start()
    try:
        tread = rig.pin("tread.1")                 # a mat to ground with the pull-up: pressed is low
        wire = rig.config.wiring["rail.left.force"]
        send(path, b"tread.1 1", b"rail.left.force 12.5")
        wait_until(lambda: control.received == 2, "two datagrams taken")
        assert tread.state is False
        assert rig.adc.values[wire.adc_channel] == pytest.approx(wire.zero_offset + 12.5 / wire.scale_n)
        send(path, b"tread.1 0\n")
        wait_until(lambda: tread.state is True, "the release")
        send(path, b"tread.9 1", b"tread.1", b"tread.1 on", b"tread.1 nan", b"\xff\xfe 1")
        wait_until(lambda: control.rejected == 5, "five bad datagrams dropped")
        assert control.received == 3 and tread.state is True
    finally:
        control.close()
    assert not path.exists()


@pytest.mark.parametrize("data, reason", [
    (b"tread.9 1", "no channel 'tread.9'"),
    (b"tread.1", "expected '<channel> <value>'"),
    (b"tread.1 on", "must be a number"),
    (b"tread.1 inf", "must be finite"),
    (b"\xff 1", "not UTF-8"),
])
def test_a_bad_datagram_says_what_is_wrong(data, reason):
    with pytest.raises(ValueError, match=reason):
        parse_command(data, {"tread.1": None})


def test_a_file_that_is_not_a_socket_is_never_removed(rig, tmp_path):
    path = tmp_path / "precious.txt"
    path.write_text("keep me")
    with pytest.raises(OSError):
        MockRigControl(rig, str(path))
    assert path.read_text() == "keep me"


def test_a_socket_left_by_a_killed_run_is_replaced_and_only_ours_is_removed(rig, tmp_path):
    path = tmp_path / "rig.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    stale.bind(str(path))
    stale.close()                                  # the file stays, as after kill -9
    control = MockRigControl(rig, str(path))
    path.unlink()                                  # someone else takes the path meanwhile
    path.write_text("not ours")
    control.close()
    assert path.read_text() == "not ours"
