"""Run `rasa data validate` and fail on any warning except the validator's known blind spots.

Rasa 3.6's validator warns about every response that no story or rule names, even when a form asks with
it (`utter_ask_<slot>`) or a custom action dispatches it, and about `EXTERNAL_*` intents (which by design
never appear in NLU data). This script accepts exactly those cases after checking them for real: the
response must be named in `actions/` or `bot/` code, or be the ask-response of a form slot. It also
checks the reverse: every response name the Python code uses exists in the domain.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
UNUSED_RE = re.compile(r"The utterance '([^']+)' is not used in any story or rule")
EXTERNAL_RE = re.compile(r"The intent '(EXTERNAL_[^']+)' is listed in the domain file, but is not found")
WARNING_RE = re.compile(r"UserWarning: (.*)")
CODE_NAME_RE = re.compile(r"[\"'](utter_[a-z0-9_]+)[\"']")
# Responses that Rasa's own default actions send (action_default_fallback sends utter_default).
USED_BY_RASA = {"utter_default"}


def domain_responses_and_form_slots() -> tuple[set[str], set[str]]:
    """Return the domain's response names and the slots that forms require."""
    responses: set[str] = set()
    form_slots: set[str] = set()
    for path in (REPO / "domain").glob("*.yml"):
        data = yaml.safe_load(path.read_text()) or {}
        responses |= set((data.get("responses") or {}).keys())
        for form in (data.get("forms") or {}).values():
            form_slots |= set((form or {}).get("required_slots") or [])
    return responses, form_slots


def names_used_in_code() -> set[str]:
    """Return every `utter_*` string literal in actions/ and bot/."""
    used: set[str] = set()
    for folder in ("actions", "bot"):
        for path in (REPO / folder).rglob("*.py"):
            used |= set(CODE_NAME_RE.findall(path.read_text()))
    return used


HOLDOUT = REPO / "tests" / "nlu" / "holdout.yml"
LEAK_NGRAM = 5


def _words(text: str) -> list[str]:
    return re.sub(r"\W+", " ", text.lower()).split()


def _ngrams(text: str, n: int = LEAK_NGRAM) -> set[tuple[str, ...]]:
    words = _words(text)
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def holdout_leaks() -> list[str]:
    """Return training examples that repeat a held-out example, or share a run of five words with one.

    The held-out split measures how the model does on wording it has never seen; a copied or lightly edited
    held-out sentence in data/nlu makes those figures lie.
    """
    from rasa.shared.nlu.training_data.loading import load_data

    held = load_data(str(HOLDOUT)).training_examples
    held_texts = {" ".join(_words(m.get("text"))) for m in held}
    held_grams: set[tuple[str, ...]] = set()
    for message in held:
        held_grams |= _ngrams(message.get("text"))
    leaks = []
    for message in load_data(str(REPO / "data" / "nlu")).training_examples:
        text = message.get("text")
        if " ".join(_words(text)) in held_texts or _ngrams(text) & held_grams:
            leaks.append(f"training example repeats held-out wording: {text!r}")
    return leaks


def main() -> int:
    """Validate and report; exit non-zero on a real problem."""
    proc = subprocess.run(
        [sys.executable, "-m", "rasa", "data", "validate", "--data", "data", "--domain", "domain",
         "--config", "config.yml"],
        cwd=REPO, capture_output=True, text=True,
    )
    output = proc.stdout + proc.stderr
    responses, form_slots = domain_responses_and_form_slots()
    in_code = names_used_in_code()
    problems: list[str] = []
    accepted = 0
    for line in output.splitlines():
        match = WARNING_RE.search(line)
        if not match or "rasa" not in line:
            continue
        message = match.group(1)
        unused = UNUSED_RE.search(message)
        if unused:
            name = unused.group(1)
            if name in in_code or name in USED_BY_RASA or name.removeprefix("utter_ask_") in form_slots:
                accepted += 1
                continue
            problems.append(f"response {name} is used nowhere (no story, rule, form or action)")
            continue
        if EXTERNAL_RE.search(message):
            accepted += 1
            continue
        problems.append(message)
    problems += holdout_leaks()
    for name in sorted(in_code - responses):
        problems.append(f"code names response {name}, which the domain does not define")
    if proc.returncode != 0:
        problems.append(f"rasa data validate exited with {proc.returncode}")
        print(output[-4000:])
    for problem in problems:
        print(f"validate: {problem}")
    print(f"validate: {len(problems)} problems, {accepted} validator blind spots checked and accepted")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
