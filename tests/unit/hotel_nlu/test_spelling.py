"""Restore one-typo misspellings of lexicon words in the rules pipeline, and of training words for DIET."""
from __future__ import annotations

from pathlib import Path

import pytest

from hotel_nlu.classifier import complaint_focus
from hotel_nlu.spelling import LexiconSpeller, default_speller
from hotel_nlu.vocabulary import WordCorrector


@pytest.mark.parametrize("typo,word", [("kign", "king"), ("hihg", "high"), ("vgean", "vegan"),
                                       ("diabetc", "diabetic"), ("whwelhair", "whelchair"),
                                       ("temprature", "temperature")])
def test_speller_restores_lexicon_words(typo: str, word: str):
    assert default_speller().correct(typo) == word


@pytest.mark.parametrize("word", ["quite", "weather", "father", "world", "preferences", "restaurant", "smoke",
                                  "kind", "sing", "flood", "message"])
def test_speller_leaves_real_words_alone(word: str):
    assert default_speller().correct(word) is None


def test_speller_skips_ambiguous_and_short_words():
    speller = LexiconSpeller(["pillow", "billow"])
    assert speller.correct("xillow") is None  # two targets one edit away, neither keeps the first letter
    assert speller.correct("pilow") is None or speller.correct("pilow") == "pillow"
    assert LexiconSpeller(["king"]).correct("kng") is None  # short targets: adjacent swaps only


def test_rules_read_misspelt_preferences(ents):
    assert ("bed_type", "king") in ents("i'd like a kign bed", "share_preference")
    assert ("smoking", "non_smoking") in ents("non smokng room please", "share_preference")
    assert ("dietary", "vegan") in ents("just so you know I'm vgean", "share_preference")


def test_misspelt_preference_is_not_a_name(ents):
    found = ents("i'm alergic to peanuts", "share_preference")
    assert not any(entity == "guest_name" for entity, _ in found)


def test_word_corrector_maps_typos_to_frequent_training_words(tmp_path: Path):
    corrector = WordCorrector.from_texts(["the shower is broken", "the shower is broken again", "breakfast"])
    assert corrector.correct("showr") == "shower"
    assert corrector.correct("brokne") == "broken"
    assert corrector.correct("breakfaaast") == "breakfast"  # repeated letters fold
    assert corrector.correct("shower") is None  # known
    assert corrector.correct("teh") is None  # too short
    assert corrector.correct("plorb") is None
    corrector.save(tmp_path / "c.json")
    assert WordCorrector.load(tmp_path / "c.json").correct("showr") == "shower"


def test_complaint_focus_drops_purely_positive_clauses():
    assert complaint_focus("loved the breakfast but the room smelled of smoke") == "the room smelled of smoke"
    assert complaint_focus("great staff but the AC was broken") == "the AC was broken"
    assert complaint_focus("the shower is broken") == "the shower is broken"
    assert complaint_focus("the room was great and the staff were lovely") == (
        "the room was great and the staff were lovely")
