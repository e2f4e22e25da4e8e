"""Share a rules pipeline, a small complaint dataset and one trained classifier across hotel_nlu tests."""
from __future__ import annotations

import pytest
from spacy.language import Language

from hotel_nlu.pipeline import CategoryClassifier, build_rules_nlp, extract_entities

COMPLAINTS: list[tuple[str, str]] = [
    ("the room is dirty", "cleanliness"),
    ("there are hairs in the bathtub", "cleanliness"),
    ("the sheets have stains", "cleanliness"),
    ("housekeeping did not clean our room", "cleanliness"),
    ("the neighbours are very loud", "noise"),
    ("loud music from the bar all night", "noise"),
    ("construction noise woke me up", "noise"),
    ("I can't sleep because of the party next door", "noise"),
    ("the shower is broken", "maintenance"),
    ("the toilet does not flush", "maintenance"),
    ("the air conditioning is not working", "maintenance"),
    ("the tap in the bathroom is leaking", "maintenance"),
    ("the receptionist was rude to me", "staff"),
    ("the waiter ignored us", "staff"),
    ("the staff were unhelpful", "staff"),
    ("the manager shouted at my wife", "staff"),
    ("I was charged twice", "billing"),
    ("there is a wrong charge on my bill", "billing"),
    ("I have not received my refund", "billing"),
    ("the invoice is wrong", "billing"),
    ("breakfast was cold", "food_beverage"),
    ("room service took two hours", "food_beverage"),
    ("the restaurant food was bland", "food_beverage"),
    ("my coffee tasted burnt", "food_beverage"),
    ("the wifi keeps dropping", "amenities"),
    ("the pool is closed", "amenities"),
    ("there are no towels", "amenities"),
    ("the gym has no weights", "amenities"),
    ("we waited an hour to check in", "check_in"),
    ("our room was not ready on arrival", "check_in"),
    ("they lost our reservation", "check_in"),
    ("the key card did not work at check in", "check_in"),
    ("there is smoke in the corridor", "safety"),
    ("I smell gas in the kitchen", "safety"),
    ("the door does not lock", "safety"),
    ("someone stole my laptop", "safety"),
    ("the view is not what the website showed", "other"),
    ("the weather ruined our holiday", "other"),
    ("I do not like the decor", "other"),
    ("the hotel is too far from the beach", "other"),
]


@pytest.fixture(scope="session")
def nlp() -> Language:
    """Build the rules pipeline once."""
    return build_rules_nlp()


@pytest.fixture(scope="session")
def ents(nlp: Language):  # type: ignore[no-untyped-def]
    """Return a helper giving the set of (entity, value) pairs the rules find."""

    def _ents(text: str, intent: str | None = None) -> set[tuple[str, str]]:
        return {(e["entity"], e["value"]) for e in extract_entities(text, nlp, intent)}

    return _ents


@pytest.fixture(scope="session")
def trained_classifier() -> CategoryClassifier:
    """Train a classifier on the small in-test dataset."""
    clf = CategoryClassifier.create()
    clf.train(COMPLAINTS, epochs=15, verbose=False)
    return clf

