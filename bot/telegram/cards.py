"""Render the staff desk's case cards, notices and case list, and parse card buttons (pure, no I/O).

Every word staff read comes from the ``utter_gw_staff_*`` responses of the domain; this module only picks
them, fills their variables and lays out the lines. Times are shown in the hotel's time zone.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.telegram import texts as t
from bot.telegram.rendering import CALLBACK_DATA_MAX_BYTES, TEXT_MAX_CHARS, Button, Outgoing
from bot.telegram.texts import Texts
from crm_store.services.cases import CaseInfo
from crm_store.services.complaints import REFERENCE_ALPHABET, REFERENCE_LENGTH
from crm_store.services.staff_cards import CaseCard, next_deadline

CALLBACK_PREFIX = "case"
ACK = "ack"
RESOLVE = "res"
REASSIGN = "up"
ACTIONS: tuple[str, ...] = (ACK, RESOLVE, REASSIGN)
REFERENCE_RE = re.compile(rf"\bC-[{REFERENCE_ALPHABET}]{{{REFERENCE_LENGTH}}}\b")
_CALLBACK_RE = re.compile(rf"^{CALLBACK_PREFIX}:(?P<action>[a-z]+):(?P<ref>C-[{REFERENCE_ALPHABET}]{{{REFERENCE_LENGTH}}})$")

OPEN_STATUSES = frozenset({"open", "reopened"})
LIVE_STATUSES = frozenset({"open", "reopened", "acknowledged"})
DESCRIPTION_MAX_CHARS = 3000
HISTORY_MAX_LINES = 8
ACTOR_GUEST = "guest"
ACTOR_SCHEDULER = "scheduler"

STATUS_TEXTS: Mapping[str, str] = {
    "open": t.STAFF_STATUS_OPEN,
    "acknowledged": t.STAFF_STATUS_ACKNOWLEDGED,
    "resolved": t.STAFF_STATUS_RESOLVED,
    "confirmed": t.STAFF_STATUS_CONFIRMED,
    "reopened": t.STAFF_STATUS_REOPENED,
    "closed_unconfirmed": t.STAFF_STATUS_CLOSED_UNCONFIRMED,
}
RUNG_TEXTS: Mapping[str, str] = {
    "front_desk": t.STAFF_RUNG_FRONT_DESK,
    "duty_manager": t.STAFF_RUNG_DUTY_MANAGER,
    "general_manager": t.STAFF_RUNG_GENERAL_MANAGER,
}
EVENT_TEXTS: Mapping[str, str] = {
    "acknowledged": t.STAFF_EVENT_ACKNOWLEDGED,
    "resolved": t.STAFF_EVENT_RESOLVED,
    "escalated": t.STAFF_EVENT_ESCALATED,
    "sla_breached": t.STAFF_EVENT_SLA_BREACHED,
    "reopened": t.STAFF_EVENT_REOPENED,
    "confirmed": t.STAFF_EVENT_CONFIRMED,
    "closed_unconfirmed": t.STAFF_EVENT_CLOSED_UNCONFIRMED,
}
REASON_TEXTS: Mapping[str, str] = {
    "ack_overdue": t.STAFF_REASON_ACK_OVERDUE,
    "resolve_overdue": t.STAFF_REASON_RESOLVE_OVERDUE,
    "manual": t.STAFF_REASON_MANUAL,
    "reopened": t.STAFF_REASON_REOPENED,
    "not_fixed": t.STAFF_REASON_REOPENED,
}
NOTICE_TEXTS: Mapping[str, str] = {
    "escalated": t.STAFF_NOTICE_ESCALATED,
    "sla_breached": t.STAFF_NOTICE_SLA_BREACHED,
    "reopened": t.STAFF_NOTICE_REOPENED,
    "resolved_confirmed": t.STAFF_NOTICE_RESOLVED_CONFIRMED,
    "closed_unconfirmed": t.STAFF_NOTICE_CLOSED_UNCONFIRMED,
}


@dataclass(frozen=True)
class CardAction:
    """Say which card button was pressed: ``ack``, ``res`` or ``up`` on complaint ``reference``."""

    action: str
    reference: str


def callback_data(action: str, reference: str) -> str:
    """Return the callback_data of a card button, e.g. ``case:ack:C-7KQ4ZP`` (at most 64 bytes)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown card action {action!r}")
    data = f"{CALLBACK_PREFIX}:{action}:{reference}"
    if len(data.encode("utf-8")) > CALLBACK_DATA_MAX_BYTES:
        raise ValueError("callback data longer than 64 bytes")
    return data


def parse_callback(data: str | None) -> CardAction | None:
    """Return the card action behind callback_data, or None if it is not a valid card button."""
    match = _CALLBACK_RE.match(data or "")
    if match is None or match.group("action") not in ACTIONS:
        return None
    return CardAction(match.group("action"), match.group("ref"))


