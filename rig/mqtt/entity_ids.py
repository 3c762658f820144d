"""Entity ids that are the same on every Home Assistant version.

Home Assistant 2025.10 and later take the id an entity suggests
(``default_entity_id``). Older versions drop that key (the discovery schema
removes keys it does not know) and build the id from the names instead:
``<platform>.`` + slugify(device name + " " + entity name), or
slugify(device name) alone for an entity whose name is null (the device's
main feature). So the rig suggests exactly the id the names give, and both
agree: one rule, ``default_entity_id(platform, device name, entity name)``.

The device is called ``Stairrig`` for the default rig id and
``Stairrig <rig id>`` otherwise (``sensor.stairrig_steps_today``,
``sensor.stairrig_garage_steps_today``).

``ha_slugify`` is Home Assistant's ``homeassistant.util.slugify``
(python-slugify with the separator "_", its default "legacy" pipeline) for
ASCII text, which is all the rig ever gives it: its names are fixed and a
rig id is ``[A-Za-z0-9_-]``. Non-ASCII text would need python-slugify's
transliteration tables, so it is refused rather than guessed.
"""

from __future__ import annotations

import re
import unicodedata
from html.entities import name2codepoint

from rig.config import DEFAULT_RIG_ID

DEVICE_NAME = "Stairrig"

# python-slugify's patterns (slugify/slugify.py)
_CHAR_ENTITY = re.compile(r"&(%s);" % "|".join(name2codepoint))
_DECIMAL_REFERENCE = re.compile(r"&#(\d+);")
_HEX_REFERENCE = re.compile(r"&#x([\da-fA-F]+);")
_QUOTES = re.compile(r"[']+")
_DISALLOWED = re.compile(r"[^-a-zA-Z0-9]+")
_DASHES = re.compile(r"-{2,}")
_DIGIT_COMMA = re.compile(r"(?<=\d),(?=\d)")     # "1,000" -> "1000"


def device_name(rig_id: str) -> str:
    """The device's name in Home Assistant: ``Stairrig``, or ``Stairrig <rig id>``."""
    return DEVICE_NAME if rig_id == DEFAULT_RIG_ID else f"{DEVICE_NAME} {rig_id}"


def _decode_references(text: str) -> str:
    text = _CHAR_ENTITY.sub(lambda m: chr(name2codepoint[m.group(1)]), text)
    try:
        text = _DECIMAL_REFERENCE.sub(lambda m: chr(int(m.group(1))), text)
    except (ValueError, OverflowError):       # all or nothing, as python-slugify does
        pass
    try:
        text = _HEX_REFERENCE.sub(lambda m: chr(int(m.group(1), 16)), text)
    except (ValueError, OverflowError):
        pass
    return text


def ha_slugify(text: str | None) -> str:
    """Home Assistant's ``slugify`` of ASCII text: ``"Stairrig I'm OK"`` -> ``"stairrig_i_m_ok"``.

    Lower case; an apostrophe and every run of characters other than a-z0-9
    become one "_"; no "_" at either end; "" for no text, "unknown" when
    nothing is left. Raises ValueError for non-ASCII text.
    """
    if text == "" or text is None:
        return ""
    if not text.isascii():
        raise ValueError(f"ha_slugify mirrors Home Assistant for ASCII text only, not {text!r}")
    text = _QUOTES.sub("-", text)
    text = unicodedata.normalize("NFKD", _decode_references(text)).lower()
    text = _QUOTES.sub("", text)               # quotes that came out of a character reference
    text = _DIGIT_COMMA.sub("", text)
    text = _DISALLOWED.sub("-", text)
    text = _DASHES.sub("-", text).strip("-")
    return text.replace("-", "_") or "unknown"


def default_entity_id(platform: str, device: str, entity_name: str | None) -> str:
    """The id Home Assistant gives an entity of this device, from the names alone."""
    object_id = ha_slugify(f"{device} {entity_name}" if entity_name else device)
    return f"{platform}.{object_id}"
