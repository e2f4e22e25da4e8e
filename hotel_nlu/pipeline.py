"""Build the hotel spaCy pipeline and expose the public language API.

    nlp = build_rules_nlp()
    doc = nlp("No feather pillows please, I'm in room 412")
    [(s.label_, s.kb_id_) for s in doc.spans["hotel_entities"]]   # [('pillow', 'hypoallergenic'), ('room_number', '412')]

    extract_entities("I'm Anna, late checkout at 2pm?")   # Rasa-style dicts
    clf = CategoryClassifier.create(); clf.train(pairs); clf.predict("the shower is broken")  # ("maintenance", 0.9)
    severity("there is smoke in the corridor", "safety")  # "high"
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Callable

import spacy
from spacy.language import Language
from spacy.tokens import Doc

from hotel_nlu import lexicon
from hotel_nlu.classifier import CategoryClassifier, TrainStats, model_config
from hotel_nlu.rules import (
    NORM_COMPONENT,
    INTENT_KEY,
    ORIGINAL_TEXT_KEY,
    RULES_COMPONENT,
    SPANS_KEY,
    category_prior,
    keyword_hits,
    severity,
)
from hotel_nlu.spelling import SPELL_COMPONENT
from hotel_nlu.text import char_normalise, parse_time

__all__ = [
    "CategoryClassifier",
    "SPANS_KEY",
    "TrainStats",
    "annotate",
    "build_rules_nlp",
    "category_prior",
    "extract_entities",
    "keyword_hits",
    "model_config",
    "parse_time",
    "severity",
]


class _NormalisingTokenizer:
    """Tokenise a same-length normalised copy of the text ("check-in" -> "check in")."""

    def __init__(self, inner: Callable[[str], Doc]) -> None:
        self.inner = inner

    def __call__(self, text: str) -> Doc:
        doc = self.inner(char_normalise(text))
        doc.user_data[ORIGINAL_TEXT_KEY] = text
        return doc


def build_rules_nlp() -> Language:
    """Build a blank English pipeline: norm folding, lexicon spelling correction, entity rules."""
    nlp = spacy.blank("en")
    nlp.tokenizer = _NormalisingTokenizer(nlp.tokenizer)
    nlp.add_pipe(NORM_COMPONENT)
    nlp.add_pipe(SPELL_COMPONENT)
    nlp.add_pipe(RULES_COMPONENT)
    return nlp


@lru_cache(maxsize=1)
def _default_nlp() -> Language:
    return build_rules_nlp()


def annotate(text: str, nlp: Language | None = None, intent: str | None = None) -> Doc:
    """Run the rules pipeline on `text`, telling the rules the message intent if known."""
    nlp = nlp or _default_nlp()
    doc = nlp.make_doc(text)
    if intent:
        doc.user_data[INTENT_KEY] = intent
    for _, component in nlp.pipeline:
        doc = component(doc)
    return doc


def extract_entities(text: str, nlp: Language | None = None, intent: str | None = None) -> list[dict[str, Any]]:
    """Return Rasa-style entity dicts {"entity", "value", "start", "end", "confidence"} found by the rules.

    The intent, when given, changes what is extracted: for `lexicon.CATEGORY_INTENTS` (delete_preference,
    ask_profile) preference mentions become `preference_category`, and other known intents get no
    `preference_category`; for `lexicon.NAME_INTENTS` (introduce) a bare name ("Ingrid") counts; for intents in
    `lexicon.INTENT_ENTITY_FILTER` (complain, praise, give_feedback) only the listed entities are kept.
    """
    if not text or not text.strip():
        return []
    doc = annotate(text, nlp, intent)
    entities = [dict(e) for e in doc.user_data.get(SPANS_KEY, [])]
    allowed = lexicon.INTENT_ENTITY_FILTER.get(intent or "")
    if allowed is not None:
        entities = [e for e in entities if e["entity"] in allowed]
    if intent and intent not in lexicon.CATEGORY_INTENTS:
        entities = [e for e in entities if e["entity"] != "preference_category"]
    return entities
