"""Recognise which domain response a bot message came from, so tests assert on response names."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import yaml

DOMAIN_DIR = Path(__file__).resolve().parents[2] / "domain"


@lru_cache(maxsize=1)
def response_patterns() -> dict[str, list[re.Pattern[str]]]:
    """Compile every response variation into a regex where each {slot} matches anything."""
    patterns: dict[str, list[re.Pattern[str]]] = {}
    for path in sorted(DOMAIN_DIR.glob("*.yml")):
        data = yaml.safe_load(path.read_text()) or {}
        for name, variations in (data.get("responses") or {}).items():
            for variation in variations:
                text = variation.get("text")
                if text is None:
                    continue
                parts = re.split(r"\{[a-z_]+\}", text)
                regex = "(?:.+?)".join(re.escape(p) for p in parts)
                patterns.setdefault(name, []).append(re.compile(f"^{regex}$", re.DOTALL))
    return patterns


def response_name(text: str) -> str | None:
    """Return the domain response whose template produced `text`, or None."""
    for name, regexes in response_patterns().items():
        if any(r.match(text) for r in regexes):
            return name
    return None


def names_of(messages: list[dict]) -> list[str | None]:
    """Return the response names of a list of Rasa REST replies (text messages only)."""
    return [response_name(m["text"]) for m in messages if m.get("text")]
