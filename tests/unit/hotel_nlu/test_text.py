"""Check time parsing and same-length normalisation."""
from __future__ import annotations

import pytest

from hotel_nlu.text import char_normalise, fold, parse_time


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2pm", "14:00"),
        ("2 pm", "14:00"),
        ("2.30 p.m.", "14:30"),
        ("11am", "11:00"),
        ("12am", "00:00"),
        ("12pm", "12:00"),
        ("14:00", "14:00"),
        ("9:15", "09:15"),
        ("noon", "12:00"),
        ("midday", "12:00"),
        ("midnight", "00:00"),
        ("two o'clock", "14:00"),
        ("ten in the morning", "10:00"),
        ("3 o'clock", "15:00"),
    ],
)
def test_parse_time_written_time_gives_24h(raw: str, expected: str) -> None:
    assert parse_time(raw) == expected


@pytest.mark.parametrize("raw", ["25:00", "13pm", "hello", "", "14:75"])
def test_parse_time_invalid_gives_none(raw: str) -> None:
    assert parse_time(raw) is None


def test_parse_time_bare_hour_only_when_allowed() -> None:
    assert parse_time("2") is None
    assert parse_time("2", allow_bare_hour=True) == "14:00"
    assert parse_time("10", allow_bare_hour=True) == "10:00"


def test_char_normalise_keeps_length_and_splits_hyphens() -> None:
    text = "Non-smoking, check-in at 2pm – it’s fine"
    out = char_normalise(text)
    assert len(out) == len(text)
    assert "non smoking" in out.lower() and "check in" in out and "it's" in out


def test_fold_collapses_repeated_letters_and_accents() -> None:
    assert fold("Piilow") == fold("pillow") == fold("PILOW")
    assert fold("Café") == "cafe"
