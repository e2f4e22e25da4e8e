"""Judge a chaos run from two independent records: the CRM database and the Bot API's log of what was said.

- lost_complaints: a complaint reference a guest read in a bot message that has no complaint row, or whose
  row belongs to another guest than the chat's.
- lost_followups: a follow-up due before quiescence that is not settled (pending, claimed or failed); a guest
  outbox row not delivered; a guest outbox row the database calls sent that never reached the chat.
- duplicated: a follow-up message (survey invitation, reminder, recovery check) delivered more often than the
  database staged it, the same follow-up staged twice, or a guest message answered twice.
- unanswered: a guest update (by update id) with no bot reply that answers it. "I'll reply shortly", "sorry,
  I couldn't work that out", the action server's apology and "this button has expired" do not count.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import create_engine, func, select

from crm_store import model

from . import texts as t
from .botapi import ChaosBotApi, Entry

GUEST_FACING_KINDS = frozenset({"recovery_ask", "survey_invite", "survey_reminder", "pulse_check"})
FOLLOWUP_ONLY_NAMES = frozenset({t.SURVEY_INTRO, t.SURVEY_REMINDER, t.RECOVERY_ASK, t.PULSE_ASK})
MATCH_WINDOW_S = 15.0


@dataclass
class GuestMessage:
    """One guest update and what the bot did about it."""

    chat_id: int
    entry: Entry
    answered: bool = False
    held: bool = False
    late_answers: int = 0
    non_answers: list[str] = field(default_factory=list)


@dataclass
class Verdict:
    """The four counts and the evidence behind them."""

    lost_complaints: int = 0
    lost_followups: int = 0
    duplicated: int = 0
    unanswered: int = 0
    details: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    figures: dict[str, Any] = field(default_factory=dict)

    def note(self, what: str, line: str) -> None:
        """Keep one piece of evidence (the first few per kind are printed)."""
        self.details[what].append(line)


def _rows(url: str, statement: Any) -> list[Any]:
    """Run a Core select (so the model's column types turn values into datetimes, dicts and enums)."""
    engine = create_engine(url, future=True)
    try:
        with engine.connect() as conn:
            return list(conn.execute(statement))
    finally:
        engine.dispose()


def _status(value: Any) -> str:
    return str(getattr(value, "value", value))


def _ts(value: datetime | None) -> float | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.timestamp()


def guest_chats(api: ChaosBotApi) -> list[int]:
    """Return the guest chats that appear in the log (private chats have positive ids)."""
    return sorted(c for c in api.timeline if c > 0)


def judge(api: ChaosBotApi, crm_url: str, quiesced_at: float) -> Verdict:
    """Compute the verdict of a finished run."""
    verdict = Verdict()
    chats = guest_chats(api)
    identity, complaint, follow_up = model.ChannelIdentity, model.Complaint, model.FollowUp
    outbound, inbound, processed_update = model.OutboundMessage, model.InboundMessage, model.ProcessedUpdate
    identities = _rows(crm_url, select(identity.external_id, identity.guest_id).where(identity.channel == "tg"))
    guest_of_chat = {int(r.external_id): r.guest_id for r in identities if r.external_id.lstrip("-").isdigit()}
    complaints = {r.reference: r for r in _rows(crm_url, select(complaint.reference, complaint.guest_id))}
    followups = _rows(crm_url, select(follow_up.id, follow_up.kind, follow_up.status, follow_up.due_at,
                                      follow_up.idempotency_key, follow_up.last_error, follow_up.attempts))
    outbox = _rows(crm_url, select(outbound.id, outbound.channel, outbound.recipient, outbound.body, outbound.status,
                                   outbound.last_error, outbound.created_at, outbound.sent_at).order_by(outbound.id))
    kept = _rows(crm_url, select(inbound.status, func.count().label("n")).group_by(inbound.status))
    processed = {int(r.update_id) for r in _rows(
        crm_url, select(processed_update.update_id).where(processed_update.source == "telegram"))}
    verdict.figures["inbound"] = {_status(r.status): r.n for r in kept}

    _complaints(api, chats, guest_of_chat, complaints, verdict)
    matched = _followups(api, chats, followups, outbox, quiesced_at, verdict)
    _answers(api, chats, matched, processed, verdict)
    verdict.figures["complaints"] = len(complaints)
    verdict.figures["followups"] = dict(Counter(f"{r.kind}:{_status(r.status)}" for r in followups))
    return verdict


def _complaints(api: ChaosBotApi, chats: list[int], guest_of_chat: dict[int, int], complaints: dict[str, Any],
                verdict: Verdict) -> None:
    told = 0
    for chat_id in chats:
        refs = {ref for e in api.timeline[chat_id] if e.by == "bot" for ref in t.references(e.text)}
        for ref in sorted(refs):
            told += 1
            row = complaints.get(ref)
            if row is None:
                verdict.lost_complaints += 1
                verdict.note("lost_complaints", f"chat {chat_id}: {ref} was told but has no complaint row")
            elif guest_of_chat.get(chat_id) != row.guest_id:
                verdict.lost_complaints += 1
                verdict.note("lost_complaints", f"chat {chat_id}: {ref} belongs to guest {row.guest_id}, "
                                                f"the chat to {guest_of_chat.get(chat_id)}")
    verdict.figures["references_told"] = told


def _followups(api: ChaosBotApi, chats: list[int], followups: list[Any], outbox: list[Any], quiesced_at: float,
               verdict: Verdict) -> dict[int, set[int]]:
    """Check follow-ups and the outbox; return, per chat, the seqs of bot messages that were outbox deliveries."""
    for row in followups:
        due = _ts(row.due_at) or 0.0
        if due > quiesced_at:
            continue
        status = _status(row.status)
        if status in ("pending", "claimed"):
            verdict.lost_followups += 1
            verdict.note("lost_followups", f"{row.kind} {row.idempotency_key} still {status} "
                                           f"(due {row.due_at:%H:%M:%S}, attempts {row.attempts})")
        elif status == "failed":
            verdict.lost_followups += 1
            verdict.note("lost_followups", f"{row.kind} {row.idempotency_key} failed: {(row.last_error or '')[:80]}")

    staged: Counter[tuple[str, str, str]] = Counter()
    matched: dict[int, set[int]] = defaultdict(set)
    expected: dict[int, Counter[str]] = defaultdict(Counter)
    for row in outbox:
        body = row.body if isinstance(row.body, dict) else {}
        source = str(body.get("source") or "")
        if row.channel != "tg":  # staff rows wait for a staff desk, which the chaos stack does not run
            continue
        message = str(body.get("text") or "")
        staged[(row.recipient, source, message)] += 1
        if _status(row.status) != "sent":
            if row.last_error == "opted_out":
                continue
            verdict.lost_followups += 1
            verdict.note("lost_followups", f"outbox {row.id} ({source}) to chat {row.recipient} "
                                           f"{_status(row.status)}: "
                                           f"{(row.last_error or '')[:60]}")
            continue
        chat_id = int(row.recipient)
        expected[chat_id][message] += 1
        sent_at = _ts(row.sent_at) or _ts(row.created_at) or 0.0
        candidates = [e for e in api.timeline.get(chat_id, []) if e.by == "bot" and e.text == message
                      and e.seq not in matched[chat_id] and e.at <= sent_at + 1.0
                      and e.at >= (_ts(row.created_at) or 0.0) - 1.0]
        if not candidates:
            verdict.lost_followups += 1
            verdict.note("lost_followups", f"outbox {row.id} ({source}) marked sent but never reached chat "
                                           f"{chat_id}")
            continue
        matched[chat_id].add(max(candidates, key=lambda e: e.at).seq)
    for (recipient, source, message), count in staged.items():
        if source and count > 1:
            verdict.duplicated += count - 1
            verdict.note("duplicated", f"{source} staged {count} times for chat {recipient}")
    # Follow-up messages delivered more often than staged (e.g. re-sent after a crash between send and settle).
    for chat_id in chats:
        seen: Counter[str] = Counter(
            e.text for e in api.timeline[chat_id]
            if e.by == "bot" and t.response_name(e.text) in FOLLOWUP_ONLY_NAMES
        )
        for message, count in seen.items():
            extra = count - expected[chat_id][message]
            if extra > 0:
                verdict.duplicated += extra
                verdict.note("duplicated", f"chat {chat_id}: {t.response_name(message)} delivered {count} times, "
                                           f"staged {expected[chat_id][message]}")
    return matched


def _answers(api: ChaosBotApi, chats: list[int], matched: dict[int, set[int]], processed: set[int],
             verdict: Verdict) -> None:
    total = held = late = 0
    direct_s: list[float] = []  # guest update -> first reply, when answered at once
    late_s: list[float] = []  # guest update -> its late answer
    for chat_id in chats:
        messages: list[GuestMessage] = []
        current: GuestMessage | None = None
        attributed: GuestMessage | None = None
        for entry in api.timeline[chat_id]:
            if entry.by == "guest":
                current = GuestMessage(chat_id, entry)
                messages.append(current)
                attributed = None
                continue
            if entry.seq in matched[chat_id]:
                continue  # a follow-up delivered from the outbox, not a reply
            name = t.response_name(entry.text)
            if name == t.RECEIVED_LATER:
                if current is not None:
                    current.held = True
                attributed = None
                continue
            if name == t.LATE_ANSWER:
                quote = t.late_answer_quote(entry.text) or ""
                candidates = [m for m in messages if t.quote_matches(quote, m.entry.text)]
                target = next((m for m in reversed(candidates) if m.held and not m.late_answers), None)
                target = target or (candidates[-1] if candidates else None)
                if target is None:
                    verdict.note("unexplained", f"chat {chat_id}: late answer to a message nobody sent: {quote!r}")
                    attributed = None
                    continue
                if target.answered or target.late_answers:
                    verdict.duplicated += 1
                    verdict.note("duplicated", f"chat {chat_id}: update {target.entry.update_id} "
                                               f"({target.entry.text[:30]!r}) answered twice")
                target.late_answers += 1
                late_s.append(entry.at - target.entry.at)
                attributed = target
                continue
            target = attributed or current
            if target is None:
                continue
            if name in t.NOT_AN_ANSWER:
                target.non_answers.append(name or "?")
            else:
                if not target.answered and not target.held and target is current and attributed is None:
                    direct_s.append(entry.at - target.entry.at)
                target.answered = True
        for message in messages:
            total += 1
            held += int(message.held)
            late += int(message.late_answers > 0)
            if not message.answered:
                verdict.unanswered += 1
                why = ",".join(message.non_answers) or ("held, never answered" if message.held else "no reply")
                seen = "seen by the gateway" if message.entry.update_id in processed else "never claimed"
                verdict.note("unanswered", f"chat {chat_id}: update {message.entry.update_id} "
                                           f"{message.entry.text[:40]!r}: {why} ({seen})")
    verdict.figures.update(guest_messages=total, held=held, answered_late=late,
                           reply_s=_spread(direct_s), late_answer_s=_spread(late_s))


def _spread(values: list[float]) -> str:
    """Return "p50 / p95 / max" of a list of seconds (nearest rank), or "-"."""
    if not values:
        return "-"
    ordered = sorted(values)

    def rank(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]

    return f"p50 {rank(0.5):.1f} s / p95 {rank(0.95):.1f} s / max {ordered[-1]:.1f} s (n={len(ordered)})"
