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


def hx711_lines() -> dict[str, dict]:
    """The example's commented HX711 lines (the recommended path): channel -> its table."""
    text = EXAMPLE.read_text(encoding="utf-8")
    found = {}
    for ch, table in re.findall(r'^# "(' + CHANNEL + r')"\s*=\s*(\{.*\})\s*#', text, re.M):
        found[ch] = tomllib.loads(f"x = {table}")["x"]
    return found


def buzzer_pin() -> int:
    """The example's (commented) [buzzer] pin."""
    return int(re.search(r"^# pin = (\d+)\s+# BCM", EXAMPLE.read_text(encoding="utf-8"), re.M).group(1))


def hx711_pins() -> set[int]:
    return {spec["hx711"][k] for spec in hx711_lines().values() for k in ("dout", "sck")}


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
    used = used_pins() | hx711_pins() | {buzzer_pin()}
    assert bcm_numbers(text) <= used, bcm_numbers(text) - used
    assert bcm_numbers(text) >= used


# -- the HX711 path ----------------------------------------------------------


def test_the_example_s_hx711_lines_replace_its_mcp3008_lines_and_load(tmp_path):
    """What wiring.md tells a user to do with the example works: check-config says OK."""
    from rig.config import load_config
    from rig.config.load import check_config_main
    lines = hx711_lines()
    assert set(lines) == set(analog_channels()) == {"rail.left.force", "rail.right.force"}
    text = EXAMPLE.read_text(encoding="utf-8")
    for ch in lines:
        text = re.sub(r'^"' + re.escape(ch) + r'"\s*=.*$', "", text, flags=re.M)
        text = re.sub(r'^# ("' + re.escape(ch) + r'"\s*=\s*\{.*\})', r"\1", text, flags=re.M)
    path = tmp_path / "rig.toml"
    path.write_text(text, encoding="utf-8")
    assert check_config_main(str(path)) == 0
    config = load_config(path)
    for ch, spec in lines.items():
        wire = config.wiring[ch]
        assert wire.adc_channel is None and vars(wire.hx711) == spec["hx711"]
    # every HX711 pin is free in the example: none is a digital channel's, the ADC's, or the buzzer's
    assert not hx711_pins() & (used_pins() | {buzzer_pin()})


def test_the_example_s_hx711_comments_give_the_right_header_pins():
    text = EXAMPLE.read_text(encoding="utf-8")
    for ch, spec in hx711_lines().items():
        line = next(l for l in text.splitlines() if l.startswith(f'# "{ch}"'))
        comment = line.rsplit("#", 1)[1]
        pins = re.findall(r"(DT|SCK) header pin (\d+)", comment)
        assert dict(pins) == {"DT": str(BCM_TO_HEADER[spec["hx711"]["dout"]]),
                              "SCK": str(BCM_TO_HEADER[spec["hx711"]["sck"]])}, line


def test_wiring_md_hx711_table_matches_the_example():
    rows = [l for l in (DOCS / "wiring.md").read_text(encoding="utf-8").splitlines()
            if re.match(r"^\| (left|right) rail HX711 ", l)]
    assert len(rows) == 4
    for ch, spec in hx711_lines().items():
        side = ch.split(".")[1]
        for pin_name, key in (("DT", "dout"), ("SCK", "sck")):
            row = next(r for r in rows if r.startswith(f"| {side} rail HX711 {pin_name} "))
            cells = [c.strip() for c in row.strip("|").split("|")]
            bcm = spec["hx711"][key]
            assert bcm_numbers(cells[1]) == {bcm}, row
            assert cells[2] == str(BCM_TO_HEADER[bcm]), row
            assert f"`{key} = {bcm}`" in cells[3] and f'"{ch}"' in cells[3], row


# -- the bill of materials ---------------------------------------------------

RANGE = r"([0-9.]+) to ([0-9.]+)"


def bom_tables() -> list[tuple[list[list[str]], tuple[float, float]]]:
    """Each table of bill-of-materials.md with a line column: its rows' cells, and its stated subtotal."""
    text = (DOCS / "bill-of-materials.md").read_text(encoding="utf-8")
    tables = []
    for block in re.split(r"\n(?=\| part \|)", text)[1:]:
        lines = block.splitlines()
        assert lines[0].startswith("| part | qty | each (USD) | line (USD) |"), lines[0]
        body = lines[2:lines.index("")] if "" in lines else lines[2:]
        rows = [[c.strip() for c in l.strip("|").split("|")] for l in body]
        subtotal = re.search(r"\*\*Subtotal: " + RANGE + r"\*\*", block)
        assert subtotal, "a table without its subtotal"
        tables.append((rows, (float(subtotal.group(1)), float(subtotal.group(2)))))
    return tables


def test_the_bill_of_materials_adds_up():
    tables = bom_tables()
    assert len(tables) == 3
    for rows, (low, high) in tables:
        sums = [0.0, 0.0]
        for part, qty, each, line, _ in rows:
            each_r = [float(x) for x in re.fullmatch(RANGE, each).groups()]
            line_r = [float(x) for x in re.fullmatch(RANGE, line).groups()]
            assert [round(int(qty) * e, 2) for e in each_r] == line_r, part
            sums = [sums[0] + line_r[0], sums[1] + line_r[1]]
        assert [round(x, 2) for x in sums] == [low, high], rows[0][0]
    text = (DOCS / "bill-of-materials.md").read_text(encoding="utf-8")
    total = re.search(r"\*\*Total, Pi included: " + RANGE + r"\*\* \(sensors and electronics alone: " + RANGE,
                      text.replace("\n", " "))
    pi, sensors = tables[0][1], tables[1][1]
    assert [float(x) for x in total.groups()] == [pi[0] + sensors[0], pi[1] + sensors[1], *sensors]


def test_the_bill_of_materials_has_the_hx711_the_buzzer_and_the_ground_bus_parts():
    text = (DOCS / "bill-of-materials.md").read_text(encoding="utf-8").lower()
    for part in ("hx711 board", "buzzer", "terminal block", "perfboard", "load cell", "ttp223"):
        assert part in text, part
    assert "900 × 100 mm" not in text and "900 x 100" not in text    # no such stock mat


def test_the_docs_say_a_pi_needs_ntp_before_dates_are_right():
    text = " ".join((DOCS / name).read_text(encoding="utf-8") for name in ("README.md", "pi-models.md"))
    assert "timedatectl" in text and "systemd-timesyncd" in text


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
