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


class WordCorrector:
    """Map a misspelt word to the most frequent training word one typing slip away ("brokn" -> "broken").

    Used to give the intent classifier's word and character features the word the guest meant. Only words the
    training data never contains are corrected: first a word whose folded form (repeated letters collapsed,
    accents stripped) is a known word's ("helloooo"); then, for words of at least `MIN_FUZZY_LENGTH` letters, a
    known word one typing slip away (`_typing_slip`: same first letter; dropped, doubled, extra or swapped
    letters, or a neighbouring key).
    """

    def __init__(self, counts: dict[str, int]) -> None:
        """Index training word counts (lower-case words)."""
        self.counts = {w: int(n) for w, n in counts.items() if w}
        self._by_fold: dict[str, str] = {}
        self._deleted: dict[str, set[str]] = {}
        for word in sorted(self.counts, key=lambda w: (-self.counts[w], w)):
            self._by_fold.setdefault(fold(word), word)
            if len(word) >= MIN_FUZZY_LENGTH - 1:
                for variant in _deletes(word) | {word}:
                    self._deleted.setdefault(variant, set()).add(word)
        self._cache: dict[str, str | None] = {}

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> WordCorrector:
        """Count the lower-case alphabetic words of the texts."""
        counts: dict[str, int] = {}
        for text in texts:
            for word in re.findall(r"[^\W\d_]+", text.lower()):
                counts[word] = counts.get(word, 0) + 1
        return cls(counts)

    def correct(self, word: str) -> str | None:
        """Return the training word `word` misspells, or None (known, too short, or no single best match)."""
        if word in self._cache:
            return self._cache[word]
        result = self._correct(word)
        if len(self._cache) < 65536:
            self._cache[word] = result
        return result

    def _correct(self, word: str) -> str | None:
        low = word.lower()
        if low in self.counts or len(low) < 3 or not low.isalpha():
            return None
        folded = self._by_fold.get(fold(low))
        if folded is not None:
            return folded
        if len(low) < MIN_FUZZY_LENGTH:
            return None
        candidates: set[str] = set()
        for variant in _deletes(low) | {low}:
            candidates |= self._deleted.get(variant, set())
        candidates = {c for c in candidates if _typing_slip(low, c)}
        if not candidates:
            return None
        return max(sorted(candidates), key=lambda c: self.counts[c])

    def save(self, path: Path) -> None:
        """Write the word counts as JSON."""
        path.write_text(json.dumps(self.counts, sort_keys=True), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> WordCorrector:
        """Read counts written by save()."""
        return cls(json.loads(path.read_text(encoding="utf-8")))


_QWERTY_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_KEY_POSITION = {key: (row, col) for row, keys in enumerate(_QWERTY_ROWS) for col, key in enumerate(keys)}


def _adjacent_keys(a: str, b: str) -> bool:
    """Tell whether two letters are neighbours on a QWERTY keyboard (a likely slip of the finger)."""
    pa, pb = _KEY_POSITION.get(a), _KEY_POSITION.get(b)
    if pa is None or pb is None:
        return False
    return abs(pa[0] - pb[0]) <= 1 and abs(pa[1] - pb[1]) <= 1 and pa != pb


def _typing_slip(typed: str, word: str) -> bool:
    """Tell whether `typed` is `word` with one typing slip that keeps the first letter.

    A slip is a dropped letter, an extra letter typed with a key next to its neighbour ("showere"), two adjacent
    letters swapped, or a letter replaced by a neighbouring key. Substitutions by far-away keys ("mold" / "cold",
    "weak" / "week") are different words more often than typos, so they do not count.
    """
    if typed == word or abs(len(typed) - len(word)) > 1 or typed[:1] != word[:1]:
        return False
    if len(typed) == len(word):
        diff = [i for i in range(len(word)) if typed[i] != word[i]]
        if len(diff) == 1:
            return _adjacent_keys(typed[diff[0]], word[diff[0]])
        return (len(diff) == 2 and diff[1] == diff[0] + 1 and typed[diff[0]] == word[diff[1]]
                and typed[diff[1]] == word[diff[0]])
    if len(typed) < len(word):  # a dropped letter
        return any(word[:i] + word[i + 1 :] == typed for i in range(1, len(word)))
    for i in range(1, len(typed)):  # an extra letter: only a key next to (or equal to) a neighbouring letter
        if typed[:i] + typed[i + 1 :] == word:
            neighbours = typed[i - 1] + (typed[i + 1] if i + 1 < len(typed) else "")
            if any(typed[i] == n or _adjacent_keys(typed[i], n) for n in neighbours):
                return True
    return False

