"""The rig's configuration file: one TOML file, validated once at start.

``load_config("rig.toml")`` reads and checks the whole file and returns a
:class:`RigConfig`; anything wrong raises :class:`ConfigError` with one
message that names the file and the key, for example::

    rig.toml: wiring."tread.3.front".pin: pin 8 is used by the MCP3008's SPI bus (CE0); choose another pin

``check_config_main`` is the ``check-config`` style check for the
command line. ``rig/rig.example.toml`` documents every key. Nothing here
reads a file at import time.

The package, by job: ``models`` (the dataclasses, constants and
:class:`ConfigError`), ``table`` (reading one TOML table, with its type and
range checks), ``wiring`` (the layout, the wiring entries and their channel
names, pins and ADC channels each used once and clear of the SPI bus),
``outputs`` (the ``[mqtt]``, ``[web]`` and ``[buzzer]`` tables) and ``load``
(the file, the whole check in order, ``check-config``). Import from
``rig.config``; the modules are its inside.
"""

from rig.config.host import check_web_host
from rig.config.load import (
    check_config_main,
    describe_rig,
    example_config_path,
    load_config,
    parse_config,
)
from rig.config.models import (
    ADC_CHANNELS,
    BCM_PINS,
    BUZZER_CUES,
    DEFAULT_DATA_DIR,
    DEFAULT_RIG_ID,
    ID_EEPROM_PINS,
    PIN_FACTORIES,
    SPI0_BUS_PINS,
    SPI0_CHIP_SELECT_PINS,
    AdcConfig,
    AnalogWiring,
    AthleteConfig,
    BuzzerConfig,
    ConfigError,
    DigitalWiring,
    DrillConfig,
    Hx711Wiring,
    HistoryConfig,
    MqttConfig,
    RigConfig,
    WebConfig,
)

__all__ = [
    "ADC_CHANNELS", "BCM_PINS", "BUZZER_CUES", "DEFAULT_DATA_DIR", "DEFAULT_RIG_ID", "ID_EEPROM_PINS",
    "PIN_FACTORIES", "SPI0_BUS_PINS", "SPI0_CHIP_SELECT_PINS",
    "AdcConfig", "AnalogWiring", "AthleteConfig", "BuzzerConfig", "ConfigError", "DigitalWiring", "Hx711Wiring",
    "DrillConfig", "HistoryConfig", "MqttConfig", "RigConfig", "WebConfig",
    "check_config_main", "check_web_host", "describe_rig", "example_config_path", "load_config", "parse_config",
]
