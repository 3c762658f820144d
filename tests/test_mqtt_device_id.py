"""The device id Home Assistant keys the rig on: stable, from the hardware, the owner's choice first."""

from dataclasses import replace

import pytest

from rig.layout import RigLayout
from rig.mqtt.device_id import HardwarePaths, device_identity
from tests.rigs import config_for


@pytest.fixture
def config(tmp_path):
    return config_for(RigLayout(treads=2), str(tmp_path))


def paths(tmp_path, *, serial=None, cpuinfo=None, machine_id=None, model=None) -> HardwarePaths:
    def write(name, content):
        if content is None:
            return str(tmp_path / f"missing-{name}")
        p = tmp_path / name
        p.write_bytes(content if isinstance(content, bytes) else content.encode())
        return str(p)
    return HardwarePaths(serial_number=write("serial-number", serial), cpuinfo=write("cpuinfo", cpuinfo),
                         machine_id=write("machine-id", machine_id), model=write("model", model))


def test_the_pi_serial_number_from_the_device_tree(config, tmp_path):
    hw = paths(tmp_path, serial=b"10000000abcdef12\x00", cpuinfo="Serial\t\t: 99999999\n",
               machine_id="0123456789abcdef0123456789abcdef\n", model=b"Raspberry Pi 4 Model B Rev 1.4\x00")
    ident = device_identity(config, hw)
    assert ident.device_id == "stairrig_10000000abcdef12"
    assert ident.serial == "10000000abcdef12" and ident.model == "Raspberry Pi 4 Model B Rev 1.4"


def test_the_serial_from_cpuinfo_on_older_kernels(config, tmp_path):
    cpuinfo = "processor\t: 0\nHardware\t: BCM2835\nRevision\t: a02082\nSerial\t\t: 00000000DEADBEEF\nModel\t: x\n"
    ident = device_identity(config, paths(tmp_path, cpuinfo=cpuinfo, machine_id="abc\n"))
    assert ident.device_id == "stairrig_00000000deadbeef"


def test_the_machine_id_when_not_a_pi(config, tmp_path):
    hw = paths(tmp_path, serial=b"0000000000000000\x00", machine_id="0123456789abcdef0123456789abcdef\n")
    ident = device_identity(config, hw)
    assert ident.device_id == "stairrig_0123456789abcdef0123456789abcdef"
    assert ident.serial is None and ident.source == "/etc/machine-id"


def test_the_rig_id_as_a_last_resort(config, tmp_path):
    ident = device_identity(replace(config, rig_id="garage-rig"), paths(tmp_path))
    assert ident.device_id == "stairrig_garage-rig" and ident.source == "rig id"


def test_the_configured_device_id_wins_and_is_prefixed_once(tmp_path):
    hw = paths(tmp_path, serial=b"10000000abcdef12\x00")
    for given, expected in (("hallway", "stairrig_hallway"), ("stairrig_hallway", "stairrig_hallway")):
        config = config_for(RigLayout(treads=2), str(tmp_path), mqtt={"device_id": given})
        assert device_identity(config, hw).device_id == expected


def test_the_id_never_changes_by_itself(config, tmp_path):
    hw = paths(tmp_path, serial=b"10000000abcdef12\x00", machine_id="feed\n")
    first = device_identity(config, hw).device_id
    # the same hardware gives the same id, whatever else changes (rig id, MQTT settings, time)
    other = replace(config, rig_id="renamed", mqtt=replace(config.mqtt, base_topic="x/y", client_id="c"))
    assert [device_identity(config, hw).device_id for _ in range(3)] == [first] * 3
    assert device_identity(other, hw).device_id == first


def test_ids_hold_only_safe_characters(config, tmp_path):
    hw = paths(tmp_path, machine_id="ab:cd ef/01\n")
    assert device_identity(config, hw).device_id == "stairrig_abcdef01"
