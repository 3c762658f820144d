"""The FIT binary format, written: a 14-byte header, definition and data messages, a CRC.

FIT (Garmin's Flexible and Interoperable Data Transfer protocol) is a stream
of records after a header. A *definition* record tells which fields (number,
size, base type) a *local message type* (0 to 15) carries for a global
message (``file_id`` is 0, ``record`` 20 ...); the *data* records that follow
carry just the values, in that order. Everything here is little-endian. The
header and the whole file each end with the protocol's CRC-16 (the SDK's
nibble table).

A caller gives each message by its name and its fields' raw values by name
(``profile.py`` has their numbers and base types; scale and offset are the
caller's, with ``scaled``). A field whose value is ``None`` is left out.
Pure: no I/O, no clock.
"""

from __future__ import annotations

import datetime as dt
import math
import struct

from rig.fit.profile import MESSAGES

PROTOCOL_VERSION = 0x20          # 2.0
PROFILE_VERSION = 21 * 1000 + 218   # the FIT profile the fields were taken from (SDK 21.218)
HEADER_SIZE = 14
FIT_EPOCH = dt.datetime(1989, 12, 31, tzinfo=dt.timezone.utc)
LOCAL_TYPES = 16

# base type -> (its byte in a definition, struct code, lowest, highest valid raw value)
# The highest value of each unsigned type (and 0 of the "z" types) means "invalid" in FIT.
BASE_TYPES = {
    "enum": (0x00, "B", 0, 0xFE),
    "sint8": (0x01, "b", -0x7F, 0x7E),
    "uint8": (0x02, "B", 0, 0xFE),
    "sint16": (0x83, "h", -0x7FFF, 0x7FFE),
    "uint16": (0x84, "H", 0, 0xFFFE),
    "sint32": (0x85, "i", -0x7FFFFFFF, 0x7FFFFFFE),
    "uint32": (0x86, "I", 0, 0xFFFFFFFE),
    "string": (0x07, None, None, None),
    "uint8z": (0x0A, "B", 1, 0xFF),
    "uint16z": (0x8B, "H", 1, 0xFFFF),
    "uint32z": (0x8C, "I", 1, 0xFFFFFFFF),
}

_CRC_TABLE = (0x0000, 0xCC01, 0xD801, 0x1400, 0xF001, 0x3C00, 0x2800, 0xE401,
              0xA001, 0x6C00, 0x7800, 0xB401, 0x5000, 0x9C01, 0x8801, 0x4400)


def crc16(data: bytes, crc: int = 0) -> int:
    """The FIT CRC-16 of ``data`` (continuing from ``crc``)."""
    for byte in data:
        tmp = _CRC_TABLE[crc & 0xF]
        crc = (crc >> 4) & 0x0FFF
        crc = crc ^ tmp ^ _CRC_TABLE[byte & 0xF]
        tmp = _CRC_TABLE[crc & 0xF]
        crc = (crc >> 4) & 0x0FFF
        crc = crc ^ tmp ^ _CRC_TABLE[(byte >> 4) & 0xF]
    return crc


def fit_time(t: dt.datetime) -> int:
    """A FIT ``date_time``: whole seconds since 1989-12-31 00:00 UTC (the fraction dropped)."""
    if t.tzinfo is None:
        raise ValueError(f"a FIT time needs a time zone: {t.isoformat()}")
    return math.floor((t - FIT_EPOCH).total_seconds())


def scaled(value: float | None, scale: float = 1, offset: float = 0) -> int | None:
    """A value in its units as a FIT raw integer: ``(value + offset) * scale``, rounded."""
    if value is None:
        return None
    return round((value + offset) * scale)


class FitWriter:
    """Messages in, one FIT file out (``to_bytes``)."""

    def __init__(self) -> None:
        self._records = bytearray()
        self._local_of: dict[tuple, int] = {}     # a definition's signature -> its local type
        self._signature_of: dict[int, tuple] = {}  # the other way round
        self._next_local = 0
        self.messages = 0

    def message(self, name: str, values: dict[str, object]) -> None:
        """One data message (and its definition when the same fields were not defined yet).

        A field the profile does not have, or a raw value out of its base
        type's range, is a ``ValueError`` naming the message and the field.
        """
        global_num, fields = MESSAGES[name]
        unknown = set(values) - set(fields)
        if unknown:
            raise ValueError(f"FIT {name} has no field {sorted(unknown)[0]!r}")
        present = []
        for field, (num, base) in fields.items():
            value = values.get(field)
            if value is not None:
                present.append((num, base, self._raw(f"{name} {field}", base, value)))
        signature = (global_num, tuple((num, base, len(raw)) for num, base, raw in present))
        local = self._local_of.get(signature)
        if local is None:
            local = self._define(signature)
        self._records.append(local & 0x0F)
        for _num, _base, raw in present:
            self._records += raw
        self.messages += 1

    def to_bytes(self) -> bytes:
        """The header, the records and the file's CRC."""
        header = struct.pack("<BBHI4s", HEADER_SIZE, PROTOCOL_VERSION, PROFILE_VERSION,
                             len(self._records), b".FIT")
        header += struct.pack("<H", crc16(header))
        body = header + bytes(self._records)
        return body + struct.pack("<H", crc16(body))

    # -- inside ------------------------------------------------------------------

    def _define(self, signature: tuple) -> int:
        local = self._next_local
        self._next_local = (self._next_local + 1) % LOCAL_TYPES
        old = self._signature_of.pop(local, None)
        if old is not None:
            del self._local_of[old]
        self._local_of[signature] = local
        self._signature_of[local] = signature
        global_num, fields = signature
        self._records += struct.pack("<BBBHB", 0x40 | local, 0, 0, global_num, len(fields))
        for num, base, size in fields:
            self._records += struct.pack("<BBB", num, size, BASE_TYPES[base][0])
        return local

    @staticmethod
    def _raw(what: str, base: str, value) -> bytes:
        _byte, code, low, high = BASE_TYPES[base]
        if code is None:                           # a string: UTF-8, NUL-terminated
            raw = str(value).encode("utf-8")[:254]
            while raw:                             # never cut a character in two
                try:
                    raw.decode("utf-8")
                    break
                except UnicodeDecodeError:
                    raw = raw[:-1]
            return raw.replace(b"\0", b" ") + b"\0"
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"FIT {what}: {value!r} is not a whole number")
        if not low <= value <= high:
            raise ValueError(f"FIT {what}: {value} is outside what a {base} holds ({low} to {high})")
        return struct.pack("<" + code, value)
