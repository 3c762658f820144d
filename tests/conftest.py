"""Shared fixtures: a real Mosquitto for the MQTT tests, and rigs that talk to it.

``mqtt_broker`` is one broker for the whole session (tests keep apart by
rig id and base topic); ``restartable_broker`` is a test's own, which it may
stop and start again. ``mqtt_rig`` starts services (on gpiozero's MockFactory:
only the hardware is mocked) with MQTT pointed at a broker, and stops them
at the end of the test.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from gpiozero.pins.mock import MockFactory

from rig.layout import RigLayout
from tests.broker import Broker, mosquitto_path

TOUCH_RAILS = RigLayout(treads=3, riser_m=0.17, rails={"left": ("touch",), "right": ("touch",)})


def _need_mosquitto() -> None:
    if mosquitto_path() is None:
        pytest.fail("mosquitto is not installed: apt-get install mosquitto (./dev.sh test installs it)")


@pytest.fixture(scope="session")
def mqtt_broker():
    _need_mosquitto()
    broker = Broker().start()
    yield broker
    broker.close()


@pytest.fixture
def restartable_broker():
    _need_mosquitto()
    broker = Broker().start()
    yield broker
    broker.close()


class RigStarter:
    """``start(port, rig_id=..., layout=..., **mqtt)`` -> a started Service; all stopped at teardown."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.services = []
        self.factories = []

    def config(self, port: int, *, rig_id: str = "stairrig", layout: RigLayout = TOUCH_RAILS, idle_end_s=120.0,
               **mqtt):
        from tests.rigs import config_for
        data_dir = self.tmp_path / rig_id
        config = config_for(layout, str(data_dir), mqtt={"host": "127.0.0.1", "port": port, **mqtt},
                            history={"idle_end_s": idle_end_s})
        return replace(config, rig_id=rig_id)

    def start(self, port: int, *, pin_factory=None, clock=None, **kwargs):
        from rig.service import Service
        config = self.config(port, **kwargs)
        if pin_factory is None:
            pin_factory = MockFactory()
            self.factories.append(pin_factory)
        service = Service(config, pin_factory=pin_factory, clock=clock, source="test")
        self.services.append(service)
        service.start()
        return service

    def stop(self, service) -> None:
        if service in self.services:
            self.services.remove(service)
            service.stop()

    def close(self) -> None:
        for service in reversed(self.services):
            try:
                service.stop()
            except Exception:
                pass
        self.services.clear()
        for factory in self.factories:
            factory.close()
        self.factories.clear()


@pytest.fixture
def mqtt_rig(tmp_path):
    starter = RigStarter(tmp_path)
    yield starter
    starter.close()


@pytest.fixture
def root(tmp_path):
    """An empty folder standing for / (install.sh --root)."""
    r = tmp_path / "root"
    r.mkdir()
    return r
