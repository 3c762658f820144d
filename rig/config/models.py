"""What a configuration file becomes: :class:`RigConfig` and its parts, the
constants they are checked against, and :class:`ConfigError`.

Plain frozen dataclasses; nothing here reads or validates a file.
"""

from __future__ import annotations

from dataclasses import dataclass

from rig.layout import RigLayout
from rig.settings import DEFAULT_WEIGHT_KG, DetectionSettings

PIN_FACTORIES = ("lgpio", "rpigpio", "native", "mock")
DEFAULT_DATA_DIR = "/var/lib/stairrig"
DEFAULT_RIG_ID = "stairrig"
BCM_PINS = range(0, 28)
ID_EEPROM_PINS = {0: "ID_SD", 1: "ID_SC"}
I2C_PINS = {2: "SDA", 3: "SCL"}
"""I2C1: fixed 1.8 kOhm pull-ups to 3.3 V on the Pi's board; kept for I2C devices."""
HX711_RATES_HZ = (10, 80)
"""The HX711's output rates: its RATE pin (hardwired on the board) picks one."""
SPI0_BUS_PINS = {9: "MISO", 10: "MOSI", 11: "SCLK"}
SPI0_CHIP_SELECT_PINS = {0: 8, 1: 7}  # spi_device -> BCM pin of CE0 / CE1
ADC_CHANNELS = range(0, 8)
BUZZER_CUES = ("grab", "stall", "too_fast", "firm_grip", "flight", "fall")


class ConfigError(ValueError):
    """A configuration that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class DigitalWiring:
    """A switch or touch input on one GPIO pin (a gpiozero ``DigitalInputDevice``).

    pull_up: True for the internal pull-up with the switch closing to ground
    (active low); False for the pull-down (active high); None for a sensor
    that drives the pin itself (a TTP223 touch pad), then ``active_state``
    says which level means "on".
    """

    channel: str
    pin: int
    pull_up: bool | None
    active_state: bool | None


@dataclass(frozen=True)
class Hx711Wiring:
    """An HX711 load-cell amplifier on two GPIO pins (channel A, gain 128)."""

    dout: int
    """BCM pin of the chip's DOUT (data out, low when a reading is ready)."""
    sck: int
    """BCM pin of the chip's PD_SCK (the clock the Pi drives)."""
    rate_hz: int = 10
    """10 or 80 samples a second: what the board's RATE pin is wired for."""


@dataclass(frozen=True)
class AnalogWiring:
    """A force sensor, with its calibration: on one MCP3008 channel (``adc_channel``), or on
    its own HX711 (``hx711``, then ``adc_channel`` is None)."""

    channel: str
    adc_channel: int | None
    zero_offset: float
    """Reading (0..1) at no load: gpiozero's ``MCP3008.value``; for an HX711 its 24-bit
    two's complement count as offset binary, (count + 2**23) / 2**24, so 0.5 is 0 V."""
    scale_n: float
    """Newtons per unit of reading."""
    hx711: Hx711Wiring | None = None

    def to_newtons(self, value: float) -> float:
        return (value - self.zero_offset) * self.scale_n


@dataclass(frozen=True)
class AdcConfig:
    spi_port: int = 0
    spi_device: int = 0
    """Chip select: 0 -> CE0 (BCM 8), 1 -> CE1 (BCM 7)."""
    sample_hz: float = 50.0
    idle_sample_hz: float = 2.0
    """The rate while nobody uses the rig (no force at or above ``[detection] rail_contact_on_n``,
    no tread or touch switch on, for ``idle_after_s``); the first edge or force brings ``sample_hz``
    back at once. Equal to ``sample_hz``: no idle rate."""
    idle_after_s: float = 10.0
    """How long the rig is unused before the idle rate."""


@dataclass(frozen=True)
class AthleteConfig:
    name: str = "Athlete"
    weight_kg: float = DEFAULT_WEIGHT_KG


