"""Read, claim and settle FollowUp rows: the scheduler's queue, whose truth is the database.

Kinds without outside work are claimed, performed and settled in ONE transaction (``run_once``).
Kinds that call out (Rasa) are claimed first, then settled with their effects (``claim``/``settle``).
A claim is identified by (``claimed_by``, ``attempts``): claiming sets both, and every later write is
conditional on them, so a worker whose claim was recovered (it was too slow or presumed dead) can never
settle the row again. Settling the row and writing its effects happen in one transaction.

The hot statements are built once, as Core statements with bind parameters (the ORM's per-call
statement building cost more than the database work).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import sessionmaker

from crm_store.model import FollowUp, FollowUpStatus
from crm_store.unit_of_work import SqlUnitOfWork

T = TypeVar("T")
ERROR_MAX_LENGTH = 500

_T = FollowUp.__table__
_C = _T.c

_DUE = (
    select(_C.id, _C.kind, _C.subject, _C.payload, _C.due_at, _C.attempts, _C.idempotency_key)
    .where(
        _C.status == FollowUpStatus.PENDING,
        _C.due_at <= bindparam("b_now"),
        _C.kind.in_(bindparam("b_kinds", expanding=True)),
    )
    .order_by(_C.due_at, _C.id)
    .limit(bindparam("b_limit"))
)
_NEXT_DUE = select(func.min(_C.due_at)).where(
    _C.status == FollowUpStatus.PENDING, _C.kind.in_(bindparam("b_kinds", expanding=True))
)
_CLAIM_VALUES = {
    "status": FollowUpStatus.CLAIMED,
    "claimed_at": bindparam("b_now"),
    "claimed_by": bindparam("b_worker"),
    "attempts": _C.attempts + 1,
    "updated_at": bindparam("b_now"),
}
# Claim a row still pending (any attempts count).
_CLAIM = (
    update(_T).where(_C.id == bindparam("b_id"), _C.status == FollowUpStatus.PENDING).values(**_CLAIM_VALUES)
)
# Claim a row still pending exactly as ``due`` saw it (run_once).
_CLAIM_SEEN = (
    update(_T)
    .where(
        _C.id == bindparam("b_id"),
        _C.status == FollowUpStatus.PENDING,
        _C.attempts == bindparam("b_attempts"),
    )
    .values(**_CLAIM_VALUES)
)
_MINE = (
    (_C.id == bindparam("b_id"))
    & (_C.status == FollowUpStatus.CLAIMED)
    & (_C.claimed_by == bindparam("b_worker"))
    & (_C.attempts == bindparam("b_attempts"))
)
_TOUCH_MINE = update(_T).where(_MINE).values(updated_at=bindparam("b_now"))
_RELEASE = {"claimed_by": None, "claimed_at": None, "updated_at": bindparam("b_now")}
_SETTLE = {
    "sent": update(_T).where(_C.id == bindparam("b_id")).values(
        status=FollowUpStatus.SENT, sent_at=bindparam("b_now"), last_error=None, **_RELEASE
    ),
    "cancelled": update(_T).where(_C.id == bindparam("b_id")).values(status=FollowUpStatus.CANCELLED, **_RELEASE),
    "deferred": update(_T).where(_C.id == bindparam("b_id")).values(
        status=FollowUpStatus.PENDING, due_at=bindparam("b_until"), attempts=_C.attempts - 1, **_RELEASE
    ),
}


class LostClaim(RuntimeError):
    """Raised when a worker tries to settle a row it no longer owns."""


@dataclass(frozen=True)
class Job:
    """Snapshot one follow-up row (after claiming: with the claim's token)."""

    id: int
    kind: str
    subject: str
    payload: dict[str, Any]
    due_at: datetime
    attempts: int
    idempotency_key: str
    claimed_by: str | None = None

    def field(self, name: str, default: Any = None) -> Any:
        """Return one payload value."""
        return self.payload.get(name, default)


def _job(row: Any) -> Job:
    return Job(
        id=row.id,
        kind=row.kind,
        subject=row.subject,
        payload=dict(row.payload or {}),
        due_at=row.due_at,
        attempts=int(row.attempts),
        idempotency_key=row.idempotency_key,
    )


class FollowUpQueue:
    """Give the dispatcher due rows and settle them safely; one short transaction per call."""

    def __init__(self, session_factory: sessionmaker, worker: str) -> None:
        """Remember the database and this worker's claim name."""
        self._sessions = session_factory
        self.worker = worker

    def uow(self) -> SqlUnitOfWork:
        """Return a fresh unit of work on the queue's database."""
        return SqlUnitOfWork(self._sessions)

    def due(self, now: datetime, kinds: Iterable[str], limit: int) -> list[Job]:
        """Return pending rows of ``kinds`` due at or before ``now``, earliest first."""
        with self._sessions() as session:
            rows = session.execute(_DUE, {"b_now": now, "b_kinds": list(kinds), "b_limit": limit})
            return [_job(row) for row in rows]

    def next_due_at(self, kinds: Iterable[str]) -> datetime | None:
        """Return the earliest due time of pending rows of ``kinds``."""
        with self._sessions() as session:
            value: datetime | None = session.execute(_NEXT_DUE, {"b_kinds": list(kinds)}).scalar_one()
        return value

    def claim(self, job: Job, now: datetime) -> Job | None:
        """Move the row pending → claimed if it is still pending; return the claimed job or None."""
        with self._sessions() as session:
            result = session.execute(_CLAIM, {"b_id": job.id, "b_now": now, "b_worker": self.worker})
            if result.rowcount != 1:
                session.rollback()
                return None
            row = session.execute(
                select(_C.attempts, _C.payload, _C.due_at).where(_C.id == job.id)
            ).one()
            session.commit()
        return replace(
            job, payload=dict(row.payload or {}), due_at=row.due_at, attempts=int(row.attempts),
            claimed_by=self.worker,
        )

    def _settle_row(self, tx: SqlUnitOfWork, job: Job, status: str, until: datetime | None, now: datetime) -> None:
        if status not in _SETTLE or (status == "deferred" and until is None):
            raise ValueError(f"unknown settle status {status!r}")
        tx.session.execute(_SETTLE[status], {"b_id": job.id, "b_now": now, "b_until": until})

    def run_once(
        self,
        job: Job,
        now: datetime,
        work: Callable[[SqlUnitOfWork, Job], tuple[str, datetime | None, T]],
    ) -> T | None:
        """Claim, run ``work`` and settle in ONE transaction (for kinds without outside work).

        Returns None if the row is no longer pending as ``due`` saw it (another dispatcher has it). If
        the process dies before the commit nothing happened: the row is still pending.
        """
        with self.uow() as tx:
            claimed = tx.session.execute(
                _CLAIM_SEEN, {"b_id": job.id, "b_attempts": job.attempts, "b_now": now, "b_worker": self.worker}
            )
            if claimed.rowcount != 1:
                return None
            mine = replace(job, attempts=job.attempts + 1, claimed_by=self.worker)
            status, until, value = work(tx, mine)
            self._settle_row(tx, mine, status, until, now)
            tx.commit()
        return value

    def postpone(self, job: Job, until: datetime, now: datetime) -> bool:
        """Move a still-pending row's due time (quiet hours); return whether it was moved."""
        with self._sessions() as session:
            result = session.execute(
                update(_T)
                .where(_C.id == job.id, _C.status == FollowUpStatus.PENDING)
                .values(due_at=until, updated_at=now)
            )
            session.commit()
            return result.rowcount == 1

    @staticmethod
    def _mine(job: Job) -> dict[str, Any]:
        return {"b_id": job.id, "b_worker": job.claimed_by, "b_attempts": job.attempts}

    def settle(
        self,
        job: Job,
        now: datetime,
        work: Callable[[SqlUnitOfWork], tuple[str, datetime | None, T]],
    ) -> T:
        """Run ``work`` and settle the claimed row in one transaction; raise LostClaim if the claim is gone.

        ``work(tx)`` writes the row's effects and returns (status, until, value): status ``sent``,
        ``cancelled`` or ``deferred`` (back to pending at ``until``, the attempt not counted).
        """
        with self.uow() as tx:
            owned = tx.session.execute(_TOUCH_MINE, {**self._mine(job), "b_now": now})
            if owned.rowcount != 1:
                raise LostClaim(f"follow-up {job.id} is no longer claimed by this worker")
            status, until, value = work(tx)
            self._settle_row(tx, job, status, until, now)
            tx.commit()
        return value

    def retry_or_fail(
        self,
        job: Job,
        now: datetime,
        error: str,
        retry_at: datetime | None,
        on_failed: Callable[[SqlUnitOfWork], None],
    ) -> str:
        """Put the claimed row back to pending at ``retry_at``, or (None) mark it failed and run ``on_failed``.

        Returns ``retry``, ``failed`` or ``lost`` (the claim was gone).
        """
        values: dict[str, Any] = {
            "updated_at": now, "claimed_by": None, "claimed_at": None, "last_error": error[:ERROR_MAX_LENGTH],
        }
        if retry_at is not None:
            values.update(status=FollowUpStatus.PENDING, due_at=retry_at)
        else:
            values.update(status=FollowUpStatus.FAILED)
        with self.uow() as tx:
            result = tx.session.execute(update(_T).where(_MINE).values(**values), self._mine(job))
            if result.rowcount != 1:
                return "lost"
            if retry_at is None:
                on_failed(tx)
            tx.commit()
        return "retry" if retry_at is not None else "failed"

    def recover(self, now: datetime, claimed_before: datetime | None) -> int:
        """Return claimed rows to pending: all of them (None: we are the only dispatcher) or stale ones."""
        criteria = [_C.status == FollowUpStatus.CLAIMED]
        if claimed_before is not None:
            criteria.append(_C.claimed_at < claimed_before)
        with self._sessions() as session:
            result = session.execute(
                update(_T)
                .where(*criteria)
                .values(
                    status=FollowUpStatus.PENDING,
                    claimed_by=None,
                    claimed_at=None,
                    updated_at=now,
                    last_error="claim recovered (the dispatching process stopped or stalled)",
                )
            )
            session.commit()
            return int(result.rowcount or 0)
