"""Run real scheduler processes against real databases, with a fake Rasa HTTP server, and count effects."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError

from crm_store.db import make_engine, migrate
from crm_store.model import (
    ChannelIdentity,
    Complaint,
    ComplaintCategory,
    ComplaintEvent,
    ComplaintStatus,
    FollowUp,
    FollowUpStatus,
    Guest,
    OutboundMessage,
    Severity,
)

REPO = Path(__file__).resolve().parents[3]
PG_ADMIN_URL = os.environ.get("CRM_TEST_PG_URL", "postgresql+psycopg2://postgres@localhost:5432/postgres")
# Seconds-scale dispatching, but deadlines far away: every seeded row has exactly one expected effect.
TEST_POLICY = """
quiet_hours: null
defaults: {ack: 1h, resolve: 4h, follow_up_delay: 1m, auto_close_after: 1h}
scheduler:
  max_attempts: 5
  retry_backoff: 1s
  retry_backoff_max: 5s
  stale_claim_after: 30s
  safety_tick: 1s
  standby_poll: 1s
  batch_size: 200
  concurrency: 4
"""


class FakeRasa:
    """Answer POST /conversations/<id>/trigger_intent like Rasa (one message), slowly, counting calls."""

    def __init__(self, delay_s: float = 0.005) -> None:
        self.delay_s = delay_s
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server naming
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                reference = (body.get("entities") or {}).get("recovery_reference", "?")
                with fake._lock:
                    fake.calls[reference] += 1
                time.sleep(fake.delay_s)
                sender = self.path.split("/")[2]
                payload = json.dumps({"tracker": {}, "messages": [
                    {"recipient_id": sender, "text": f"Is {reference} fixed?"}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """Return the base URL."""
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeRasa:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_rasa() -> Iterator[FakeRasa]:
    """Run a fake Rasa for one test."""
    with FakeRasa() as rasa:
        yield rasa


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """Return a migrated SQLite file database."""
    url = f"sqlite:///{tmp_path}/crm.db"
    migrate(url)
    return url


@pytest.fixture
def pg_url() -> Iterator[str]:
    """Create a migrated throwaway PostgreSQL database, or skip when PostgreSQL is unreachable."""
    admin = create_engine(PG_ADMIN_URL, future=True, isolation_level="AUTOCOMMIT")
    name = f"sched_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as error:
        admin.dispose()
        pytest.skip(f"PostgreSQL unreachable: {error.orig}")
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        migrate(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def seed_cases(url: str, asks: int, acks: int) -> tuple[list[str], list[str]]:
    """Insert ``asks`` resolved complaints with a due recovery_ask and ``acks`` open ones with a due sla_ack.

    Due times interleave the two kinds over the last minute, so both are in progress at any moment.
    Returns (ask references, ack references).
    """
    engine = make_engine(url)
    now = datetime.now(timezone.utc)
    stamp = {"created_at": now, "updated_at": now}
    total = asks + acks
    refs = [f"C-{n:06d}" for n in range(total)]
    with engine.begin() as conn:
        conn.execute(insert(Guest), [{"id": n + 1, "verified": False, **stamp} for n in range(total)])
        conn.execute(insert(ChannelIdentity), [
            {"channel": "tg", "external_id": str(900000 + n), "guest_id": n + 1, "linked_at": now, **stamp}
            for n in range(total)])
        complaints, followups = [], []
        for n, ref in enumerate(refs):
            is_ask = n % 2 == 0 and n // 2 < asks or n // 2 >= acks
            due = now - timedelta(seconds=60) + timedelta(seconds=60 * n / total)
            complaints.append({
                "id": n + 1, "reference": ref, "guest_id": n + 1, "category": ComplaintCategory.MAINTENANCE,
                "severity": Severity.MEDIUM, "room": "412", "description": "broken",
                "status": ComplaintStatus.RESOLVED if is_ask else ComplaintStatus.OPEN,
                "opened_at": now - timedelta(minutes=5), "ack_due_at": due, "escalation_level": 0,
                "guest_verified": False, "resolved_at": now - timedelta(minutes=1) if is_ask else None, **stamp})
            if is_ask:
                followups.append({
                    "kind": "recovery_ask", "subject": ref, "due_at": due, "status": FollowUpStatus.PENDING,
                    "attempts": 0, "idempotency_key": f"recovery-ask:{ref}:0",
                    "payload": {"reference": ref, "cycle": 0, "sender": f"tg:{900000 + n}"}, **stamp})
            else:
                followups.append({
                    "kind": "sla_ack", "subject": ref, "due_at": due, "status": FollowUpStatus.PENDING,
                    "attempts": 0, "idempotency_key": f"sla-ack:{ref}",
                    "payload": {"reference": ref, "level": 0}, **stamp})
        conn.execute(insert(Complaint), complaints)
        conn.execute(insert(FollowUp), followups)
    engine.dispose()
    ask_refs = [r for r in refs if r in {f["subject"] for f in followups if f["kind"] == "recovery_ask"}]
    ack_refs = [r for r in refs if r not in set(ask_refs)]
    return ask_refs, ack_refs


class SchedulerProcess:
    """Start `python -m bot scheduler` as a child process, logging to a file."""

    def __init__(self, url: str, rasa_url: str, log_path: Path, lock: str = "auto") -> None:
        self.log_path = log_path
        policy = log_path.parent / "policy.yml"
        policy.parent.mkdir(parents=True, exist_ok=True)
        policy.write_text(TEST_POLICY)
        env = dict(os.environ)
        env.update({
            "DATABASE_URL": url, "RASA_URL": rasa_url, "POLICY_FILE": str(policy),
            "PYTHONPATH": str(REPO), "HOTEL_TIMEZONE": "UTC", "RASA_TOKEN": "", "QUIET_HOURS": "",
            "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
        })
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot", "scheduler", "--lock", lock],
                cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
            )

    @property
    def pid(self) -> int:
        """Return the OS process id."""
        return self.process.pid

    def kill(self) -> None:
        """SIGKILL the process (no clean-up at all) and reap it."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> int:
        """SIGTERM the process and wait for it."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def log(self, tail: int = 4000) -> str:
        """Return the tail of the log (0: all of it)."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return text[-tail:] if tail else text


