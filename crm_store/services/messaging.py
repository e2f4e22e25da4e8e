"""Remember handled inbound updates, keep guest messages until answered, and record outbound failures."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from crm_store.clock import Clock
from crm_store.errors import NotFound, ValidationError
from crm_store.model import InboundMessage, InboundStatus, OutboundMessage, OutboundStatus
from crm_store.services.guests import _check_identity
from crm_store.unit_of_work import SqlUnitOfWork

log = logging.getLogger(__name__)

TEXT_MAX_LENGTH = 4096
ERROR_MAX_LENGTH = 500


def storable_text(text: str) -> str:
    """Return ``text`` as every database can store it: no NUL characters, lone surrogates replaced.

    PostgreSQL refuses NUL in text columns and neither driver can encode a lone UTF-16 surrogate (JSON allows
    ``\\ud800``); the guest's words are otherwise kept as written, cut to TEXT_MAX_LENGTH.
    """
    cleaned = text.replace("\x00", "")
    cleaned = cleaned.encode("utf-8", "replace").decode("utf-8") if _has_surrogate(cleaned) else cleaned
    return cleaned[:TEXT_MAX_LENGTH]


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= ch <= "\udfff" for ch in text)


@dataclass(frozen=True)
class PendingMessage:
    """Describe a guest message kept until the dialogue service can answer it."""

    id: int
    channel: str
    external_id: str
    text: str
    attempts: int
    received_at: datetime


@dataclass(frozen=True)
class OutboundInfo:
    """Describe one recorded outbound message."""

    id: int
    channel: str
    recipient: str
    status: str
    attempts: int


def claim_update(uow: SqlUnitOfWork, clock: Clock, source: str, update_id: int) -> bool:
    """Record an inbound update id; return True the first time, False for a redelivery."""
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        raise ValidationError("update_id", "expected an integer")
    source = source.strip()[:32] if isinstance(source, str) else ""
    if not source:
        raise ValidationError("source", "empty")
    now = clock.now()
    with uow:
        fresh = uow.updates.record(source, update_id, now)
        uow.commit()
    return fresh


def admit_update(
    uow: SqlUnitOfWork, clock: Clock, source: str, update_id: int, *, channel: str, external_id: str, text: str
) -> tuple[bool, int | None]:
    """Record an inbound update id and journal the guest's text (``received``) in the same transaction.

    Returns (fresh, journal id): (False, None) for a redelivery, which journals nothing. The journal row is
    what lets a gateway killed while answering answer the message after its restart (``requeue_received``);
    ``release_received`` deletes it once answered and ``defer_received`` keeps it for later.
    """
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        raise ValidationError("update_id", "expected an integer")
    source = source.strip()[:32] if isinstance(source, str) else ""
    if not source:
        raise ValidationError("source", "empty")
    channel, external_id = _check_identity(channel, external_id)
    if not isinstance(text, str) or not text.strip():
        raise ValidationError("text", "empty")
    now = clock.now()
    with uow:
        if not uow.updates.record(source, update_id, now):
            return False, None
        row = uow.inbox.add(
            InboundMessage(
                channel=channel,
                external_id=external_id,
                text=storable_text(text),
                status=InboundStatus.RECEIVED,
                attempts=0,
                received_at=now,
                created_at=now,
                updated_at=now,
            )
        )
        journal_id = row.id
        uow.commit()
    return True, journal_id


def release_received(uow: SqlUnitOfWork, message_id: int) -> bool:
    """Forget a journalled message that was answered at once (only while still ``received``); return whether it was."""
    with uow:
        row = uow.inbox.get(message_id)
        if row is None or row.status != InboundStatus.RECEIVED:
            return False
        uow.session.delete(row)
        uow.commit()
    return True


def defer_received(uow: SqlUnitOfWork, clock: Clock, message_id: int, error: str | None = None) -> bool:
    """Keep a journalled message for later: ``received`` → ``pending``; return whether it was still received."""
    now = clock.now()
    with uow:
        row = uow.inbox.get(message_id)
        if row is None or row.status != InboundStatus.RECEIVED:
            return False
        row.status = InboundStatus.PENDING
        row.updated_at = now
        if error:
            row.last_error = error[:ERROR_MAX_LENGTH]
        uow.commit()
    log.info("inbound message %s kept for later", message_id)
    return True


def requeue_received(uow: SqlUnitOfWork, clock: Clock) -> int:
    """Keep for later every message a stopped gateway was still answering; return how many (call at start-up)."""
    with uow:
        count = uow.inbox.requeue_received(clock.now())
        uow.commit()
    if count:
        log.warning("%d message(s) the previous gateway was answering are kept for a late answer", count)
    return count


def _pending(row: InboundMessage) -> PendingMessage:
    return PendingMessage(
        id=row.id,
        channel=row.channel,
        external_id=row.external_id,
        text=row.text,
        attempts=row.attempts,
        received_at=row.received_at,
    )


def keep_inbound(uow: SqlUnitOfWork, clock: Clock, channel: str, external_id: str, text: str) -> PendingMessage:
    """Keep a guest message that could not be answered now, to answer it later."""
    channel, external_id = _check_identity(channel, external_id)
    if not isinstance(text, str) or not text.strip():
        raise ValidationError("text", "empty")
    now = clock.now()
    with uow:
        row = uow.inbox.add(
            InboundMessage(
                channel=channel,
                external_id=external_id,
                text=storable_text(text),
                status=InboundStatus.PENDING,
                attempts=0,
                received_at=now,
                created_at=now,
                updated_at=now,
            )
        )
        info = _pending(row)
        uow.commit()
    log.info("inbound message %s kept for later on %s", info.id, channel)
    return info


def pending_inbound(uow: SqlUnitOfWork, limit: int = 50) -> list[PendingMessage]:
    """Return kept messages still waiting for an answer, oldest first."""
    with uow:
        return [_pending(row) for row in uow.inbox.pending(limit)]


def has_pending_inbound(uow: SqlUnitOfWork, channel: str, external_id: str) -> bool:
    """Tell whether a conversation has kept messages waiting (new ones must queue behind them)."""
    channel, external_id = _check_identity(channel, external_id)
    with uow:
        return uow.inbox.count_pending_for(channel, external_id) > 0


def _settle(uow: SqlUnitOfWork, clock: Clock, message_id: int, status: InboundStatus | None, error: str | None) -> None:
    now = clock.now()
    with uow:
        row = uow.inbox.get(message_id)
        if row is None:
            raise NotFound("inbound_message", str(message_id))
        row.attempts = row.attempts + 1
        row.updated_at = now
        if error is not None:
            row.last_error = error[:ERROR_MAX_LENGTH]
        if status is not None:
            row.status = status
            if status == InboundStatus.ANSWERED:
                row.answered_at = now
        uow.commit()


def mark_inbound_answered(uow: SqlUnitOfWork, clock: Clock, message_id: int) -> None:
    """Mark a kept message answered."""
    _settle(uow, clock, message_id, InboundStatus.ANSWERED, None)


def note_inbound_attempt(uow: SqlUnitOfWork, clock: Clock, message_id: int, error: str) -> None:
    """Count one more failed attempt to answer a kept message."""
    _settle(uow, clock, message_id, None, error)


def fail_inbound(uow: SqlUnitOfWork, clock: Clock, message_id: int, error: str) -> None:
    """Give up on a kept message (too old to answer)."""
    _settle(uow, clock, message_id, InboundStatus.FAILED, error)


def record_outbound(
    uow: SqlUnitOfWork,
    clock: Clock,
    channel: str,
    recipient: str,
    body: dict[str, Any],
    *,
    status: str,
    attempts: int,
    error: str | None = None,
) -> OutboundInfo:
    """Record an outbound message and its delivery outcome (``pending``, ``sent`` or ``failed``)."""
    try:
        checked = OutboundStatus(status)
    except ValueError:
        raise ValidationError("status", "expected pending, sent or failed") from None
    now = clock.now()
    with uow:
        row = uow.outbox.add(
            OutboundMessage(
                channel=channel[:16],
                recipient=str(recipient)[:128],
                body=body,
                status=checked,
                attempts=attempts,
                last_error=error[:ERROR_MAX_LENGTH] if error else None,
                sent_at=now if checked == OutboundStatus.SENT else None,
                created_at=now,
                updated_at=now,
            )
        )
        info = OutboundInfo(row.id, row.channel, row.recipient, checked.value, row.attempts)
        uow.commit()
    if checked == OutboundStatus.FAILED:
        log.warning("outbound message %s to %s failed after %d attempts", info.id, channel, attempts)
    return info


@dataclass(frozen=True)
class OutboxItem:
    """Describe one pending outbox message waiting for its channel to deliver it."""

    id: int
    recipient: str
    body: dict[str, Any]
    attempts: int


def pending_outbound(uow: SqlUnitOfWork, channel: str, limit: int = 50) -> list[OutboxItem]:
    """Return pending outbox messages of ``channel``, oldest first."""
    with uow:
        return [
            OutboxItem(row.id, row.recipient, dict(row.body or {}), row.attempts)
            for row in uow.outbox.by_status(OutboundStatus.PENDING, limit, channel=channel)
        ]


def settle_outbound(
    uow: SqlUnitOfWork, clock: Clock, message_id: int, *, sent: bool, error: str | None = None
) -> None:
    """Mark an outbox message sent, or failed with ``error``; count the attempt."""
    now = clock.now()
    with uow:
        row = uow.outbox.get(message_id)
        if row is None:
            raise NotFound("outbound_message", str(message_id))
        row.attempts = row.attempts + 1
        row.status = OutboundStatus.SENT if sent else OutboundStatus.FAILED
        row.sent_at = now if sent else None
        row.last_error = None if sent else (error or "failed")[:ERROR_MAX_LENGTH]
        row.updated_at = now
        uow.commit()
    if not sent:
        log.warning("outbound message %s not delivered: %s", message_id, (error or "failed").split(":")[0])
