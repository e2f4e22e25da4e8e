"""Tell real (possibly misspelt) words from gibberish, using the vocabulary the model was trained on."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

from spacy.lang.en.stop_words import STOP_WORDS

from hotel_nlu.text import fold

_WORD_RE = re.compile(r"[^\W\d_]{2,}", re.UNICODE)
MIN_FUZZY_LENGTH = 4


def words(text: str) -> list[str]:
    """Return the alphabetic words (two letters or more) of a text, folded for typo tolerance."""
    return [fold(w) for w in _WORD_RE.findall(text)]


def _deletes(word: str) -> set[str]:
    """Return the word with each single letter deleted (a symmetric-delete index for edit distance 1)."""
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


class Vocabulary:
    """Hold known words and answer, with one-typo tolerance, how much of a message is made of them."""

    def __init__(self, known: Iterable[str]) -> None:
        """Index the known words (already folded or not; they are folded here)."""
        self._known = {fold(w) for w in known if w}
        self._known |= {fold(w) for w in STOP_WORDS}
        self._deleted: set[str] = set()
        for word in self._known:
            if len(word) >= MIN_FUZZY_LENGTH:
                self._deleted |= _deletes(word)

    @classmethod
    def from_texts(cls, texts: Iterable[str], extra: Iterable[str] = ()) -> Vocabulary:
        """Build a vocabulary from training texts and extra words (e.g. lexicon terms)."""
        known: set[str] = set(extra)
        for text in texts:
            known.update(words(text))
        return cls(known)

    def is_known(self, word: str) -> bool:
        """Tell whether a folded word is known, allowing one inserted, deleted or substituted letter."""
        if word in self._known:
            return True
        if len(word) < MIN_FUZZY_LENGTH:
            return False
        if word in self._deleted:
            return True
        return any(d in self._known or d in self._deleted for d in _deletes(word))

    def known_ratio(self, text: str) -> float | None:
        """Return the share of the text's words that are known, or None when it has no words."""
        tokens = words(text)
        if not tokens:
            return None
        return sum(1 for w in tokens if self.is_known(w)) / len(tokens)

    def save(self, path: Path) -> None:
        """Write the known words as JSON."""
        path.write_text(json.dumps(sorted(self._known)), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Vocabulary:
        """Read a vocabulary written by save()."""
        return cls(json.loads(path.read_text(encoding="utf-8")))
