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

# Staff desk (cards, buttons, notices in the staff chat; what the guest hears when a human takes over).
STAFF_CARD_TITLE = "utter_gw_staff_card_title"
STAFF_CARD_GUEST = "utter_gw_staff_card_guest"
STAFF_GUEST_UNVERIFIED = "utter_gw_staff_guest_unverified"
STAFF_GUEST_NAMED_UNVERIFIED = "utter_gw_staff_guest_named_unverified"
STAFF_CARD_ROOM = "utter_gw_staff_card_room"
STAFF_ROOM_UNKNOWN = "utter_gw_staff_room_unknown"
STAFF_CARD_CATEGORY = "utter_gw_staff_card_category"
STAFF_CARD_RUNG = "utter_gw_staff_card_rung"
STAFF_CARD_WORDS = "utter_gw_staff_card_words"
STAFF_CARD_PHOTOS = "utter_gw_staff_card_photos"
STAFF_CARD_ACK_DUE = "utter_gw_staff_card_ack_due"
STAFF_CARD_ACK_OVERDUE = "utter_gw_staff_card_ack_overdue"
STAFF_CARD_RESOLVE_DUE = "utter_gw_staff_card_resolve_due"
STAFF_CARD_RESOLVE_OVERDUE = "utter_gw_staff_card_resolve_overdue"
STAFF_CARD_GESTURE = "utter_gw_staff_card_gesture"
STAFF_CARD_GESTURE_CHOSEN = "utter_gw_staff_card_gesture_chosen"
STAFF_CARD_OWNER = "utter_gw_staff_card_owner"
STAFF_STATUS_OPEN = "utter_gw_staff_status_open"
STAFF_STATUS_ACKNOWLEDGED = "utter_gw_staff_status_acknowledged"
STAFF_STATUS_RESOLVED = "utter_gw_staff_status_resolved"
STAFF_STATUS_CONFIRMED = "utter_gw_staff_status_confirmed"
STAFF_STATUS_REOPENED = "utter_gw_staff_status_reopened"
STAFF_STATUS_CLOSED_UNCONFIRMED = "utter_gw_staff_status_closed_unconfirmed"
STAFF_EVENT_ACKNOWLEDGED = "utter_gw_staff_event_acknowledged"
STAFF_EVENT_RESOLVED = "utter_gw_staff_event_resolved"
STAFF_EVENT_ESCALATED = "utter_gw_staff_event_escalated"
STAFF_EVENT_SLA_BREACHED = "utter_gw_staff_event_sla_breached"
STAFF_EVENT_REOPENED = "utter_gw_staff_event_reopened"
STAFF_EVENT_CONFIRMED = "utter_gw_staff_event_confirmed"
STAFF_EVENT_CLOSED_UNCONFIRMED = "utter_gw_staff_event_closed_unconfirmed"
STAFF_ACTOR_GUEST = "utter_gw_staff_actor_guest"
STAFF_ACTOR_SCHEDULER = "utter_gw_staff_actor_scheduler"
STAFF_BUTTON_ACKNOWLEDGE = "utter_gw_staff_button_acknowledge"
STAFF_BUTTON_RESOLVED = "utter_gw_staff_button_resolved"
STAFF_BUTTON_REASSIGN = "utter_gw_staff_button_reassign"
STAFF_MINUTES = "utter_gw_staff_minutes"
STAFF_HOURS = "utter_gw_staff_hours"
STAFF_DAYS = "utter_gw_staff_days"
STAFF_RUNG_FRONT_DESK = "utter_gw_staff_rung_front_desk"
STAFF_RUNG_DUTY_MANAGER = "utter_gw_staff_rung_duty_manager"
STAFF_RUNG_GENERAL_MANAGER = "utter_gw_staff_rung_general_manager"
STAFF_REFUSED = "utter_gw_staff_refused"
STAFF_DONE_ACKNOWLEDGED = "utter_gw_staff_done_acknowledged"
STAFF_DONE_RESOLVED = "utter_gw_staff_done_resolved"
STAFF_DONE_REASSIGNED = "utter_gw_staff_done_reassigned"
STAFF_NOT_NOW = "utter_gw_staff_not_now"
STAFF_AT_TOP = "utter_gw_staff_at_top"
STAFF_UNKNOWN_CASE = "utter_gw_staff_unknown_case"
STAFF_BAD_BUTTON = "utter_gw_staff_bad_button"
STAFF_NOTICE_ESCALATED = "utter_gw_staff_notice_escalated"
STAFF_NOTICE_SLA_BREACHED = "utter_gw_staff_notice_sla_breached"
STAFF_NOTICE_REOPENED = "utter_gw_staff_notice_reopened"
STAFF_NOTICE_RESOLVED_CONFIRMED = "utter_gw_staff_notice_resolved_confirmed"
STAFF_NOTICE_CLOSED_UNCONFIRMED = "utter_gw_staff_notice_closed_unconfirmed"
STAFF_NOTICE_FOLLOWUP_FAILED = "utter_gw_staff_notice_followup_failed"
STAFF_NOTICE_FEEDBACK = "utter_gw_staff_notice_feedback"
STAFF_NOTICE_FEEDBACK_COMMENT = "utter_gw_staff_notice_feedback_comment"
STAFF_REASON_ACK_OVERDUE = "utter_gw_staff_reason_ack_overdue"
STAFF_REASON_RESOLVE_OVERDUE = "utter_gw_staff_reason_resolve_overdue"
STAFF_REASON_MANUAL = "utter_gw_staff_reason_manual"
STAFF_REASON_REOPENED = "utter_gw_staff_reason_reopened"
STAFF_ANSWERING = "utter_gw_staff_answering"
STAFF_ANSWERING_GENERIC = "utter_gw_staff_answering_generic"
STAFF_HANDED_BACK = "utter_gw_staff_handed_back"
STAFF_GUEST_SAYS = "utter_gw_staff_guest_says"
STAFF_GUEST_PHOTO = "utter_gw_staff_guest_photo"
STAFF_HANDBACK_NOTICE = "utter_gw_staff_handback_notice"
STAFF_HANDBACK_RESOLVED = "utter_gw_staff_handback_resolved"
STAFF_HANDBACK_COMMAND = "utter_gw_staff_handback_command"
STAFF_HANDBACK_IDLE = "utter_gw_staff_handback_idle"
STAFF_HANDBACK_NONE = "utter_gw_staff_handback_none"
STAFF_HANDBACK_USAGE = "utter_gw_staff_handback_usage"
STAFF_REPLY_TEXT_ONLY = "utter_gw_staff_reply_text_only"
STAFF_RELAY_FAILED = "utter_gw_staff_relay_failed"
STAFF_RELAY_QUEUED = "utter_gw_staff_relay_queued"
STAFF_NO_CONTACT = "utter_gw_staff_no_contact"
STAFF_CASES_TITLE = "utter_gw_staff_cases_title"
STAFF_CASES_LINE = "utter_gw_staff_cases_line"
STAFF_CASES_LEFT = "utter_gw_staff_cases_left"
STAFF_CASES_OVERDUE = "utter_gw_staff_cases_overdue"
STAFF_CASES_NONE = "utter_gw_staff_cases_none"
STAFF_COMMANDS = "utter_gw_staff_commands"

