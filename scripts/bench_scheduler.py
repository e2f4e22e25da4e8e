"""Measure the scheduler: N follow-ups due within one minute → lateness p50/p99, duplicates and losses.

    .venv/bin/python scripts/bench_scheduler.py                      # 10,000 rows, throwaway SQLite file
    .venv/bin/python scripts/bench_scheduler.py --database-url postgresql+psycopg2://postgres@localhost/bench

Each row is a ``bench_ping`` follow-up whose handler writes one sink row (an OutboundMessage on the
``bench`` channel) in the transaction that settles it, so a duplicate would show as two sink rows and a
loss as none. Lateness is the time between a row's due time and the moment its effect was written.
The real SchedulerService runs (APScheduler wake-ups, safety tick, claims), in this process.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sqlalchemy import func, insert, select  # noqa: E402

from bot.scheduler.handlers import BaseHandler, Outcome  # noqa: E402
from bot.scheduler.service import build_service, close_resources  # noqa: E402
from bot.scheduler.store import Job  # noqa: E402
from crm_store.clock import SystemClock  # noqa: E402
from crm_store.db import make_engine, make_session_factory, migrate  # noqa: E402
from crm_store.model import FollowUp, FollowUpStatus, OutboundMessage, OutboundStatus  # noqa: E402
from crm_store.recovery_policy import load_policy  # noqa: E402
from crm_store.settings import load_settings  # noqa: E402
from crm_store.unit_of_work import SqlUnitOfWork  # noqa: E402

KIND = "bench_ping"


class BenchPing(BaseHandler):
    """Write one sink row per follow-up, with its lateness."""

    kind = KIND

    def apply(self, tx: SqlUnitOfWork, job: Job, prepared: Any, now: datetime) -> Outcome:
        """Record the effect in the settling transaction."""
        effect_at = datetime.now(timezone.utc)
        tx.session.add(
            OutboundMessage(
                channel="bench", recipient=job.idempotency_key, status=OutboundStatus.SENT, attempts=1,
                body={"lateness_s": (effect_at - job.due_at).total_seconds()},
                created_at=effect_at, updated_at=effect_at,
            )
        )
        return Outcome.sent()


def seed(url: str, count: int, start: datetime, spread_s: float) -> None:
    """Insert ``count`` follow-ups due uniformly over ``spread_s`` seconds from ``start``."""
    engine = make_engine(url)
    now = datetime.now(timezone.utc)
    rows = [
        {
            "kind": KIND, "subject": f"bench-{n}", "payload": {}, "status": FollowUpStatus.PENDING,
            "attempts": 0, "idempotency_key": f"bench:{n}", "created_at": now, "updated_at": now,
            "due_at": start + timedelta(seconds=spread_s * n / count),
        }
        for n in range(count)
    ]
    with engine.begin() as conn:
        for i in range(0, len(rows), 1000):
            conn.execute(insert(FollowUp), rows[i:i + 1000])
    engine.dispose()


async def measure(url: str, count: int, spread_s: float, lead_s: float, policy_file: str) -> dict[str, Any]:
    """Seed, run the scheduler until every row is settled (or a timeout), and return the figures."""
    migrate(url)
    start = datetime.now(timezone.utc) + timedelta(seconds=lead_s)
    seed(url, count, start, spread_s)
    settings = load_settings({"DATABASE_URL": url})
    policy = load_policy(policy_file, timezone_name="UTC")
    service, resources = build_service(
        settings, policy, clock=SystemClock(), lock_mode="auto",
        extra_handlers={KIND: BenchPing(policy)},
    )
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    deadline = time.monotonic() + lead_s + spread_s + 60
    pending = count
    while time.monotonic() < deadline:
        await asyncio.sleep(1)
        with sessions() as session:
            pending = session.execute(
                select(func.count()).select_from(FollowUp)
                .where(FollowUp.kind == KIND, FollowUp.status != FollowUpStatus.SENT)
            ).scalar_one()
        if pending == 0 and datetime.now(timezone.utc) > start + timedelta(seconds=spread_s):
            break
    stop.set()
    await task
    await close_resources(resources)

    with sessions() as session:
        sinks = session.execute(
            select(OutboundMessage.recipient, OutboundMessage.body).where(OutboundMessage.channel == "bench")
        ).all()
        sent = session.execute(
            select(func.count()).select_from(FollowUp)
            .where(FollowUp.kind == KIND, FollowUp.status == FollowUpStatus.SENT)
        ).scalar_one()
    engine.dispose()
    per_key = Counter(key for key, _ in sinks)
    lateness = sorted(body["lateness_s"] for _, body in sinks)
    return {
        "backend": url.split(":", 1)[0].split("+", 1)[0],
        "count": count,
        "spread_s": spread_s,
        "concurrency": policy.dispatch.concurrency,
        "sent": sent,
        "effects": len(sinks),
        "duplicates": sum(n - 1 for n in per_key.values() if n > 1),
        "losses": count - len(per_key),
        "p50_s": statistics.median(lateness) if lateness else float("nan"),
        "p99_s": lateness[min(len(lateness) - 1, int(0.99 * len(lateness)))] if lateness else float("nan"),
        "max_s": lateness[-1] if lateness else float("nan"),
    }


def goal_met(figures: dict[str, Any]) -> bool:
    """Tell whether a run met the goal: p99 <= 2 s, 0 duplicates, 0 losses."""
    return figures["duplicates"] == 0 and figures["losses"] == 0 and figures["p99_s"] <= 2.0


async def run(url: str, count: int, spread_s: float, lead_s: float, policy_file: str) -> int:
    """Measure and print the figures; return 0 when the goal is met."""
    f = await measure(url, count, spread_s, lead_s, policy_file)
    print(f"backend={f['backend']} follow-ups={f['count']} due within {f['spread_s']:.0f}s "
          f"dispatcher concurrency={f['concurrency']}")
    print(f"sent={f['sent']} effects={f['effects']} duplicates={f['duplicates']} losses={f['losses']}")
    print(f"lateness p50={f['p50_s']:.3f}s p99={f['p99_s']:.3f}s max={f['max_s']:.3f}s")
    ok = goal_met(f)
    print("GOAL MET (p99 <= 2 s, 0 duplicates, 0 losses)" if ok else "GOAL NOT MET")
    return 0 if ok else 1


def main() -> int:
    """Parse arguments and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--spread", type=float, default=60.0, help="seconds over which rows come due")
    parser.add_argument("--lead", type=float, default=5.0, help="seconds before the first row is due")
    parser.add_argument("--database-url", default="")
    parser.add_argument("--policy", default="examples/policy-fast.yml")
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp(prefix='bench-sched-')}/crm.db"
    return asyncio.run(run(url, args.count, args.spread, args.lead, args.policy))


if __name__ == "__main__":
    sys.exit(main())
