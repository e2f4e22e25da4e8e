"""Tell staff about complaints through one interface; the default stages messages in the outbox.

Contract for implementations (the Telegram staff desk will provide one): each method is called by the
scheduler INSIDE the transaction that marks the triggering follow-up done, with that transaction as
``tx``. Stage what must be sent (an ``OutboundMessage`` row, a card to render) in ``tx`` so it is
committed exactly once together with the follow-up; deliver it from the outbox afterwards. Do not block
on the network here, and never log guest data.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Protocol

from crm_store.clock import Clock, SystemClock
from crm_store.model import OutboundMessage, OutboundStatus
from crm_store.unit_of_work import SqlUnitOfWork

log = logging.getLogger(__name__)

STAFF_CHANNEL = "staff"


@dataclass(frozen=True)
class CaseAlert:
    """Describe one complaint event for staff: the card's content and who it is addressed to (rung)."""

    event: str
    reference: str
    rung: str
    level: int
    category: str
    severity: str
    room: str | None
    status: str
    ack_due_at: datetime
    resolve_due_at: datetime | None
    suggested_gestures: tuple[str, ...]
    reason: str | None = None
    from_rung: str | None = None


@dataclass(frozen=True)
class FollowUpFailure:
    """Describe a follow-up that kept failing and was given up."""

    kind: str
    subject: str
    attempts: int
    error: str


class StaffNotifier(Protocol):
    """Tell staff what happened to a complaint (see the module docstring for the contract)."""

    def complaint_opened(self, tx: SqlUnitOfWork, alert: CaseAlert) -> None:
        """Announce a new complaint to its first rung."""
        ...

    def escalated(self, tx: SqlUnitOfWork, alert: CaseAlert) -> None:
        """Hand a complaint one rung up (a deadline was missed or staff escalated it)."""
        ...

    def sla_breached(self, tx: SqlUnitOfWork, alert: CaseAlert) -> None:
        """Warn the top rung that a deadline was missed with nobody left to escalate to."""
        ...

    def reopened(self, tx: SqlUnitOfWork, alert: CaseAlert) -> None:
        """Say the guest reports the problem is not fixed; the case is back, one rung up."""
        ...

    def resolved_confirmed(self, tx: SqlUnitOfWork, alert: CaseAlert) -> None:
        """Say the guest confirmed the fix; the case is closed."""
        ...

    def closed_unconfirmed(self, tx: SqlUnitOfWork, alert: CaseAlert) -> None:
        """Say the guest never answered the follow-up; the case is closed as not confirmed."""
        ...

    def followup_failed(self, tx: SqlUnitOfWork, failure: FollowUpFailure) -> None:
        """Say an automated follow-up was given up after repeated failures."""
        ...


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


class OutboxStaffNotifier:
    """Stage one ``OutboundMessage`` per alert on the ``staff`` channel, addressed to the rung."""

    def __init__(self, clock: Clock | None = None, failure_recipient: str = "duty_manager") -> None:
        """Use ``clock`` for the rows' timestamps; address failure notices to ``failure_recipient``."""
        self._clock = clock or SystemClock()
        self._failure_recipient = failure_recipient

    def _stage(self, tx: SqlUnitOfWork, recipient: str, body: dict[str, Any]) -> None:
        now = self._clock.now()
        tx.session.add(
            OutboundMessage(
                channel=STAFF_CHANNEL,
                recipient=recipient[:128],
                body={k: _jsonable(v) for k, v in body.items()},
                status=OutboundStatus.PENDING,
                attempts=0,
                created_at=now,
                updated_at=now,
            )
        )
        tx.session.flush()

    def _case(self, tx: SqlUnitOfWork, alert: CaseAlert) -> None:
        self._stage(tx, alert.rung, {"type": "case_alert", **asdict(alert)})
        log.info("staff alert %s for complaint %s to %s", alert.event, alert.reference, alert.rung)

    def complaint_opened(self, tx: SqlUnitOfWork, alert: CaseAlert) -> None:
        """Stage the new-complaint card."""
        self._case(tx, alert)

    def escalated(self, tx: SqlUnitOfWork, alert: CaseAlert) -> None:
        """Stage the escalation card for the new rung."""
        self._case(tx, alert)

    def sla_breached(self, tx: SqlUnitOfWork, alert: CaseAlert) -> None:
        """Stage the breach warning for the top rung."""
        self._case(tx, alert)

    def reopened(self, tx: SqlUnitOfWork, alert: CaseAlert) -> None:
        """Stage the reopened card for the new rung."""
        self._case(tx, alert)

    def resolved_confirmed(self, tx: SqlUnitOfWork, alert: CaseAlert) -> None:
        """Stage the confirmation notice."""
        self._case(tx, alert)

    def closed_unconfirmed(self, tx: SqlUnitOfWork, alert: CaseAlert) -> None:
        """Stage the not-confirmed notice."""
        self._case(tx, alert)

    def followup_failed(self, tx: SqlUnitOfWork, failure: FollowUpFailure) -> None:
        """Stage the failure notice for the failure recipient (the duty manager by default)."""
        self._stage(tx, self._failure_recipient, {"type": "followup_failed", **asdict(failure)})
        log.warning("follow-up %s for %s failed after %d attempts", failure.kind, failure.subject, failure.attempts)
