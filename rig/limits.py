"""The bounds every number from outside has to keep: the configuration file's
keys, a trace header's, and the sizes of the files and lines that are read.

One place, shared by ``rig/config`` (which checks a configuration) and
``rig/trace`` (which checks a trace header against the same bounds), so that
a rig the configuration refuses is refused by replay too. Each bound is far
beyond any real rig, and near enough that nothing built from it (a
detector's treads and channels, a grab window's samples, a queue) can take
the machine's memory or time.
"""

from __future__ import annotations

# -- the rig ---------------------------------------------------------------
MAX_TREADS = 64
"""Instrumented treads of a flight. A Pi has 26 free GPIO pins and an MCP3008
8 channels; building codes end a flight at about 3.7 m (22 risers)."""
RISER_M = (0.0, 0.5)    # (open, closed]: metres; also a stepper's pedal stroke
WEIGHT_KG = (20.0, 300.0)
ADDED_LOAD_KG = (0.0, 50.0)
PLANNED_FLIGHTS = (1, 200)

# -- the ADC and the history -----------------------------------------------
SAMPLE_HZ = (1.0, 1000.0)
IDLE_SAMPLE_HZ_MIN = 0.5
IDLE_AFTER_S = (1.0, 3600.0)
IDLE_END_S = (5.0, 86400.0)
TRACE_BUDGET_MB = (1.0, 1e6)
SCALE_N_MAX = 100_000.0
"""|newtons per unit of ADC reading|: 10 t at full scale, beyond any load cell on a rail or a tread."""

# -- outputs ---------------------------------------------------------------
PORTS = (1, 65535)
WEB_PORTS = (0, 65535)   # 0: any free port
WEB_THREADS = (4, 256)
STATE_MAX_HZ = (0.1, 20.0)
QUEUE_LIMIT = (10, 100_000)
"""MQTT events kept while the broker is away: at about 1 KB each, 100 MB at most."""
STUCK_AFTER_S = (10.0, 86400.0)
MAX_PATH_CHARS = 4096    # PATH_MAX on Linux
MAX_HOST_CHARS = 253     # a DNS name
MAX_TEXT_CHARS = 256     # user names, topics and other short strings of the configuration
MAX_ALLOWED_HOSTS = 64

# -- detection: every setting is above 0 and at most this --------------------
DETECTION_MAX = {
    "min_contact_s": 5.0,
    "bridge_s": 5.0,
    "tread_force_on_min_n": 5000.0,
    "tread_force_on_bw": 1.0,
    "tread_force_off_ratio": 1.0,   # and below 1 (checked with its message)
    "rail_contact_on_n": 5000.0,
    "rail_contact_off_n": 5000.0,
    "rail_min_contact_s": 5.0,
    "firm_on_n": 5000.0,
    "firm_off_n": 5000.0,
    "grab_rise_min_n": 5000.0,
    "grab_rise_bw": 2.0,
    "grab_window_s": 10.0,          # a grab is sudden; the window's samples are kept
    "grab_floor_n": 5000.0,
    "stall_s": 600.0,
    "fall_wait_s": 60.0,
    "facing_simultaneity_s": 1.0,
}

# -- files and lines ---------------------------------------------------------
MAX_CONFIG_BYTES = 1 << 20
"""A configuration file is a few kilobytes; past a megabyte it is not one."""
MAX_TOML_DIGITS = 4300
"""Python's own limit for a whole number written in decimal (``sys.get_int_max_str_digits``)."""
MAX_TRACE_LINE_BYTES = 1 << 16
"""A trace line (the header or a sample) longer than 64 KB is an error: a sample is
about 50 bytes, a header a few hundred."""
