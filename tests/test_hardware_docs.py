"""The hardware docs agree with the wiring of rig/rig.example.toml, and their links resolve.

The pin table in hardware_docs/wiring.md and the labels of hardware_docs/wiring.svg
are checked against the example configuration: every wired channel appears with
its BCM pin (or its MCP3008 input), with the right physical header pin, and no
BCM pin appears that the configuration (with the ADC's SPI pins) does not use.
"""

from __future__ import annotations

import re
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "hardware_docs"
EXAMPLE = ROOT / "rig" / "rig.example.toml"
SVG_NS = "{http://www.w3.org/2000/svg}"

# BCM GPIO number -> physical pin of the 40-pin header (every Pi with a 40-pin header).
BCM_TO_HEADER = {
    2: 3, 3: 5, 4: 7, 14: 8, 15: 10, 17: 11, 18: 12, 27: 13, 22: 15, 23: 16,
    24: 18, 10: 19, 9: 21, 25: 22, 11: 23, 8: 24, 7: 26, 0: 27, 1: 28, 5: 29,
    6: 31, 12: 32, 13: 33, 19: 35, 16: 36, 26: 37, 20: 38, 21: 40,
}
CHANNEL = r"(?:tread|rail)\.[a-z0-9.]+"


def example():
    with EXAMPLE.open("rb") as f:
        return tomllib.load(f)


def digital_channels() -> dict[str, dict]:
    return {ch: spec for ch, spec in example()["wiring"].items() if "pin" in spec}


def analog_channels() -> dict[str, dict]:
    return {ch: spec for ch, spec in example()["wiring"].items() if "adc_channel" in spec}


def spi_pins() -> set[int]:
    """BCM pins the MCP3008 takes: SCLK, MISO, MOSI and its chip select."""
    if not analog_channels():
        return set()
    device = example()["adc"].get("spi_device", 0)
    return {9, 10, 11, 8 if device == 0 else 7}


def used_pins() -> set[int]:
    return {spec["pin"] for spec in digital_channels().values()} | spi_pins()


def bcm_numbers(text: str) -> set[int]:
    return {int(n) for n in re.findall(r"\bBCM\s?(\d+)\b", text)}


# -- the example itself ------------------------------------------------------


def test_example_comments_give_the_right_header_pins():
    text = EXAMPLE.read_text(encoding="utf-8")
    found = dict(re.findall(r'^"(' + CHANNEL + r')"\s*=\s*\{[^}]*\}\s*#\s*header pin (\d+)', text, re.M))
    digital = digital_channels()
    assert set(found) == set(digital)
    for ch, spec in digital.items():
        assert int(found[ch]) == BCM_TO_HEADER[spec["pin"]], ch


# -- wiring.md ---------------------------------------------------------------


def pin_table() -> dict[str, list[str]]:
    """Rows of the pin table: channel -> the row's cells (first cell is `channel`)."""
    rows = {}
    for line in (DOCS / "wiring.md").read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\|\s*`(" + CHANNEL + r")`\s*\|(.*)\|\s*$", line)
        if m:
            assert m.group(1) not in rows, f"{m.group(1)} appears twice in the pin table"
            rows[m.group(1)] = [m.group(1)] + [c.strip() for c in m.group(2).split("|")]
    return rows


def test_pin_table_has_every_channel_and_nothing_else():
    assert set(pin_table()) == set(example()["wiring"])


def test_pin_table_digital_rows_match_the_example():
    rows = pin_table()
    for ch, spec in digital_channels().items():
        row = rows[ch]
        assert bcm_numbers(row[1]) == {spec["pin"]}, (ch, row)
        assert re.findall(r"\d+", row[2]) == [str(BCM_TO_HEADER[spec["pin"]])], (ch, row)
        pull = row[3].lower()
        if spec.get("pull_up") is True:
            assert "pull-up" in pull and "gnd" in pull, (ch, row)
        elif spec.get("pull_up") is False:
            assert "pull-down" in pull, (ch, row)
        else:
            assert "active high" in pull if spec["active_state"] else "active low" in pull, (ch, row)
        assert row[4], f"{ch}: no wire colour"