class Census:
    """Count follow-ups and their effects in the database."""

    def __init__(self, url: str) -> None:
        self.engine: Engine = make_engine(url)

    def scalar(self, statement) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(statement).scalar_one())

    def followups(self, *criteria) -> int:
        return self.scalar(select(func.count()).select_from(FollowUp).where(*criteria))

    def rows(self, statement) -> list:
        with self.engine.connect() as conn:
            return list(conn.execute(statement).all())

    def guest_messages(self) -> Counter[str]:
        """Count guest outbox rows per source (follow-up key)."""
        return Counter(r.body["source"] for r in self.rows(
            select(OutboundMessage.body).where(OutboundMessage.channel == "tg")))

    def staff_messages(self) -> Counter[str]:
        """Count staff outbox rows per complaint reference."""
        return Counter(r.body["reference"] for r in self.rows(
            select(OutboundMessage.body).where(OutboundMessage.channel == "staff")))

    def escalations(self) -> Counter[int]:
        """Count 'escalated' events per complaint id."""
        return Counter(r.complaint_id for r in self.rows(
            select(ComplaintEvent.complaint_id).where(ComplaintEvent.kind == "escalated")))

    def progress(self) -> int:
        """Return how many effects exist (guest messages + escalations)."""
        return self.scalar(
            select(func.count()).select_from(OutboundMessage).where(OutboundMessage.channel == "tg")
        ) + self.scalar(select(func.count()).select_from(ComplaintEvent).where(ComplaintEvent.kind == "escalated"))

    def unfinished(self) -> int:
        """Count seeded follow-ups and staff alerts not yet sent (next-rung sla_acks and autocloses excluded)."""
        return self.followups(
            FollowUp.kind.in_(["recovery_ask", "sla_ack", "staff_alert"]),
            FollowUp.status != FollowUpStatus.SENT,
            FollowUp.idempotency_key.notlike("sla-ack:%:%:%"),
        )

    def close(self) -> None:
        self.engine.dispose()


def wait_until(predicate: Callable[[], bool], timeout: float, what: str, logs: Callable[[], str]) -> None:
    """Poll ``predicate`` until true, or fail with the scheduler logs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}\n{logs()}")


def assert_exactly_once(census: Census, ask_refs: list[str], ack_refs: list[str]) -> None:
    """Assert every seeded follow-up was sent once and produced exactly one effect."""
    total = len(ask_refs) + len(ack_refs)
    seeded = FollowUp.kind.in_(["recovery_ask", "sla_ack"]) & FollowUp.idempotency_key.notlike("sla-ack:%:%:%")
    assert census.followups(FollowUp.kind == "sla_ack", FollowUp.status == FollowUpStatus.PENDING) == len(ack_refs)
    assert census.followups(seeded, FollowUp.status == FollowUpStatus.SENT) == total
    guest = census.guest_messages()
    assert sorted(guest) == sorted(f"recovery-ask:{ref}:0" for ref in ask_refs)
    assert set(guest.values()) == {1}, "a guest message was recorded twice"
    escalations = census.escalations()
    assert len(escalations) == len(ack_refs) and set(escalations.values()) == {1}, "an escalation repeated"
    assert census.followups(FollowUp.kind == "staff_alert") == len(ack_refs)
    assert census.followups(FollowUp.kind == "staff_alert", FollowUp.status == FollowUpStatus.SENT) == len(ack_refs)
    staff = census.staff_messages()
    assert sorted(staff) == sorted(ack_refs) and set(staff.values()) == {1}, "a staff alert was sent twice"
    assert census.followups(FollowUp.kind == "recovery_autoclose") == len(ask_refs)
    assert census.followups(FollowUp.status.in_([FollowUpStatus.FAILED, FollowUpStatus.CLAIMED])) == 0
