"""Correct one-typo misspellings of lexicon words ("kign bed" -> "king bed") before the phrase rules run.

`LexiconSpeller` knows the words the hotel rules look for (`lexicon_targets()`): a token that is not one of
them, not a protected real word (`lexicon.SPELLING_PROTECTED`, spaCy's English stop words) and at least
`MIN_LENGTH` letters long is replaced, in its NORM only, by the single lexicon word one edit away (insertion,
deletion, substitution or transposition of adjacent letters). Ambiguous or distant words are left alone. The
text and the character offsets never change, so entity spans still point at what the guest typed.
"""
from __future__ import annotations

from collections import defaultdict
from functools import lru_cache
from typing import Any, Iterable

from spacy.lang.en.stop_words import STOP_WORDS
from spacy.language import Language
from spacy.tokens import Doc

from hotel_nlu import lexicon
from hotel_nlu.text import fold

SPELL_COMPONENT = "hotel_spell"
MIN_LENGTH = 4
SWAP_ONLY_LENGTH = 4  # targets this short are only restored from a swap of two adjacent letters
TWO_EDIT_LENGTH = 9  # words and targets this long may be two edits apart ("whwelhair" -> "wheelchair")


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def _within_one_edit(a: str, b: str) -> bool:
    """Tell whether a and b differ by exactly one insertion, deletion, substitution or adjacent transposition."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


def _edit_distance(a: str, b: str, limit: int) -> int:
    """Return the optimal-string-alignment distance of a and b, or limit + 1 once it exceeds limit."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


def _is_swap(a: str, b: str) -> bool:
    diff = [i for i in range(len(a)) if len(a) == len(b) and a[i] != b[i]]
    return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]


def _words(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield from value.replace("-", " ").replace("_", " ").split()
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _words(key)
            yield from _words(item)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            yield from _words(item)


def lexicon_words() -> set[str]:
    """Return every folded word of the lexicon tables the entity rules match on (never corrected)."""
    tables = (lexicon.PHRASES, lexicon.CONTEXTUAL_PHRASES, lexicon.PILLOW_ADJECTIVES, lexicon.PILLOW_NOUNS,
              lexicon.PILLOW_BARE, lexicon.PILLOW_CONTEXT, lexicon.ALLERGENS, lexicon.ALLERGY_CUES_BEFORE,
              lexicon.ALLERGY_CUES_AFTER, lexicon.PREFERENCE_CATEGORY_PHRASES, lexicon.TIME_TRIGGERS,
              lexicon.CONTEXT_WORDS, lexicon.SPATIAL_WORDS, lexicon.NEGATION_CUES, lexicon.CLAUSE_BREAKERS)
    return {fold(w.strip(".,'")) for table in tables for w in _words(table)}


def _inflection_of(word: str, target: str) -> bool:
    """Tell whether one word is the other plus a common ending ("lifts"/"lift", "smoke"/"smoker")."""
    short, long_ = sorted((word, target), key=len)
    return long_.startswith(short[:-1] if short.endswith("e") else short) and long_[len(short):] in {
        "s", "es", "ed", "er", "ers", "ing", "ings", "ly"} or (
        short.endswith("e") and long_[len(short) - 1:] in {"ing", "ed", "er", "ers"})


def lexicon_targets() -> set[str]:
    """Return the folded words the speller may restore (`lexicon.SPELLING_TARGETS`)."""
    return {fold(w) for w in lexicon.SPELLING_TARGETS if len(fold(w)) >= MIN_LENGTH}


class LexiconSpeller:
    """Map a folded word to the one lexicon word it misspells, if there is exactly one."""

    def __init__(self, targets: Iterable[str], protected: Iterable[str] = ()) -> None:
        """Index the target words by their one-letter deletions."""
        self.targets = {fold(t) for t in targets}
        self.protected = ({fold(w) for w in protected} | {fold(w) for w in STOP_WORDS} | self.targets
                          | lexicon_words())
        self._index: dict[str, set[str]] = defaultdict(set)
        for target in self.targets:
            self._index[target].add(target)
            for deleted in _deletes(target):
                self._index[deleted].add(target)
        self._long = sorted(t for t in self.targets if len(t) >= TWO_EDIT_LENGTH)
        self.correct = lru_cache(maxsize=32768)(self._correct)  # type: ignore[method-assign]

    def _correct(self, word: str) -> str | None:
        if len(word) < MIN_LENGTH or word in self.protected or not word.isalpha():
            return None
        candidates = set(self._index.get(word, ()))
        for deleted in _deletes(word):
            candidates |= self._index.get(deleted, set())
        candidates = {c for c in candidates if _within_one_edit(word, c)
                      and (len(c) > SWAP_ONLY_LENGTH or _is_swap(word, c)) and not _inflection_of(word, c)}
        if not candidates and len(word) >= TWO_EDIT_LENGTH:
            candidates = {c for c in self._long if _edit_distance(word, c, 2) <= 2 and not _inflection_of(word, c)}
        if len(candidates) > 1:  # prefer the candidates that keep the first letter
            candidates = {c for c in candidates if c[0] == word[0]}
        return candidates.pop() if len(candidates) == 1 else None

    def is_lexicon_word(self, word: str) -> bool:
        """Tell whether a word is a speller target or one typo away from exactly one."""
        folded = fold(word)
        return folded in self.targets or self.correct(folded) is not None


@lru_cache(maxsize=1)
def default_speller() -> LexiconSpeller:
    """Return the speller over the hotel lexicon."""
    return LexiconSpeller(lexicon_targets(), lexicon.SPELLING_PROTECTED)


@Language.component(SPELL_COMPONENT)
def correct_norms(doc: Doc) -> Doc:
    """Replace the NORM of each one-typo misspelling of a lexicon word by that word (text unchanged)."""
    speller = default_speller()
    for token in doc:
        fixed = speller.correct(token.norm_)
        if fixed is not None:
            token.norm_ = fixed
    return doc