@dataclass(frozen=True)
class DrillConfig:
    facing: str = "backward"
    grip: str = "light"
    planned_flights: int | None = None
    added_load_kg: float = 0.0


@dataclass(frozen=True)
class HistoryConfig:
    enabled: bool = True
    """Keep sessions in <data_dir>/history.sqlite3."""
    idle_end_s: float = 120.0
    """A session ends after this long with nobody on the stairs."""
    trace_budget_mb: float = 1000.0
    """Session traces are pruned, oldest first, past this size (summaries stay)."""
    run_trace_budget_mb: float = 500.0
    """Whole-run traces (<data_dir>/traces) are pruned past this size."""


@dataclass(frozen=True)
class MqttConfig:
    """The MQTT client (Home Assistant). ``host`` None: no broker configured, no client."""
    enabled: bool = True
    host: str | None = None
    port: int | None = None
    """None: 1883, or 8883 with TLS."""
    tls: bool = False
    ca_file: str | None = None
    """The CA certificate that signed the broker's; None: the system's CAs."""
    username: str | None = None
    password_file: str | None = None
    password_env: str | None = None
    """The name of an environment variable holding the password (never the password itself)."""
    client_id: str | None = None
    """None: ``stairrig-<device id>_<rig id>`` (unique per Pi and rig)."""
    base_topic: str | None = None
    """None: ``stairrig/<rig id>``."""
    discovery_prefix: str = "homeassistant"
    discovery: str = "device"
    """"device" (one config for the whole device, HA 2024.11+), "entity" (one per entity) or "none"."""
    device_id: str | None = None
    """None: from the Pi's serial number, else the machine id, else the rig id."""
    state_max_hz: float = 4.0
    """``<base>/state`` is published on change, at most this often."""
    queue_limit: int = 1000
    """Events kept while the broker is away; beyond it the oldest are dropped and counted."""
    stuck_after_s: float = 300.0
    """A sensor channel on without a break this long is reported as stuck."""
    password: str | None = None
    """Given in an ``mqtt://user:pass@host`` URL in ``STAIRRIG_MQTT_URL``; never in the file, never on the
    command line (``--mqtt`` refuses one: every local user can read a command line)."""

    @property
    def effective_port(self) -> int:
        return self.port if self.port is not None else (8883 if self.tls else 1883)


@dataclass(frozen=True)
class WebConfig:
    """The wall-tablet panel, served by waitress inside the service."""
    enabled: bool = True
    host: str = "0.0.0.0"
    port: int = 8080
    pin: str | None = None
    """Settings, calibration and deleting history ask for it; None: those pages are locked."""
    units: str = "metric"
    """"metric" or "imperial" (elevation in feet)."""
    threads: int = 16
    """waitress worker threads: each open tablet holds one for its event stream."""
    allowed_hosts: tuple[str, ...] = ()
    """Host names the panel answers to besides IP addresses, localhost and this machine's
    name (bare and .local): a guard against DNS rebinding."""


@dataclass(frozen=True)
class BuzzerConfig:
    """A buzzer on a GPIO pin for rigs without a tablet (gpiozero ``Buzzer`` or ``TonalBuzzer``)."""
    pin: int
    kind: str = "buzzer"
    """"buzzer" (active, on/off) or "tonal" (passive piezo driven with tones)."""
    active_high: bool = True
    cues: tuple[str, ...] = BUZZER_CUES
    """The cues it sounds (``BUZZER_CUES``); default all."""


@dataclass(frozen=True)
class RigConfig:
    path: str | None
    rig_id: str
    layout: RigLayout
    wiring: dict[str, DigitalWiring | AnalogWiring]
    adc: AdcConfig | None
    athlete: AthleteConfig
    drill: DrillConfig
    detection: DetectionSettings
    data_dir: str
    pin_factory: str | None
    record_traces: bool
    history: HistoryConfig = HistoryConfig()
    mqtt: MqttConfig = MqttConfig()
    web: WebConfig = WebConfig()
    buzzer: BuzzerConfig | None = None
