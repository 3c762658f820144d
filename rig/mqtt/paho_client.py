"""Setting up the paho-mqtt 2 client: identity, last will, password, TLS, callbacks; and one publish.

``make_paho_client`` builds the client without touching the network; a
problem that makes MQTT impossible (a CA file that cannot be used) is
returned as a reason, and the rig counts without MQTT. A password that
cannot be read is logged, and the client connects without one (a broker that
wants one refuses, and the log says so).
"""

from __future__ import annotations

import logging
import os
from typing import Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from rig.config import MqttConfig

log = logging.getLogger(__name__)
paho_log = logging.getLogger("rig.mqtt.paho")

KEEPALIVE_S = 30
RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 30


class PahoCallbacks(Protocol):
    """What the client's callbacks go to (paho's VERSION2 signatures)."""

    def on_connect(self, client, userdata, flags, reason_code, properties) -> None: ...
    def on_connect_fail(self, client, userdata) -> None: ...
    def on_disconnect(self, client, userdata, flags, reason_code, properties) -> None: ...
    def on_publish(self, client, userdata, mid, reason_code, properties) -> None: ...
    def on_message(self, client, userdata, message) -> None: ...


def read_password(cfg: MqttConfig) -> str | None:
    """The password: from the URL, else ``password_file``, else the variable ``password_env`` names."""
    if cfg.password is not None:
        return cfg.password
    if cfg.password_file:
        try:
            with open(cfg.password_file, encoding="utf-8") as f:
                return f.read(65535).rstrip("\r\n")   # MQTT's longest password; /dev/zero by mistake stays bounded
        except (OSError, UnicodeDecodeError) as exc:
            log.error("MQTT: cannot read the password file %s (%s); connecting without a password",
                      cfg.password_file, getattr(exc, "strerror", None) or exc)
            return None
    if cfg.password_env:
        value = os.environ.get(cfg.password_env)
        if value is None:
            log.error("MQTT: the environment variable %s (password_env) is not set; connecting without a "
                      "password", cfg.password_env)
        return value
    return None


def log_paho(client, userdata, level, buf) -> None:
    """paho's own log: a callback that raised is an error of ours; the rest is debug."""
    if buf.startswith("Caught exception"):
        log.error("MQTT: %s", buf)
    else:
        paho_log.debug("%s", buf)


def make_paho_client(cfg: MqttConfig, *, client_id: str, will_topic: str,
                     callbacks: PahoCallbacks) -> tuple[mqtt.Client, str | None]:
    """The client, and why MQTT cannot work (None: it can)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311,
                         clean_session=True)
    client.suppress_exceptions = True      # a failing callback must not end paho's network thread
    client.on_log = log_paho
    client.max_inflight_messages_set(0)      # unlimited: our own queue bounds what is in flight
    client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
    client.will_set(will_topic, "offline", qos=1, retain=True)
    password = read_password(cfg)
    if cfg.username is not None:
        client.username_pw_set(cfg.username, password)
    elif password is not None:
        log.warning("MQTT: a password is given without a user name; it is not used")
    broken = None
    if cfg.tls:
        try:
            client.tls_set(ca_certs=cfg.ca_file or None)
        except (OSError, ValueError) as exc:     # ssl.SSLError is an OSError
            broken = f"TLS cannot be set up with ca_file {cfg.ca_file}: {exc}"
            log.error("MQTT is off: %s; the rig counts without it", broken)
    client.on_connect = callbacks.on_connect
    client.on_connect_fail = callbacks.on_connect_fail
    client.on_disconnect = callbacks.on_disconnect
    client.on_publish = callbacks.on_publish
    client.on_message = callbacks.on_message
    return client, broken


def publish(client: mqtt.Client, topic: str, payload: bytes | str, *, qos: int = 0,
            retain: bool = False) -> mqtt.MQTTMessageInfo | None:
    """Hand one message to paho; None when paho refused it (logged). Without a connection, paho
    keeps a QoS 1 message and sends it after reconnecting; a QoS 0 one is gone."""
    try:
        info = client.publish(topic, payload, qos=qos, retain=retain)
    except (ValueError, OSError) as exc:
        log.error("MQTT: cannot publish on %s: %s", topic, exc)
        return None
    if qos == 0 and info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
        log.warning("MQTT: publishing on %s failed: %s", topic, mqtt.error_string(info.rc))
    return info
