"""Tag free-text survey comments with topics and a sentiment (rules, with negation handling)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from hotel_nlu import lexicon
from hotel_nlu.classifier import CategoryClassifier
from hotel_nlu.rules import keyword_hits
from hotel_nlu.text import char_normalise, lower_same_length

Sentiment = Literal["positive", "negative", "mixed", "neutral"]

_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[.!?;]|\bbut\b")
_SCOPE_BREAKERS = {".", "!", "?", ";", "but", "however", "although", "though"}
_NEGATION_WINDOW = 3


@dataclass(frozen=True)
class CommentTags:
    """Hold the topics and overall sentiment of one survey comment."""

    topics: list[str] = field(default_factory=list)
    sentiment: Sentiment = "neutral"


@lru_cache(maxsize=1)
def _polarity_table() -> tuple[dict[tuple[str, ...], int], int]:
    table: dict[tuple[str, ...], int] = {}
    for phrase in lexicon.SENTIMENT_POSITIVE:
        table[tuple(_tokens(phrase))] = 1
    for phrase in lexicon.SENTIMENT_NEGATIVE:
        table[tuple(_tokens(phrase))] = -1
    return table, max(len(k) for k in table)


def _tokens(text: str) -> list[str]:
    low = lower_same_length(char_normalise(text)).replace("n't", " not")
    return _TOKEN.findall(low)


def sentiment_scores(text: str) -> tuple[int, int]:
    """Count positive and negative expressions; a negation within three words before flips the polarity."""
    table, longest = _polarity_table()
    negations = set(lexicon.SENTIMENT_NEGATIONS)
    tokens = _tokens(text)
    pos = neg = 0
    i = 0
    while i < len(tokens):
        for n in range(min(longest, len(tokens) - i), 0, -1):
            polarity = table.get(tuple(tokens[i : i + n]))
            if polarity is not None:
                break
        else:
            i += 1
            continue
        negated = False
        for j in range(i - 1, max(-1, i - 1 - _NEGATION_WINDOW), -1):
            if tokens[j] in _SCOPE_BREAKERS:
                break
            if tokens[j] in negations:
                negated = True
                break
        if negated:
            polarity = -polarity
        if polarity > 0:
            pos += 1
        else:
            neg += 1
        i += n
    return pos, neg


def sentiment(text: str) -> Sentiment:
    """Return "positive", "negative", "mixed" or "neutral" for a comment."""
    pos, neg = sentiment_scores(text)
    if pos and neg:
        return "mixed"
    if pos:
        return "positive"
    if neg:
        return "negative"
    return "neutral"


def tag_comment(text: str, classifier: CategoryClassifier | None = None,
                min_confidence: float = 0.6) -> CommentTags:
    """Tag a survey comment with aspects mentioned (ordered by first mention) and a sentiment.

    Topics come from `lexicon.ASPECT_KEYWORDS`. When none match, the comment is negative or mixed, and a
    complaint classifier is given, its category is used if it is confident enough and not "other".
    """
    if not text or not text.strip():
        return CommentTags([], "neutral")
    mood = sentiment(text)
    low = lower_same_length(char_normalise(text))
    hits = keyword_hits(text, "ASPECT_KEYWORDS")
    topics = sorted(hits, key=lambda name: _first_position(low, name))
    if not topics and classifier is not None and mood in ("negative", "mixed"):
        label, confidence = classifier.predict(text)
        if label != "other" and confidence >= min_confidence:
            topics = [label]
    return CommentTags(topics, mood)


def _first_position(low: str, aspect: str) -> int:
    positions = [low.find(k) for k in lexicon.ASPECT_KEYWORDS[aspect] if k in low]
    return min(positions) if positions else len(low)
