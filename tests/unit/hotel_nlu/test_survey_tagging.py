"""Check survey comment tagging: topics and rule-based sentiment with negation."""
from __future__ import annotations

import pytest

from hotel_nlu.pipeline import CategoryClassifier
from hotel_nlu.survey_tagging import CommentTags, tag_comment


@pytest.mark.parametrize(
    ("text", "topics", "sentiment"),
    [
        ("The staff were lovely but the room was dirty", ["staff", "cleanliness"], "mixed"),
        ("not bad at all, great breakfast", ["food_beverage"], "positive"),
        ("Room was noisy and overpriced", ["noise", "value"], "negative"),
        ("Great location, close to the station", ["location"], "positive"),
        ("check-in took forever", ["check_in"], "negative"),
        ("the staff were not friendly", ["staff"], "negative"),
        ("we stayed two nights", [], "neutral"),
    ],
)
def test_tag_comment_gives_topics_and_sentiment(text: str, topics: list[str], sentiment: str) -> None:
    assert tag_comment(text) == CommentTags(topics, sentiment)  # type: ignore[arg-type]


def test_tag_comment_empty_is_neutral() -> None:
    assert tag_comment("") == CommentTags([], "neutral")


def test_tag_comment_no_keyword_negative_uses_classifier(trained_classifier: CategoryClassifier) -> None:
    tags = tag_comment("awful, the receptionist ignored us", classifier=trained_classifier, min_confidence=0.0)
    assert tags.sentiment == "negative"
    assert tags.topics
