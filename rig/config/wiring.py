"""The rig's shape and its wiring: ``[rig]`` becomes a :class:`RigLayout`,
``[wiring]`` one :class:`DigitalWiring` or :class:`AnalogWiring` per channel,
checked against the layout's channel names; then every GPIO pin and ADC
channel is claimed once, away from the pins the MCP3008's SPI bus needs and
from the Pi's reserved pins (HAT ID EEPROM, I2C). A force channel is read
through the MCP3008 (``adc_channel``) or through its own HX711
(``hx711 = { dout, sck, rate_hz }``)."""

from __future__ import annotations

from typing import Any

from rig.config.models import (
    ADC_CHANNELS,
    BCM_PINS,
    HX711_RATES_HZ,
    I2C_PINS,
    ID_EEPROM_PINS,
    SPI0_BUS_PINS,
    SPI0_CHIP_SELECT_PINS,
    AdcConfig,
    AnalogWiring,
    BuzzerConfig,
    ConfigError,
    DigitalWiring,
    Hx711Wiring,
)
from rig.config.table import _brief, _key, _Table
from rig.limits import MAX_TREADS, RISER_M, SCALE_N_MAX
from rig.layout import (
    RAIL_SENSORS,
    RAIL_SIDES,
    RIG_KINDS,
    SPLIT_ZONES,
    TREAD_SENSORS,
    LayoutError,
    RigLayout,
)

_RIG_KEYS = ("id", "kind", "treads", "riser_m", "tread_sensor", "tread_zones")
_DIGITAL_KEYS = ("pin", "pull_up", "active_state")
_ANALOG_KEYS = ("adc_channel", "zero_offset", "scale_n", "hx711")
_HX711_KEYS = ("dout", "sck", "rate_hz")


def _read_layout(rig: _Table, wiring: dict[str, Any]) -> RigLayout:
    kind = rig.string("kind", "flight", RIG_KINDS)
    treads = rig.integer("treads", valid=range(1, MAX_TREADS + 1))
    if kind == "stepper" and treads != 2:
        rig.fail("treads", f"a stepper has two pedals: treads must be 2, not {treads}")
    riser_m = rig.number("riser_m", low=RISER_M[0], high=RISER_M[1], low_open=True)
    tread_sensor = rig.string("tread_sensor", "switch", TREAD_SENSORS)
    zones = rig.raw("tread_zones", [])
    if zones not in ([], list(SPLIT_ZONES)):
        rig.fail("tread_zones", f'must be [] or ["front", "back"], not {_brief(zones)}')
    rails = {side: tuple(s for s in RAIL_SENSORS if f"rail.{side}.{s}" in wiring) for side in RAIL_SIDES}
    try:
        return RigLayout(kind=kind, treads=treads, riser_m=riser_m, tread_sensor=tread_sensor,
                         split=bool(zones), rails={side: s for side, s in rails.items() if s})
    except LayoutError as exc:
        raise ConfigError(f"{rig.file}: {exc}") from None


def _describe_channels(layout: RigLayout) -> str:
    if layout.tread_sensor == "force":
        treads = "tread.<i>.force"
    elif layout.split:
        treads = "tread.<i>.front and tread.<i>.back"
    else:
        treads = "tread.<i>"
    return f"this rig's channels are {treads} for i = 1 to {layout.treads}, and rail.<left|right>.<touch|force>"


def _check_channel_names(file: str, layout: RigLayout, wiring: dict[str, Any]) -> None:
    expected = layout.channels()
    for name in wiring:
        if name in ("tread", "rail") and isinstance(wiring[name], dict):
            raise ConfigError(f'{file}: wiring.{name}: channel names contain dots, so quote them: '
                              f'"{name}.1" = {{ ... }}, not {name}.1 = {{ ... }}')
        if name not in expected:
            raise ConfigError(f"{file}: {_key('wiring', name)}: not a channel of this rig; "
                              f"{_describe_channels(layout)}")
    for tread in range(1, layout.treads + 1):
        channels = layout.tread_channels(tread)
        missing = [c for c in channels if c not in wiring]
        if missing:
            what = "has no channel" if len(missing) == len(channels) else f"has no {missing[0].rsplit('.', 1)[1]} half"
            add = " and ".join(f'"{c}"' for c in missing)
            raise ConfigError(f"{file}: wiring: tread {tread} {what}: add {add}")


