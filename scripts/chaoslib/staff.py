"""Play the front desk: acknowledge every open case a few seconds after it arrives, then mark it resolved.

The simulated staff work from a console on the CRM (crm_store.services.cases, as tests/e2e/test_recovery.py
does), not from the Telegram staff chat: one Telegram group takes at most 20 bot messages a minute, which at
fifty complaining guests would make the staff chat, not the system under test, the bottleneck (docs/chaos.md).
Resolving is what makes the scheduler ask the guest whether the fix holds, so the recovery follow-ups fall
due during the run. Database errors (PostgreSQL stopped) are retried on the next round, as a person would.
"""

from __future__ import annotations

import random
import threading
import time
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from crm_store import model
from crm_store.clock import SystemClock
from crm_store.db import make_engine, make_session_factory
from crm_store.errors import NotFound, ValidationError
from crm_store.recovery_policy import load_policy
from crm_store.services import cases
from crm_store.unit_of_work import SqlUnitOfWork

ACK_AFTER_S = (1.0, 3.0)
RESOLVE_AFTER_S = (2.0, 5.0)
ROUND_S = 0.5
ACTOR = "staff:chaos-front-desk"


class StaffConsole:
    """Acknowledge and resolve cases in a background thread until stopped."""

    def __init__(self, crm_url: str, policy_file: Path, timezone_name: str = "UTC", seed: int = 7) -> None:
        """Connect to the CRM and load the recovery policy the stack uses."""
        self.engine = make_engine(crm_url)
        self.sessions = make_session_factory(self.engine)
        self.policy = load_policy(policy_file, timezone_name=timezone_name)
        self.clock = SystemClock()
        self.rng = random.Random(seed)
        self.acknowledged = 0
        self.resolved = 0
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="staff-console", daemon=True)
        self._due: dict[tuple[str, str], float] = {}

    def start(self) -> None:
        """Start working the cases."""
        self._thread.start()

    def stop(self) -> None:
        """Stop and disconnect."""
        self._stop.set()
        self._thread.join(timeout=30)
        self.engine.dispose()

    def _open_cases(self) -> list[tuple[str, str, datetime]]:
        with self.sessions() as session:
            rows = session.execute(
                select(model.Complaint.reference, model.Complaint.status, model.Complaint.updated_at).where(
                    model.Complaint.status.in_([model.ComplaintStatus.OPEN, model.ComplaintStatus.REOPENED,
                                                model.ComplaintStatus.ACKNOWLEDGED])
                )
            ).all()
        return [(r.reference, str(getattr(r.status, "value", r.status)), r.updated_at) for r in rows]

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._round()
            except Exception:  # noqa: BLE001 - the database may be down: try again next round
                self.errors += 1
            self._stop.wait(ROUND_S)

    def _round(self) -> None:
        now = time.monotonic()
        for reference, status, _ in self._open_cases():
            action = "ack" if status in ("open", "reopened") else "resolve"
            key = (reference, f"{action}:{status}")
            due = self._due.get(key)
            if due is None:
                self._due[key] = now + self.rng.uniform(*(ACK_AFTER_S if action == "ack" else RESOLVE_AFTER_S))
                continue
            if now < due:
                continue
            uow = SqlUnitOfWork(self.sessions)
            try:
                if action == "ack":
                    cases.acknowledge(uow, self.clock, self.policy, reference, actor=ACTOR)
                    self.acknowledged += 1
                else:
                    cases.resolve(uow, self.clock, self.policy, reference, actor=ACTOR)
                    self.resolved += 1
            except (NotFound, ValidationError):
                pass  # the case moved on meanwhile (the guest answered, a reopen): look again next round
            self._due.pop(key, None)