def find_reference(text: str | None) -> str | None:
    """Return the first complaint reference (``C-XXXXXX``) in a text, if any."""
    match = REFERENCE_RE.search((text or "").upper())
    return match.group(0) if match else None


def humanise(code: str | None) -> str:
    """Turn a code such as ``food_beverage`` or ``late_checkout`` into words."""
    return (code or "").replace("_", " ").strip()


class CardRenderer:
    """Render cards, notices and lists with the domain's staff texts in the hotel's time zone."""

    def __init__(self, texts: Texts, tz: ZoneInfo) -> None:
        """Use ``texts`` for every word and ``tz`` for every time shown."""
        self.texts = texts
        self.tz = tz

    # -- small pieces -----------------------------------------------------------------------------

    def duration(self, delta: timedelta) -> str:
        """Return a duration in words: ``12 min``, ``2 h 5 min``, ``1 d 3 h`` (rounded up to the minute)."""
        minutes = max(0, math.ceil(abs(delta.total_seconds()) / 60))
        if minutes < 60:
            return self.texts.text(t.STAFF_MINUTES, minutes=minutes)
        hours, rest = divmod(minutes, 60)
        if hours < 24:
            return self.texts.text(t.STAFF_HOURS, hours=hours, minutes=rest)
        days, hours = divmod(hours, 24)
        return self.texts.text(t.STAFF_DAYS, days=days, hours=hours)

    def clock(self, at: datetime, now: datetime) -> str:
        """Return a hotel-local time: ``HH:MM`` today, ``DD Mon HH:MM`` on another day."""
        local = at.astimezone(self.tz)
        if local.date() == now.astimezone(self.tz).date():
            return local.strftime("%H:%M")
        return local.strftime("%d %b %H:%M")

    def rung(self, rung: str | None) -> str:
        """Return a rung of the ladder in words (``front_desk`` → ``front desk``)."""
        name = RUNG_TEXTS.get(rung or "")
        return self.texts.text(name) if name else humanise(rung)

    def status(self, status: str) -> str:
        """Return a case status label."""
        name = STATUS_TEXTS.get(status)
        return self.texts.text(name) if name else humanise(status)

    def reason(self, code: str | None) -> str:
        """Return an escalation reason in words."""
        name = REASON_TEXTS.get(code or "")
        return self.texts.text(name) if name else humanise(code)

    def actor(self, actor: str, names: Mapping[str, str]) -> str:
        """Return who did something: a staff member's name, "the guest", "the assistant", or the raw actor."""
        if actor in names:
            return names[actor]
        if actor == ACTOR_GUEST:
            return self.texts.text(t.STAFF_ACTOR_GUEST)
        if actor == ACTOR_SCHEDULER:
            return self.texts.text(t.STAFF_ACTOR_SCHEDULER)
        return actor

    def guest(self, name: str | None, verified: bool) -> str:
        """Return the guest as staff see them: their name, or "unverified"."""
        if verified and name:
            return name
        if name:
            return self.texts.text(t.STAFF_GUEST_NAMED_UNVERIFIED, name=name)
        return self.texts.text(t.STAFF_GUEST_UNVERIFIED)

    def deadline(self, case: CaseInfo, now: datetime) -> str | None:
        """Return the line with the time left before the deadline that applies now, if any."""
        if case.status in OPEN_STATUSES:
            due, on_time, late = case.ack_due_at, t.STAFF_CARD_ACK_DUE, t.STAFF_CARD_ACK_OVERDUE
        elif case.status == "acknowledged" and case.resolve_due_at is not None:
            due, on_time, late = case.resolve_due_at, t.STAFF_CARD_RESOLVE_DUE, t.STAFF_CARD_RESOLVE_OVERDUE
        else:
            return None
        name = on_time if due >= now else late
        return self.texts.text(name, left=self.duration(due - now), due=self.clock(due, now))

    def keyboard(self, case: CaseInfo) -> tuple[tuple[Button, ...], ...]:
        """Return the card's buttons for the case's status (none once it is resolved)."""
        buttons: list[Button] = []
        if case.status in OPEN_STATUSES:
            buttons.append(Button(self.texts.text(t.STAFF_BUTTON_ACKNOWLEDGE), data=callback_data(ACK, case.reference)))
        if case.status in LIVE_STATUSES:
            buttons.append(Button(self.texts.text(t.STAFF_BUTTON_RESOLVED), data=callback_data(RESOLVE, case.reference)))
            if not case.at_top:
                buttons.append(
                    Button(self.texts.text(t.STAFF_BUTTON_REASSIGN), data=callback_data(REASSIGN, case.reference))
                )
        return (tuple(buttons),) if buttons else ()

    def history(self, card: CaseCard, names: Mapping[str, str], now: datetime) -> list[str]:
        """Return the lines of what happened to the case (acknowledged by X at HH:MM, …), oldest first."""
        lines: list[str] = []
        for kind, actor, at, detail in card.events:
            name = EVENT_TEXTS.get(kind)
            if name is None:
                continue
            lines.append(
                self.texts.text(
                    name, who=self.actor(actor, names), time=self.clock(at, now), rung=self.rung(detail.get("to_rung"))
                )
            )
        return lines[-HISTORY_MAX_LINES:]

    # -- whole messages ----------------------------------------------------------------------------

    def card(self, card: CaseCard, now: datetime) -> Outgoing:
        """Return the card of a case: its facts, the time left, the suggested gesture, its history, its buttons."""
        case = card.case
        names = card.card.names if card.card is not None else {}
        description = card.description
        if len(description) > DESCRIPTION_MAX_CHARS:
            description = description[:DESCRIPTION_MAX_CHARS].rstrip() + "…"
        lines = [
            self.texts.text(t.STAFF_CARD_TITLE, reference=case.reference, status=self.status(case.status)),
            self.texts.text(t.STAFF_CARD_GUEST, guest=self.guest(card.guest_name, card.guest_verified)),
            self.texts.text(t.STAFF_CARD_ROOM, room=case.room or self.texts.text(t.STAFF_ROOM_UNKNOWN)),
            self.texts.text(t.STAFF_CARD_CATEGORY, category=humanise(case.category), severity=case.severity),
            self.texts.text(t.STAFF_CARD_RUNG, rung=self.rung(case.rung)),
            self.texts.text(t.STAFF_CARD_WORDS, description=description),
        ]
        if card.photos:
            lines.append(self.texts.text(t.STAFF_CARD_PHOTOS, count=len(card.photos)))
        deadline = self.deadline(case, now)
        if deadline:
            lines.append(deadline)
        if case.chosen_gesture:
            lines.append(self.texts.text(t.STAFF_CARD_GESTURE_CHOSEN, gesture=humanise(case.chosen_gesture)))
        elif case.suggested_gestures and case.status in LIVE_STATUSES:
            gestures = ", ".join(humanise(g) for g in case.suggested_gestures)
            lines.append(self.texts.text(t.STAFF_CARD_GESTURE, gestures=gestures))
        history = self.history(card, names, now)
        if history:
            lines.append("")
            lines.extend(history)
        if card.handoff_owner:
            lines.append(self.texts.text(t.STAFF_CARD_OWNER, name=self.actor(card.handoff_owner, names)))
        text = "\n".join(lines)
        if len(text) > TEXT_MAX_CHARS:
            text = text[: TEXT_MAX_CHARS - 1] + "…"
        return Outgoing(text=text, keyboard=self.keyboard(case))

    def alert_notice(self, body: Mapping[str, Any]) -> str | None:
        """Return the short notice posted under a card for a case alert (None for a new complaint)."""
        name = NOTICE_TEXTS.get(str(body.get("event") or ""))
        if name is None:
            return None
        return self.texts.text(
            name, reference=body.get("reference", ""), rung=self.rung(body.get("rung")), reason=self.reason(body.get("reason"))
        )

    def failure_notice(self, body: Mapping[str, Any]) -> str:
        """Return the notice of an automated follow-up that was given up."""
        return self.texts.text(
            t.STAFF_NOTICE_FOLLOWUP_FAILED,
            kind=humanise(str(body.get("kind") or "")),
            subject=body.get("subject", ""),
            attempts=body.get("attempts", "?"),
        )

    def feedback_notice(self, body: Mapping[str, Any]) -> str:
        """Return the notice of a bad survey or pulse score."""
        score = body.get("nps", body.get("score"))
        lines = [
            self.texts.text(
                t.STAFF_NOTICE_FEEDBACK,
                source=humanise(str(body.get("source") or "")),
                guest=self.guest(body.get("guest"), bool(body.get("guest"))),
                room=body.get("room") or self.texts.text(t.STAFF_ROOM_UNKNOWN),
                score="?" if score is None else score,
            )
        ]
        comment = str(body.get("comment") or "").strip()
        if comment:
            lines.append(self.texts.text(t.STAFF_NOTICE_FEEDBACK_COMMENT, comment=comment[:DESCRIPTION_MAX_CHARS]))
        return "\n".join(lines)

    def cases_list(self, cases: list[CaseInfo], now: datetime) -> str:
        """Return the /cases answer: open cases by deadline with room, category, status and time left."""
        if not cases:
            return self.texts.text(t.STAFF_CASES_NONE)
        lines = [self.texts.text(t.STAFF_CASES_TITLE, count=len(cases))]
        for case in cases:
            due = next_deadline(case)
            left_name = t.STAFF_CASES_LEFT if due >= now else t.STAFF_CASES_OVERDUE
            lines.append(
                self.texts.text(
                    t.STAFF_CASES_LINE,
                    reference=case.reference,
                    room=case.room or self.texts.text(t.STAFF_ROOM_UNKNOWN),
                    category=humanise(case.category),
                    status=self.status(case.status),
                    left=self.texts.text(left_name, left=self.duration(due - now)),
                )
            )
        return "\n".join(lines)
