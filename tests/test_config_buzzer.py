"""The [buzzer] table: its cues, read from real TOML files."""

from pathlib import Path

import pytest

from rig.config import BUZZER_CUES, BuzzerConfig, ConfigError, load_config

BASE = """
[rig]
treads = 2
riser_m = 0.17

[wiring]
"tread.1" = { pin = 5, pull_up = true }
"tread.2" = { pin = 6, pull_up = true }
"""


def load(tmp_path: Path, buzzer: str):
    path = tmp_path / "rig.toml"
    path.write_text(BASE + "\n[buzzer]\n" + buzzer)
    return load_config(path)


def error(tmp_path: Path, buzzer: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, buzzer)
    return str(caught.value)


def test_every_cue_by_default(tmp_path):
    config = load(tmp_path, "pin = 18\n")
    assert config.buzzer == BuzzerConfig(pin=18, kind="buzzer", active_high=True, cues=BUZZER_CUES)
    assert set(BUZZER_CUES) == {"grab", "stall", "too_fast", "firm_grip", "flight", "fall"}


def test_no_table_no_buzzer(tmp_path):
    path = tmp_path / "rig.toml"
    path.write_text(BASE)
    assert load_config(path).buzzer is None


def test_a_chosen_set_of_cues(tmp_path):
    config = load(tmp_path, 'pin = 18\nkind = "tonal"\ncues = ["fall", "grab"]\n')
    assert config.buzzer.cues == ("fall", "grab") and config.buzzer.kind == "tonal"


def test_an_empty_list_switches_every_cue_off(tmp_path):
    assert load(tmp_path, "pin = 18\ncues = []\n").buzzer.cues == ()


def test_an_unknown_cue_names_the_key_and_the_cues(tmp_path):
    message = error(tmp_path, 'pin = 18\ncues = ["grab", "too-fast"]\n')
    assert message.startswith(f"{tmp_path / 'rig.toml'}: buzzer.cues: unknown cue 'too-fast'")
    assert "grab, stall, too_fast, firm_grip, flight, fall" in message
    assert "did you mean 'too_fast'?" in message


@pytest.mark.parametrize("cues, words", [
    ('"grab"', "must be a list of cue names"),
    ("[1, 2]", "must hold cue names as strings, not a whole number"),
    ('["fall", "fall"]', "'fall' is listed twice"),
])
def test_a_wrong_cue_list_is_one_clear_message(tmp_path, cues, words):
    message = error(tmp_path, f"pin = 18\ncues = {cues}\n")
    assert "buzzer.cues: " in message and words in message


def test_a_tonal_buzzer_cannot_be_active_low(tmp_path):
    message = error(tmp_path, 'pin = 18\nkind = "tonal"\nactive_high = false\n')
    assert "buzzer.active_high" in message and 'kind = "buzzer"' in message
    assert load(tmp_path, "pin = 18\nactive_high = false\n").buzzer.active_high is False


def test_an_unknown_key_suggests_cues(tmp_path):
    assert "did you mean 'cues'?" in error(tmp_path, 'pin = 18\ncue = ["grab"]\n')
