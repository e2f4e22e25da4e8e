"""Count what went wrong in the stack's logs during a run (the symptoms behind conversation errors)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

PATTERNS: list[tuple[str, str, re.Pattern[str]]] = [
    ("rasa", "Rasa could not reach the action server (custom action events lost)",
     re.compile(r"Failed to run custom action")),
    ("rasa", "REST request abandoned by its client before Rasa answered (client time-out)",
     re.compile(r"rest\.message\.received\.timeout")),
    ("rasa", "Rasa logged a button payload it could not fill as a template (an ERROR with the slot values)",
     re.compile(r"rasa\.core\.nlg\.interpolator")),
    ("bot", "gateway: Rasa did not answer in time, message kept and answered later",
     re.compile(r"Rasa unavailable")),
    ("bot", "gateway: a handler failed", re.compile(r"handler failed")),
    ("scheduler", "scheduler: ERROR lines", re.compile(r" ERROR ")),
]
ACTION_FAILED = re.compile(r"action (\w+) failed for conversation \w+: (\w+)")


def scan(log_dir: Path, secrets: tuple[str, ...] = ()) -> dict[str, int]:
    """Return counts of known error signatures in ``log_dir``/*.log (and of lines holding any of ``secrets``)."""
    counts: Counter[str] = Counter()
    for path in sorted(log_dir.glob("*.log")):
        role = path.stem.split("-")[0]
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            for where, label, pattern in PATTERNS:
                if role == where and pattern.search(line):
                    counts[label] += 1
                    break
            match = ACTION_FAILED.search(line)
            if match and role == "actions":
                counts[f"action server: `{match.group(1)}` failed with {match.group(2)}"] += 1
            if any(secret and secret in line for secret in secrets):
                counts["a secret (bot token or API token) appears in a log line"] += 1
    return dict(counts)
