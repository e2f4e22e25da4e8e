"""Tell gibberish from real, misspelt guest text."""

from __future__ import annotations

from pathlib import Path

from hotel_nlu.vocabulary import Vocabulary

TRAINING = [
    "the sink in my bathroom is blocked",
    "wifi is not working again",
    "I would like a quiet room on a high floor",
]


def test_known_ratio_real_words_with_typos_are_known():
    vocab = Vocabulary.from_texts(TRAINING)
    assert vocab.known_ratio("teh sink is bloked") == 0.75  # "teh": too short for typo matching
    assert vocab.known_ratio("wifi not wrking") == 1.0


def test_known_ratio_gibberish_is_unknown():
    vocab = Vocabulary.from_texts(TRAINING)
    assert vocab.known_ratio("qwxz plorb fnnn") == 0.0


def test_known_ratio_no_words_is_none():
    assert Vocabulary.from_texts(TRAINING).known_ratio("412 !!") is None


def test_vocabulary_save_load_round_trip(tmp_path: Path):
    vocab = Vocabulary.from_texts(TRAINING, extra=["hypoallergenic"])
    vocab.save(tmp_path / "v.json")
    loaded = Vocabulary.load(tmp_path / "v.json")
    assert loaded.known_ratio("hypoallergenic pillows please") == vocab.known_ratio("hypoallergenic pillows please")
    assert loaded.is_known("hypoalergenic")
