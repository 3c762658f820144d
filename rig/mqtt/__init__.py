"""Home Assistant over MQTT: state, events, discovery and commands (see docs/mqtt.md)."""

from rig.mqtt.client import MqttOutput

__all__ = ["MqttOutput"]
