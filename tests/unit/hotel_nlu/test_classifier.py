"""Check the complaint category classifier: training, prediction, persistence and the keyword prior."""
from __future__ import annotations

from pathlib import Path

import pytest

from hotel_nlu import lexicon
from hotel_nlu.pipeline import CategoryClassifier, category_prior

from .conftest import COMPLAINTS


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("the shower in my room is broken", "maintenance"),
        ("the bathroom is filthy", "cleanliness"),
        ("the people next door are so loud", "noise"),
        ("I was overcharged on my bill", "billing"),
        ("the breakfast eggs were cold", "food_beverage"),
        ("there's smoke coming from the socket", "safety"),
    ],
)
def test_classifier_predict_known_complaint_gives_category(trained_classifier: CategoryClassifier, text: str,
                                                           category: str) -> None:
    label, confidence = trained_classifier.predict(text)
    assert label == category
    assert 0.0 < confidence <= 1.0


def test_classifier_predict_with_typos_still_right(trained_classifier: CategoryClassifier) -> None:
    assert trained_classifier.predict("teh showr is brokn")[0] == "maintenance"


def test_classifier_predict_proba_covers_all_categories(trained_classifier: CategoryClassifier) -> None:
    probs = trained_classifier.predict_proba("the room is dirty")
    assert set(probs) == set(lexicon.COMPLAINT_CATEGORIES)
    assert sum(probs.values()) == pytest.approx(1.0, abs=1e-3)


def test_classifier_save_load_roundtrip_gives_same_prediction(trained_classifier: CategoryClassifier,
                                                              tmp_path: Path) -> None:
    trained_classifier.save(tmp_path / "clf")
    loaded = CategoryClassifier.load(tmp_path / "clf")
    text = "the receptionist was very rude"
    assert loaded.predict(text)[0] == trained_classifier.predict(text)[0]
    assert loaded.predict(text)[1] == pytest.approx(trained_classifier.predict(text)[1], abs=1e-5)


def test_classifier_train_same_seed_gives_same_model() -> None:
    first, second = CategoryClassifier.create(), CategoryClassifier.create()
    first.train(COMPLAINTS, epochs=3, verbose=False)
    second.train(COMPLAINTS, epochs=3, verbose=False)
    text = "the wifi is slow"
    assert first.predict_proba(text) == pytest.approx(second.predict_proba(text))


def test_classifier_train_prints_time_and_memory(capsys: pytest.CaptureFixture[str]) -> None:
    stats = CategoryClassifier.create().train(COMPLAINTS[:10], epochs=1)
    out = capsys.readouterr().out
    assert "peak RSS" in out and " s," in out
    assert stats.examples > 10 and stats.peak_rss_mb > 0


def test_classifier_train_unknown_category_raises() -> None:
    with pytest.raises(ValueError, match="unknown categories"):
        CategoryClassifier.create().train([("the lift smells", "smells")], epochs=1, verbose=False)


def test_category_prior_keywords_point_to_category() -> None:
    prior = category_prior("the toilet is leaking")
    assert max(prior, key=prior.get) == "maintenance"
    assert category_prior("hello there") == {}