def test_pin_table_analog_rows_match_the_example():
    rows = pin_table()
    for ch, spec in analog_channels().items():
        row = rows[ch]
        n = spec["adc_channel"]
        assert f"CH{n}" in row[1], (ch, row)
        assert not bcm_numbers(row[1]), (ch, row)
        assert re.findall(r"\d+", row[2]) == [str(n + 1)], f"{ch}: MCP3008 CH{n} is chip pin {n + 1}"


def test_wiring_md_names_no_pin_the_example_does_not_use():
    text = (DOCS / "wiring.md").read_text(encoding="utf-8")
    assert bcm_numbers(text) <= used_pins(), bcm_numbers(text) - used_pins()
    assert bcm_numbers(text) >= used_pins()


def test_wiring_md_mcp3008_pinout():
    text = (DOCS / "wiring.md").read_text(encoding="utf-8")
    for chip_pin, name, bcm in ((13, "CLK", 11), (12, "DOUT", 9), (11, "DIN", 10), (10, "CS", 8)):
        row = next((l for l in text.splitlines() if l.startswith(f"| {chip_pin} ")), None)
        assert row is not None, f"no row for MCP3008 pin {chip_pin}"
        assert name in row and f"BCM {bcm}" in row and f"pin {BCM_TO_HEADER[bcm]}" in row, row


# -- wiring.svg --------------------------------------------------------------


def svg_texts() -> list[str]:
    root = ET.parse(DOCS / "wiring.svg").getroot()
    return [" ".join("".join(el.itertext()).split()) for el in root.iter(f"{SVG_NS}text")]


def test_svg_is_well_formed_svg():
    root = ET.parse(DOCS / "wiring.svg").getroot()
    assert root.tag == f"{SVG_NS}svg"
    assert root.get("viewBox")


def test_svg_labels_every_channel_with_its_pin():
    texts = svg_texts()
    for ch, spec in digital_channels().items():
        label = [t for t in texts if re.search(rf"(?<![\w.]){re.escape(ch)}(?![\w.])", t)]
        assert label, f"{ch} is not in wiring.svg"
        assert any(bcm_numbers(t) == {spec["pin"]} for t in label), (ch, label)
    for ch, spec in analog_channels().items():
        label = [t for t in texts if ch in t]
        assert any(f"CH{spec['adc_channel']}" in t for t in label), (ch, label)


def test_svg_header_pins_match():
    """A header label "BCM n" names its physical pin too ("pin p") when it gives one."""
    for t in svg_texts():
        pins = re.findall(r"\bpin (\d+)\b", t)
        bcms = bcm_numbers(t)
        if pins and bcms:
            assert {int(p) for p in pins} == {BCM_TO_HEADER[b] for b in bcms}, t


def test_svg_names_no_pin_the_example_does_not_use():
    found = set().union(*(bcm_numbers(t) for t in svg_texts()))
    assert found == used_pins(), (found - used_pins(), used_pins() - found)


# -- links -------------------------------------------------------------------

MD_FILES = sorted(DOCS.glob("*.md"))


def test_docs_exist():
    names = {p.name for p in MD_FILES}
    assert {"README.md", "bill-of-materials.md", "wiring.md", "treads.md", "rails.md",
            "calibration.md", "walk-test.md", "pi-models.md", "safety.md", "tablet.md"} <= names


@pytest.mark.parametrize("doc", MD_FILES, ids=lambda p: p.name)
def test_links_resolve(doc: Path):
    text = doc.read_text(encoding="utf-8")
    text = re.sub(r"```.*?```", "", text, flags=re.S)  # code blocks are not links
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            continue
        path = target.split("#", 1)[0]
        assert (doc.parent / path).exists(), f"{doc.name}: link to {target} does not resolve"


def test_index_links_every_page():
    index = (DOCS / "README.md").read_text(encoding="utf-8")
    for doc in MD_FILES:
        if doc.name != "README.md":
            assert f"]({doc.name})" in index, f"README.md does not link {doc.name}"
    assert "](wiring.svg)" in index
