"""Check the severity rules."""
from __future__ import annotations

import pytest

from hotel_nlu.pipeline import severity


@pytest.mark.parametrize(
    "text",
    ["there is smoke in the corridor", "I smell gas", "the bathroom is flooded", "my son is injured",
     "I'm locked out of my room", "the lock is broken", "we are stuck in the lift", "this is unacceptable",
     "I am furious", "please fix it asap", "URGENT the toilet overflowed"],
)
def test_severity_high_cue_gives_high(text: str) -> None:
    assert severity(text, "maintenance") == "high"


@pytest.mark.parametrize(
    "text",
    ["the tap is dripping a bit", "slightly noisy at night", "minor thing, the lamp flickers",
     "not a big deal but the remote is missing", "small thing: no slippers", "not urgent, the kettle is broken"],
)
def test_severity_low_cue_gives_low(text: str) -> None:
    assert severity(text, "amenities") == "low"


def test_severity_no_cue_gives_medium() -> None:
    assert severity("the shower is broken", "maintenance") == "medium"


def test_severity_safety_category_always_high() -> None:
    assert severity("the balcony railing is a bit loose", "safety") == "high"


def test_severity_negated_high_cue_is_not_high() -> None:
    assert severity("no fire, just the alarm beeping", "maintenance") == "medium"
    assert severity("it's not an emergency", "maintenance") == "low"
