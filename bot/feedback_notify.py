"""Stage staff alerts about guest feedback (bad survey or pulse scores) in the outbox.

Same contract as ``bot.notify``: called by the scheduler INSIDE the transaction that settles the
``feedback_alert`` follow-up, with that transaction as ``tx``; it only stages a row. A staff notifier
that wants to render these itself (the Telegram staff desk) may implement
``feedback_alert(tx, body: dict) -> None``; otherwise the row below is staged:
``OutboundMessage(channel="staff", recipient=<rung>, body={"type": "feedback_alert", ...})`` where the
body carries ``source`` (``survey`` | ``pulse``), ``reasons``, the answers (``nps``, ``aspects``,
``comment``, ``topics``, ``sentiment`` / ``score``), the recovery ``reference`` if a case was opened, and
the stay (``guest``, ``room``, ``reservation_ref``, ``arrival``, ``departure``).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from bot.notify import STAFF_CHANNEL
from crm_store.model import OutboundMessage, OutboundStatus
from crm_store.unit_of_work import SqlUnitOfWork

log = logging.getLogger(__name__)

ALERT_TYPE = "feedback_alert"
DEFAULT_RUNG = "front_desk"


def feedback_body(payload: dict[str, Any]) -> dict[str, Any]:
    """Return the staff message body of a feedback_alert follow-up's payload."""
    return {"type": ALERT_TYPE, **payload}


def stage_feedback_alert(tx: SqlUnitOfWork, now: datetime, body: dict[str, Any]) -> None:
    """Stage one staff outbox row for ``body``, addressed to its rung."""
    recipient = str(body.get("rung") or DEFAULT_RUNG)[:128]
    tx.session.add(
        OutboundMessage(
            channel=STAFF_CHANNEL,
            recipient=recipient,
            body=body,
            status=OutboundStatus.PENDING,
            attempts=0,
            created_at=now,
            updated_at=now,
        )
    )
    tx.session.flush()
    log.info("staff feedback alert (%s) staged for %s", body.get("source"), recipient)
