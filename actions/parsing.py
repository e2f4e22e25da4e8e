"""Parse guests' bare answers and format profile data; pure functions, no I/O."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_SENDER_RE = re.compile(r"^(?P<channel>[a-z][a-z0-9_]{0,15}):(?P<external>.+)$")
_ROOM_RE = re.compile(r"\b(\d{1,4}[a-zA-Z]?)\b")
_NUMBER_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
}
_INT_RE = re.compile(r"(?<![\d.])(\d{1,2})(?![\d])")
_GENERIC_COMPLAINT_RE = re.compile(
    r"^\W*(hi|hello|hey|excuse me|sorry|please|um+|so|well)?\W*"
    r"(i\s*('d| would| want| wanna| need| have| wish)?\s*(like)?\s*(to)?\s*"
    r"(make|file|raise|log|lodge|report|submit|have|got)?\s*(a|an|some)?\s*"
    r"(complaint|complain|problem|issue|problems|issues)s?"
    r"(\s*(to (make|report))?|\s*please|\s*with (my|the) room)?)\W*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class SenderRef:
    """Identify a guest by messaging channel and the id used on that channel."""

    channel: str
    external_id: str


def split_sender_id(sender_id: str) -> SenderRef:
    """Split a namespaced Rasa sender id (`tg:123`) into channel and external id."""
    match = _SENDER_RE.match(sender_id or "")
    if match:
        return SenderRef(match.group("channel"), match.group("external"))
    return SenderRef("rest", sender_id or "anonymous")


def parse_room_number(text: str | None) -> str | None:
    """Return the room number in a bare answer ("412", "room 12b"), or None."""
    if not text:
        return None
    match = _ROOM_RE.search(text)
    return match.group(1).upper() if match else None


def parse_score(text: str | None, low: int, high: int) -> int | None:
    """Return the integer score in low..high found in a bare answer, or None."""
    if text is None:
        return None
    raw = str(text).strip().lower()
    if raw.startswith("/"):
        return None
    match = _INT_RE.search(raw)
    value: int | None = int(match.group(1)) if match else None
    if value is None:
        for word, number in _NUMBER_WORDS.items():
            if re.search(rf"\b{word}\b", raw):
                value = number
                break
    if value is None or not low <= value <= high:
        return None
    return value


def is_generic_complaint(text: str | None) -> bool:
    """Tell whether a complaint message says nothing about what is wrong."""
    if not text or text.strip().startswith("/"):
        return True
    return bool(_GENERIC_COMPLAINT_RE.match(text.strip()))


def humanise(value: str) -> str:
    """Turn a normalised value (`memory_foam`) into display words (`memory foam`)."""
    return str(value).replace("_", " ")


def describe(category: str, value: str) -> str:
    """Format one preference as `pillow: hypoallergenic`, or just `quiet room` when the value adds nothing."""
    label, shown = humanise(category), humanise(value)
    if shown.lower() in label.lower():
        return label
    return f"{label}: {shown}"


def summarise(items: Iterable[tuple[str, str]]) -> str:
    """Format (category, value) pairs as `pillow: hypoallergenic, floor: high`."""
    return ", ".join(describe(category, value) for category, value in items)


def profile_lines(items: Sequence[tuple[str, str]]) -> str:
    """Format (category, value) pairs as one bullet line each."""
    return "\n".join(f"• {describe(category, value)}" for category, value in items)
