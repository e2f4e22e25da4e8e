"""Hand messages the bot sends on its own initiative to the guest's channel, through one interface.

Rasa returns the messages of a triggered intent in the HTTP response (no ``output_channel``), and the REST
channel cannot push, so the default implementation stages them in the outbox (``OutboundMessage``,
status ``pending``, on the guest's channel) for the gateway to deliver. Like ``bot.notify``, ``deliver`` is
called inside the transaction that settles the follow-up, so the messages are recorded exactly once.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from crm_store.clock import Clock, SystemClock
from crm_store.model import OutboundMessage, OutboundStatus
from crm_store.unit_of_work import SqlUnitOfWork

log = logging.getLogger(__name__)


class GuestMessenger(Protocol):
    """Deliver bot messages to a guest identified by a Rasa sender id ``<channel>:<external id>``."""

    def deliver(self, tx: SqlUnitOfWork, sender_id: str, messages: list[dict[str, Any]], *, source: str) -> int:
        """Stage ``messages`` for ``sender_id`` inside ``tx``; return how many were staged."""
        ...


class OutboxGuestMessenger:
    """Stage one pending OutboundMessage per Rasa message, on the sender's channel."""

    def __init__(self, clock: Clock | None = None) -> None:
        """Use ``clock`` for the rows' timestamps."""
        self._clock = clock or SystemClock()

    def deliver(self, tx: SqlUnitOfWork, sender_id: str, messages: list[dict[str, Any]], *, source: str) -> int:
        """Stage the messages; the body is Rasa's message plus ``source`` (the follow-up's key)."""
        channel, sep, external_id = sender_id.partition(":")
        if not sep or not channel or not external_id:
            channel, external_id = "rest", sender_id
        now = self._clock.now()
        for message in messages:
            body = {k: v for k, v in message.items() if k != "recipient_id"}
            body["source"] = source
            tx.session.add(
                OutboundMessage(
                    channel=channel[:16],
                    recipient=external_id[:128],
                    body=body,
                    status=OutboundStatus.PENDING,
                    attempts=0,
                    created_at=now,
                    updated_at=now,
                )
            )
        tx.session.flush()
        log.info("%d guest message(s) staged on %s for %s", len(messages), channel, source.split(":")[0])
        return len(messages)
