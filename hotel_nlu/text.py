"""Normalise text for matching and parse clock times, keeping character offsets intact."""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from hotel_nlu import lexicon

_JOINER = re.compile(r"(?<=[^\W\d_])[-_/](?=[^\W\d_])")
_QUOTES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'", "“": '"', "”": '"', "–": "-", "—": "-"})
_REPEATS = re.compile(r"([a-z])\1+")


def char_normalise(text: str) -> str:
    """Return `text` with the same length: straight quotes, and hyphens/slashes between letters as spaces.

    "check-in" and "non-smoking" then tokenise like "check in" and "non smoking". Offsets into the result are
    offsets into the original text.
    """
    out = _JOINER.sub(" ", text.translate(_QUOTES))
    return out if len(out) == len(text) else text


def lower_same_length(text: str) -> str:
    """Lower-case `text` without changing its length (characters whose lower form is longer are kept)."""
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


@lru_cache(maxsize=65536)
def fold(word: str) -> str:
    """Fold one token for typo-tolerant matching: lower-case, no accents, repeated letters collapsed.

    "Piilow", "pillow" and "PILOW" all fold to "pilow"; digits are left alone.
    """
    w = word.lower().translate(_QUOTES)
    if not w.isascii():
        w = "".join(c for c in unicodedata.normalize("NFKD", w) if not unicodedata.combining(c))
    return _REPEATS.sub(r"\1", w)


_HOUR_WORDS = "|".join(sorted(lexicon.HOUR_WORDS, key=len, reverse=True))
_NAMED = "|".join(re.escape(k) for k in sorted(lexicon.NAMED_TIMES, key=len, reverse=True))
# A clock time written explicitly enough to be a time anywhere.
TIME_PATTERN = (
    rf"(?:(?P<named>{_NAMED})"
    r"|(?P<h1>\d{1,2})(?:[:.](?P<m1>\d{2}))?\s*(?P<ap>[ap])\.?\s?m\b\.?"
    r"|(?P<h2>\d{1,2})[:h](?P<m2>\d{2})\b"
    r"|(?P<h3>\d{1,2})\s*o'?\s*clock\b"
    rf"|(?P<hw>{_HOUR_WORDS})(?:\s*o'?\s*clock\b|\s*(?P<apw>[ap])\.?\s?m\b\.?|\s+(?:in the )?(?P<part>morning|afternoon|evening))"
    r")"
)
# A bare hour ("at 2"), only a time right after a check-in/check-out trigger and a connector.
_NOT_HOUR_AFTER = (
    r"%|st\b|nd\b|rd\b|th\b|nights?\b|days?\b|hours?\b|hrs?\b|minutes?\b|mins?\b|weeks?\b|people\b|"
    r"persons?\b|guests?\b|adults?\b|kids?\b|children\b|rooms?\b|bags?\b|euros?\b|dollars?\b|pounds?\b"
)
BARE_HOUR_PATTERN = rf"(?P<bare>\d{{1,2}}|{_HOUR_WORDS})\b(?![:.,]\d)(?!\s*(?:{_NOT_HOUR_AFTER}))"
_TIME_RE = re.compile(rf"^\s*{TIME_PATTERN}\s*$", re.IGNORECASE)
_BARE_RE = re.compile(rf"^\s*{BARE_HOUR_PATTERN}\s*$", re.IGNORECASE)


def _hotel_hour(hour: int) -> int:
    """Guess the 24h hour of a bare hour in a hotel context: 1-6 are afternoon, 7-12 as written."""
    return hour + 12 if 1 <= hour <= 6 else hour


def time_from_match(m: re.Match[str]) -> str | None:
    """Turn a match of `TIME_PATTERN` or `BARE_HOUR_PATTERN` into "HH:MM" (24h), or None if invalid."""
    groups = m.groupdict()
    if groups.get("named"):
        return lexicon.NAMED_TIMES[re.sub(r"\s+", " ", groups["named"].lower())]
    hour: int | None = None
    minute = 0
    if groups.get("h1"):
        hour, minute = int(groups["h1"]), int(groups["m1"] or 0)
        if not 1 <= hour <= 12:
            return None
        pm = groups["ap"].lower() == "p"
        hour = (hour % 12) + (12 if pm else 0)
    elif groups.get("h2"):
        hour, minute = int(groups["h2"]), int(groups["m2"])
    elif groups.get("h3"):
        hour = _hotel_hour(int(groups["h3"]))
    elif groups.get("hw"):
        hour = lexicon.HOUR_WORDS[groups["hw"].lower()]
        marker = (groups.get("apw") or "").lower()
        part = (groups.get("part") or "").lower()
        if marker == "p" or part in ("afternoon", "evening"):
            hour = (hour % 12) + 12
        elif marker == "a" or part == "morning":
            hour = hour % 12
        else:
            hour = _hotel_hour(hour)
    elif groups.get("bare"):
        raw = groups["bare"].lower()
        hour = _hotel_hour(lexicon.HOUR_WORDS[raw] if raw in lexicon.HOUR_WORDS else int(raw))
    if hour is None or not 0 <= hour <= 23 or not 0 <= minute <= 59:
        return None
    return f"{hour:02d}:{minute:02d}"


def parse_time(text: str, allow_bare_hour: bool = False) -> str | None:
    """Parse a clock time ("2pm", "14:00", "noon", "2.30 p.m.", "two o'clock") into "HH:MM" (24h).

    A bare hour ("2") is accepted only with `allow_bare_hour`, and 1-6 are read as afternoon hours.
    """
    m = _TIME_RE.match(text)
    if m is None and allow_bare_hour:
        m = _BARE_RE.match(text)
    return time_from_match(m) if m else None