REQUIRED: tuple[str, ...] = (
    HELP, PRIVACY, STOPPED, RESUBSCRIBED, LINKED, LINKED_ANONYMOUS, ALREADY_LINKED, LINK_FAILED,
    RECEIVED_LATER, LATE_ANSWER, NO_ANSWER, PHOTO_ATTACHED, PHOTO_NO_COMPLAINT, VOICE, STICKER,
    LOCATION, DOCUMENT, UNSUPPORTED, BUTTON_EXPIRED, COMMANDS,
)
STAFF_REQUIRED: tuple[str, ...] = (
    STAFF_CARD_TITLE, STAFF_CARD_GUEST, STAFF_GUEST_UNVERIFIED, STAFF_GUEST_NAMED_UNVERIFIED, STAFF_CARD_ROOM,
    STAFF_ROOM_UNKNOWN, STAFF_CARD_CATEGORY, STAFF_CARD_RUNG, STAFF_CARD_WORDS, STAFF_CARD_PHOTOS,
    STAFF_CARD_ACK_DUE, STAFF_CARD_ACK_OVERDUE, STAFF_CARD_RESOLVE_DUE, STAFF_CARD_RESOLVE_OVERDUE,
    STAFF_CARD_GESTURE, STAFF_CARD_GESTURE_CHOSEN, STAFF_CARD_OWNER, STAFF_STATUS_OPEN,
    STAFF_STATUS_ACKNOWLEDGED, STAFF_STATUS_RESOLVED, STAFF_STATUS_CONFIRMED, STAFF_STATUS_REOPENED,
    STAFF_STATUS_CLOSED_UNCONFIRMED, STAFF_EVENT_ACKNOWLEDGED, STAFF_EVENT_RESOLVED, STAFF_EVENT_ESCALATED,
    STAFF_EVENT_SLA_BREACHED, STAFF_EVENT_REOPENED, STAFF_EVENT_CONFIRMED, STAFF_EVENT_CLOSED_UNCONFIRMED,
    STAFF_ACTOR_GUEST, STAFF_ACTOR_SCHEDULER, STAFF_BUTTON_ACKNOWLEDGE, STAFF_BUTTON_RESOLVED,
    STAFF_BUTTON_REASSIGN, STAFF_MINUTES, STAFF_HOURS, STAFF_DAYS, STAFF_RUNG_FRONT_DESK,
    STAFF_RUNG_DUTY_MANAGER, STAFF_RUNG_GENERAL_MANAGER, STAFF_REFUSED, STAFF_DONE_ACKNOWLEDGED,
    STAFF_DONE_RESOLVED, STAFF_DONE_REASSIGNED, STAFF_NOT_NOW, STAFF_AT_TOP, STAFF_UNKNOWN_CASE,
    STAFF_BAD_BUTTON, STAFF_NOTICE_ESCALATED, STAFF_NOTICE_SLA_BREACHED, STAFF_NOTICE_REOPENED,
    STAFF_NOTICE_RESOLVED_CONFIRMED, STAFF_NOTICE_CLOSED_UNCONFIRMED, STAFF_NOTICE_FOLLOWUP_FAILED,
    STAFF_REASON_ACK_OVERDUE, STAFF_REASON_RESOLVE_OVERDUE, STAFF_REASON_MANUAL, STAFF_REASON_REOPENED,
    STAFF_ANSWERING, STAFF_ANSWERING_GENERIC, STAFF_HANDED_BACK, STAFF_GUEST_SAYS, STAFF_GUEST_PHOTO,
    STAFF_HANDBACK_NOTICE, STAFF_HANDBACK_RESOLVED, STAFF_HANDBACK_COMMAND, STAFF_HANDBACK_IDLE,
    STAFF_HANDBACK_NONE, STAFF_HANDBACK_USAGE, STAFF_REPLY_TEXT_ONLY, STAFF_RELAY_FAILED, STAFF_RELAY_QUEUED,
    STAFF_NO_CONTACT, STAFF_CASES_TITLE, STAFF_CASES_LINE, STAFF_CASES_LEFT, STAFF_CASES_OVERDUE,
    STAFF_CASES_NONE, STAFF_COMMANDS, STAFF_NOTICE_FEEDBACK, STAFF_NOTICE_FEEDBACK_COMMENT,
)
REQUIRED = REQUIRED + STAFF_REQUIRED

_VARIABLE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class MissingText(LookupError):
    """Raised when the domain lacks a response the gateway needs."""


@dataclass(frozen=True)
class Texts:
    """Hold domain responses by name and render them as Rasa-style reply messages."""

    responses: dict[str, list[dict[str, Any]]]

    def message(self, name: str, /, **variables: object) -> dict[str, Any]:
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

    def text(self, name: str, /, **variables: object) -> str:
        """Return the filled text of response ``name``."""
        return str(self.message(name, **variables).get("text", ""))

    def commands(self, name: str = COMMANDS) -> list[tuple[str, str]]:
        """Return a command menu as (command, description) from the ``command - description`` lines of ``name``."""
        pairs: list[tuple[str, str]] = []
        for line in self.text(name).splitlines():
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