def _read_wiring_entry(file: str, channel: str, data: object) -> DigitalWiring | AnalogWiring:
    analog = RigLayout.is_analog(channel)
    if isinstance(data, dict):
        wrong = [k for k in (_DIGITAL_KEYS if analog else _ANALOG_KEYS) if k in data]
        if wrong:
            kind = ("a force channel, read through the MCP3008 or an HX711: give adc_channel "
                    "(or hx711) and scale_n"
                    if analog else "a digital channel on a GPIO pin: give pin (and pull_up or active_state)")
            raise ConfigError(f"{file}: {_key('wiring', channel, wrong[0])}: {channel} is {kind}, not {wrong[0]}")
    entry = _Table(file, ("wiring", channel), data, _ANALOG_KEYS if analog else _DIGITAL_KEYS)
    if analog:
        scale_n = entry.number("scale_n", low=-SCALE_N_MAX, high=SCALE_N_MAX)
        if scale_n == 0:
            entry.fail("scale_n", "must not be 0 (newtons per unit of ADC reading)")
        if "hx711" in entry.data:
            if "adc_channel" in entry.data:
                entry.fail("hx711", "give either adc_channel (an MCP3008 input) or hx711 (the amplifier's "
                                    "own two pins), not both")
            hx711 = _read_hx711(file, channel, entry.data["hx711"])
            # 0.5 is 0 V between the HX711's inputs: an unloaded cell reads near it
            return AnalogWiring(channel=channel, adc_channel=None,
                                zero_offset=entry.number("zero_offset", 0.5, low=0.0, high=1.0),
                                scale_n=scale_n, hx711=hx711)
        return AnalogWiring(channel=channel, adc_channel=entry.integer("adc_channel", valid=ADC_CHANNELS),
                            zero_offset=entry.number("zero_offset", 0.0, low=0.0, high=1.0), scale_n=scale_n)
    pin = entry.integer("pin", valid=BCM_PINS)
    if pin in ID_EEPROM_PINS:
        entry.fail("pin", f"pin {pin} ({ID_EEPROM_PINS[pin]}) is reserved for the HAT ID EEPROM; choose another pin")
    pull_up = entry.boolean("pull_up", None)
    active_state = entry.boolean("active_state", None)
    if pull_up is None and active_state is None:
        entry.fail(None, "without pull_up (a sensor that drives the pin itself, such as a TTP223) "
                         "active_state is required: true for active high, false for active low")
    if pull_up is not None and active_state is not None:
        entry.fail("active_state", "give either pull_up (the pull resistor sets the active level) "
                                   "or active_state (no pull resistor), not both")
    return DigitalWiring(channel=channel, pin=pin, pull_up=pull_up, active_state=active_state)


def _read_hx711(file: str, channel: str, data: object) -> Hx711Wiring:
    table = _Table(file, ("wiring", channel, "hx711"), data, _HX711_KEYS)
    pins = {}
    for name in ("dout", "sck"):
        pins[name] = table.integer(name, valid=BCM_PINS)
        if pins[name] in ID_EEPROM_PINS:
            table.fail(name, f"pin {pins[name]} ({ID_EEPROM_PINS[pins[name]]}) is reserved for the HAT ID "
                             f"EEPROM; choose another pin")
    if pins["dout"] == pins["sck"]:
        table.fail("sck", f"DOUT and PD_SCK need two pins, not both {pins['sck']}")
    rate_hz = table.integer("rate_hz", Hx711Wiring.rate_hz)
    if rate_hz not in HX711_RATES_HZ:
        table.fail("rate_hz", f"must be 10 or 80 (the HX711's rates: its RATE pin to ground is 10, "
                              f"to VCC 80), not {rate_hz}")
    return Hx711Wiring(dout=pins["dout"], sck=pins["sck"], rate_hz=rate_hz)


def _check_resources(file: str, wiring: dict[str, DigitalWiring | AnalogWiring], adc: AdcConfig | None,
                     buzzer: BuzzerConfig | None = None) -> None:
    """Each pin and ADC channel used once; nothing on the SPI pins the ADC needs."""
    reserved: dict[int, str] = {}
    if adc is not None and any(isinstance(w, AnalogWiring) and w.hx711 is None for w in wiring.values()):
        # dtparam=spi=on hands both chip selects to the kernel's spidev driver,
        # so neither is free for an input while the ADC is in use.
        reserved = {**SPI0_BUS_PINS, **{pin: f"CE{dev}" + (" (claimed by the SPI driver)" if dev != adc.spi_device else "")
                                        for dev, pin in SPI0_CHIP_SELECT_PINS.items()}}
    pins: dict[int, str] = {}

    def claim(where: str, pin: int, owner: str, needs: str) -> None:
        if pin in I2C_PINS:
            raise ConfigError(f"{file}: {where}: pin {pin} is I2C {I2C_PINS[pin]}, which the Pi keeps for I2C "
                              f"devices (it has a fixed 1.8 kOhm pull-up to 3.3 V on the board); "
                              f"choose another pin")
        if pin in reserved:
            raise ConfigError(f"{file}: {where}: pin {pin} is used by the MCP3008's SPI bus "
                              f"({reserved[pin]}); choose another pin")
        if pin in pins:
            raise ConfigError(f'{file}: {where}: pin {pin} is already used by "{pins[pin]}"; {needs}')
        pins[pin] = owner

    adc_channels: dict[int, str] = {}
    rates: dict[int, str] = {}
    for channel, wire in wiring.items():
        if isinstance(wire, DigitalWiring):
            claim(_key("wiring", channel, "pin"), wire.pin, channel, "each channel needs its own pin")
        elif wire.hx711 is not None:
            for name in ("dout", "sck"):
                claim(_key("wiring", channel, "hx711", name), getattr(wire.hx711, name), f"{channel} ({name})",
                      "each HX711 needs its own two pins")
            rates.setdefault(wire.hx711.rate_hz, channel)
            if len(rates) > 1:
                first = rates[80 if wire.hx711.rate_hz == 10 else 10]
                raise ConfigError(f"{file}: {_key('wiring', channel, 'hx711', 'rate_hz')}: the HX711s of a rig "
                                  f"are read together, at one rate: {wire.hx711.rate_hz} here but "
                                  f"{'80' if wire.hx711.rate_hz == 10 else '10'} on \"{first}\"; "
                                  f"wire every board's RATE pin alike")
        else:
            where = _key("wiring", channel, "adc_channel")
            if wire.adc_channel in adc_channels:
                raise ConfigError(f'{file}: {where}: ADC channel {wire.adc_channel} is already used by '
                                  f'"{adc_channels[wire.adc_channel]}"; each force sensor needs its own channel')
            adc_channels[wire.adc_channel] = channel
    if buzzer is not None:
        claim("buzzer.pin", buzzer.pin, "buzzer", "the buzzer needs its own pin")
