"""The part of the FIT profile (Garmin FIT SDK 21.218, ``Profile.xlsx``) that stairrig writes.

Each message: its global number and, by name, each field's number and base
type. Scales and offsets are applied by the caller (``encoder.scaled``), as
the comments say.
"""

from __future__ import annotations

TIMESTAMP = (253, "uint32")          # date_time: s since 1989-12-31 00:00 UTC
MESSAGE_INDEX = (254, "uint16")

MESSAGES: dict[str, tuple[int, dict[str, tuple[int, str]]]] = {
    "file_id": (0, {
        "type": (0, "enum"), "manufacturer": (1, "uint16"), "product": (2, "uint16"),
        "serial_number": (3, "uint32z"), "time_created": (4, "uint32"), "product_name": (8, "string"),
    }),
    "device_info": (23, {
        "timestamp": TIMESTAMP, "device_index": (0, "uint8"), "manufacturer": (2, "uint16"),
        "serial_number": (3, "uint32z"), "product": (4, "uint16"),
        "software_version": (5, "uint16"),                 # x 100
        "source_type": (25, "enum"), "product_name": (27, "string"),
    }),
    "event": (21, {
        "timestamp": TIMESTAMP, "event": (0, "enum"), "event_type": (1, "enum"), "event_group": (4, "uint8"),
    }),
    "record": (20, {
        "timestamp": TIMESTAMP,
        "altitude": (2, "uint16"),                         # (m + 500) x 5
        "cadence": (4, "uint8"),                           # per minute
        "distance": (5, "uint32"),                         # m x 100
        "total_cycles": (19, "uint32"),
    }),
    "lap": (19, {
        "message_index": MESSAGE_INDEX, "timestamp": TIMESTAMP, "event": (0, "enum"), "event_type": (1, "enum"),
        "start_time": (2, "uint32"),
        "total_elapsed_time": (7, "uint32"), "total_timer_time": (8, "uint32"),     # s x 1000
        "total_distance": (9, "uint32"), "total_cycles": (10, "uint32"),
        "avg_cadence": (17, "uint8"), "avg_fractional_cadence": (80, "uint8"),      # the fraction x 128
        "total_ascent": (21, "uint16"), "total_descent": (22, "uint16"),            # whole m
        "total_fractional_ascent": (156, "uint8"), "total_fractional_descent": (157, "uint8"),   # m x 100
        "intensity": (23, "enum"), "lap_trigger": (24, "enum"), "sport": (25, "enum"), "sub_sport": (39, "enum"),
    }),
    "session": (18, {
        "message_index": MESSAGE_INDEX, "timestamp": TIMESTAMP, "event": (0, "enum"), "event_type": (1, "enum"),
        "start_time": (2, "uint32"), "sport": (5, "enum"), "sub_sport": (6, "enum"),
        "total_elapsed_time": (7, "uint32"), "total_timer_time": (8, "uint32"),     # s x 1000
        "total_distance": (9, "uint32"), "total_cycles": (10, "uint32"),
        "total_calories": (11, "uint16"),                                           # kcal
        "avg_cadence": (18, "uint8"), "max_cadence": (19, "uint8"), "avg_fractional_cadence": (92, "uint8"),
        "total_ascent": (22, "uint16"), "total_descent": (23, "uint16"),
        "total_fractional_ascent": (199, "uint8"), "total_fractional_descent": (200, "uint8"),
        "first_lap_index": (25, "uint16"), "num_laps": (26, "uint16"), "trigger": (28, "enum"),
        "total_moving_time": (59, "uint32"),                                        # s x 1000
    }),
    "activity": (34, {
        "timestamp": TIMESTAMP, "total_timer_time": (0, "uint32"), "num_sessions": (1, "uint16"),
        "type": (2, "enum"), "event": (3, "enum"), "event_type": (4, "enum"),
        "local_timestamp": (5, "uint32"),                  # local_date_time: s since 1989-12-31 00:00 local
    }),
}

# enum values
FILE_ACTIVITY = 4
MANUFACTURER_DEVELOPMENT = 255
DEVICE_CREATOR = 0
SOURCE_LOCAL = 5
SPORT_FITNESS_EQUIPMENT = 4
SUB_SPORT_STAIR_CLIMBING = 16
EVENT_TIMER, EVENT_SESSION, EVENT_LAP, EVENT_ACTIVITY = 0, 8, 9, 26
EVENT_START, EVENT_STOP, EVENT_STOP_ALL = 0, 1, 4
LAP_TRIGGER_MANUAL, LAP_TRIGGER_SESSION_END = 0, 7
SESSION_TRIGGER_ACTIVITY_END = 0
ACTIVITY_MANUAL = 0
INTENSITY_ACTIVE = 0
