"""Load the gateway's own guest-facing texts from the Rasa domain responses and fill their variables."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DOMAIN_DIR = Path(__file__).resolve().parents[2] / "domain"

HELP = "utter_gw_help"
PRIVACY = "utter_gw_privacy"
STOPPED = "utter_gw_stopped"
RESUBSCRIBED = "utter_gw_resubscribed"
LINKED = "utter_gw_linked"
LINKED_ANONYMOUS = "utter_gw_linked_anonymous"
ALREADY_LINKED = "utter_gw_already_linked"
LINK_FAILED = "utter_gw_link_failed"
RECEIVED_LATER = "utter_gw_received_later"
LATE_ANSWER = "utter_gw_late_answer"
NO_ANSWER = "utter_gw_no_answer"
PHOTO_ATTACHED = "utter_gw_photo_attached"
PHOTO_NO_COMPLAINT = "utter_gw_photo_no_complaint"
VOICE = "utter_gw_voice"
STICKER = "utter_gw_sticker"
LOCATION = "utter_gw_location"
DOCUMENT = "utter_gw_document"
UNSUPPORTED = "utter_gw_unsupported"
BUTTON_EXPIRED = "utter_gw_button_expired"
COMMANDS = "utter_gw_commands"

REQUIRED: tuple[str, ...] = (
    HELP, PRIVACY, STOPPED, RESUBSCRIBED, LINKED, LINKED_ANONYMOUS, ALREADY_LINKED, LINK_FAILED,
    RECEIVED_LATER, LATE_ANSWER, NO_ANSWER, PHOTO_ATTACHED, PHOTO_NO_COMPLAINT, VOICE, STICKER,
    LOCATION, DOCUMENT, UNSUPPORTED, BUTTON_EXPIRED, COMMANDS,
)

_VARIABLE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class MissingText(LookupError):
    """Raised when the domain lacks a response the gateway needs."""


@dataclass(frozen=True)
class Texts:
    """Hold domain responses by name and render them as Rasa-style reply messages."""

    responses: dict[str, list[dict[str, Any]]]

    def message(self, name: str, **variables: object) -> dict[str, Any]:
        """Return the first variation of response ``name`` as a reply dict, with {variables} filled."""
        variations = self.responses.get(name)
        if not variations:
            raise MissingText(name)
        variation = variations[0]
        message: dict[str, Any] = {}
        if variation.get("text") is not None:
            message["text"] = fill(str(variation["text"]), variables)
        if variation.get("image"):
            message["image"] = variation["image"]
        if variation.get("buttons"):
            message["buttons"] = [
                {"title": fill(str(b.get("title", "")), variables), "payload": str(b.get("payload", ""))}
                for b in variation["buttons"]
            ]
        return message

    def text(self, name: str, **variables: object) -> str:
        """Return the filled text of response ``name``."""
        return str(self.message(name, **variables).get("text", ""))

    def commands(self) -> list[tuple[str, str]]:
        """Return the bot's command menu as (command, description) from the ``command - description`` lines."""
        pairs: list[tuple[str, str]] = []
        for line in self.text(COMMANDS).splitlines():
            command, sep, description = line.partition(" - ")
            if sep and command.strip() and description.strip():
                pairs.append((command.strip().lstrip("/"), description.strip()))
        return pairs


def fill(template: str, variables: dict[str, object]) -> str:
    """Replace each {name} with its value; unknown names are left as they are (as Rasa does)."""
    return _VARIABLE.sub(
        lambda m: str(variables[m.group(1)]) if m.group(1) in variables else m.group(0), template
    )


def load_texts(domain_dir: Path = DOMAIN_DIR, required: tuple[str, ...] = REQUIRED) -> Texts:
    """Read every ``responses:`` block of domain/*.yml and check that the required names exist."""
    responses: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(Path(domain_dir).glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for name, variations in (data.get("responses") or {}).items():
            responses[str(name)] = [v for v in (variations or []) if isinstance(v, dict)]
    missing = [name for name in required if not responses.get(name)]
    if missing:
        raise MissingText(f"domain responses missing: {', '.join(missing)}")
    return Texts(responses)
