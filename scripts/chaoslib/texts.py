"""Recognise which domain response produced a bot message (the guest-facing words live in domain/*.yml)."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import yaml

DOMAIN = Path(__file__).resolve().parents[2] / "domain"
REFERENCE = re.compile(r"\bC-[23456789ABCDEFGHJKLMNPQRSTUVWXYZ]{6}\b")

RECEIVED_LATER = "utter_gw_received_later"
LATE_ANSWER = "utter_gw_late_answer"
NO_ANSWER = "utter_gw_no_answer"
ERROR = "utter_error"
BUTTON_EXPIRED = "utter_gw_button_expired"
# Replies that acknowledge a message without answering it.
NOT_AN_ANSWER = frozenset({RECEIVED_LATER, NO_ANSWER, ERROR, BUTTON_EXPIRED})
# Responses only the scheduler's follow-ups produce (delivered from the outbox).
SURVEY_INTRO = "utter_survey_intro"
SURVEY_REMINDER = "utter_survey_reminder"
RECOVERY_ASK = "utter_recovery_ask"
PULSE_ASK = "utter_pulse_ask"
COMPLAINT_LOGGED = ("utter_complaint_logged", "utter_complaint_logged_urgent")


@lru_cache(maxsize=1)
def _patterns() -> list[tuple[str, re.Pattern[str], str | None]]:
    """Compile every response variation into (name, regex, name of the first {variable})."""
    found: list[tuple[str, re.Pattern[str], str | None]] = []
    for path in sorted(DOMAIN.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for name, variations in (data.get("responses") or {}).items():
            for variation in variations or []:
                text = variation.get("text")
                if not text:
                    continue
                variables = re.findall(r"\{([a-z_]+)\}", text)
                parts = re.split(r"\{[a-z_]+\}", text)
                regex = "(.+?)".join(re.escape(p) for p in parts)
                found.append((name, re.compile(f"^{regex}$", re.DOTALL), variables[0] if variables else None))
    # Longer templates first: a short one with a variable must not swallow a longer, more specific one.
    found.sort(key=lambda item: -len(item[1].pattern))
    return found


def response_name(text: str) -> str | None:
    """Return the domain response whose template produced ``text``, or None."""
    for name, regex, _ in _patterns():
        if regex.match(text):
            return name
    return None


def late_answer_quote(text: str) -> str | None:
    """Return the guest text quoted by a late answer ("About your message "…":"), or None."""
    for name, regex, _ in _patterns():
        if name == LATE_ANSWER:
            match = regex.match(text)
            if match:
                return match.group(1)
    return None


def quote_matches(quote: str, guest_text: str) -> bool:
    """Tell whether a late answer's quote is ``guest_text`` (quotes are cut at 80 characters with "…")."""
    if quote == guest_text:
        return True
    return quote.endswith("…") and guest_text.startswith(quote[:-1])


def references(text: str) -> list[str]:
    """Return the complaint references in a text."""
    return REFERENCE.findall(text or "")
