"""Two real scheduler processes on a real PostgreSQL database: the stand-by takes over within seconds of the
active one being SIGKILLed, and an active scheduler whose sessions were cut (what a PostgreSQL restart does)
steps down and competes again instead of crashing or dispatching without the lock; every due follow-up
still has exactly one effect."""

from __future__ import annotations

import time
from pathlib import Path

from bot.scheduler.leader import ADVISORY_LOCK_KEY
from crm_store.db import migrate
from tests.integration.scheduler.conftest import Census, FakeRasa, assert_exactly_once, seed_cases

from .conftest import PY, PgDatabases, Proc, base_env, wait_for

# The stand-by poll is long on purpose: takeover must come from waiting on the lock, not from polling.
POLICY = """
quiet_hours: null
defaults: {ack: 1h, resolve: 4h, follow_up_delay: 1m, auto_close_after: 1h}
scheduler:
  max_attempts: 5
  retry_backoff: 1s
  retry_backoff_max: 5s
  stale_claim_after: 5m
  safety_tick: 1s
  standby_poll: 10s
  batch_size: 100
  concurrency: 4
"""
ACTIVE = "now the active dispatcher"


def start_scheduler(url: str, rasa_url: str, work: Path, name: str) -> Proc:
    """Run `python -m bot scheduler` (advisory lock) against ``url``."""
    policy = work / "policy.yml"
    policy.write_text(POLICY)
    env = base_env(DATABASE_URL=url, RASA_URL=rasa_url, POLICY_FILE=str(policy), RASA_TOKEN="")
    return Proc([PY, "-m", "bot", "scheduler"], env, work / f"{name}.log")


def test_standby_takes_over_within_seconds_of_sigkill_and_dispatches_exactly_once(pg: PgDatabases, tmp_path: Path):
    url = pg.create("standby")
    migrate(url)
    census = Census(url)
    with FakeRasa(delay_s=0.02) as rasa:
        active = start_scheduler(url, rasa.url, tmp_path, "s1")
        standby: Proc | None = None
        logs = lambda: active.log() + (standby.log() if standby else "")  # noqa: E731
        try:
            wait_for(lambda: ACTIVE in active.log(), 60, "the first scheduler to lead", logs)
            standby = start_scheduler(url, rasa.url, tmp_path, "s2")
            wait_for(lambda: "standing by" in standby.log(), 60, "the second scheduler to stand by", logs)
            # Seed only now: on a busy machine the active one could finish everything while the stand-by starts.
            ask_refs, ack_refs = seed_cases(url, asks=500, acks=500)
            wait_for(lambda: census.progress() >= 100, 60, "dispatching to start", logs)
            active.kill()
            killed_at = time.monotonic()
            done_at_kill = census.progress()
            assert done_at_kill < 1000, "the kill came too late to interrupt dispatching"
            wait_for(lambda: census.progress() > done_at_kill, 30, "the stand-by's first effect", logs)
            takeover_s = time.monotonic() - killed_at
            assert takeover_s < 4.0, f"takeover took {takeover_s:.1f} s (stand-by poll is 10 s)"
            assert ACTIVE in standby.log()
            wait_for(lambda: census.unfinished() == 0, 120, "the stand-by to finish", logs)
            assert_exactly_once(census, ask_refs, ack_refs)
            assert pg.advisory_holders(url, ADVISORY_LOCK_KEY) != []
            print(f"\ntakeover after SIGKILL: {takeover_s:.2f} s ({done_at_kill} effects before the kill)")
        finally:
            for proc in (active, standby):
                if proc is not None:
                    proc.stop()
            census.close()


def test_lost_sessions_make_the_active_step_down_and_one_scheduler_lead_again(pg: PgDatabases, tmp_path: Path):
    url = pg.create("lost")
    migrate(url)
    census = Census(url)
    with FakeRasa() as rasa:
        first = start_scheduler(url, rasa.url, tmp_path, "s1")
        second: Proc | None = None
        logs = lambda: first.log() + (second.log() if second else "")  # noqa: E731
        try:
            wait_for(lambda: ACTIVE in first.log(), 60, "the first scheduler to lead", logs)
            second = start_scheduler(url, rasa.url, tmp_path, "s2")
            wait_for(lambda: "standing by" in second.log(), 60, "the second scheduler to stand by", logs)
            for round_ in (1, 2):
                assert pg.terminate_sessions(url) >= 2, "the schedulers had no sessions to lose"
                wait_for(lambda: "lost the scheduler lock" in first.log() or round_ == 2, 10,
                         "the active scheduler to notice", logs)
                wait_for(lambda: len(pg.advisory_holders(url, ADVISORY_LOCK_KEY)) == 1, 30,
                         "a scheduler to lead again", logs)
                # Exactly one leader, and it stays that way (no flapping, no second leader).
                for _ in range(20):
                    assert len(pg.advisory_holders(url, ADVISORY_LOCK_KEY)) == 1
                    time.sleep(0.1)
                assert first.alive() and second.alive(), "a scheduler crashed when its session was lost"
            assert first.log().count(ACTIVE) + second.log().count(ACTIVE) >= 2
            # The new leader dispatches what is due, exactly once.
            ask_refs, ack_refs = seed_cases(url, asks=60, acks=60)
            wait_for(lambda: census.unfinished() == 0, 60, "the leader to dispatch after the outage", logs)
            assert_exactly_once(census, ask_refs, ack_refs)
            assert sum(rasa.calls.values()) == len(ask_refs), "a guest was asked twice"
        finally:
            for proc in (first, second):
                if proc is not None:
                    proc.stop()
            census.close()


def test_single_scheduler_reacquires_after_its_session_is_cut(pg: PgDatabases, tmp_path: Path):
    url = pg.create("alone")
    migrate(url)
    census = Census(url)
    with FakeRasa() as rasa:
        alone = start_scheduler(url, rasa.url, tmp_path, "s1")
        try:
            wait_for(lambda: ACTIVE in alone.log(), 60, "the scheduler to lead", alone.log)
            pg.terminate_sessions(url)
            wait_for(lambda: alone.log().count(ACTIVE) == 2, 30, "the scheduler to lead again", alone.log)
            assert alone.alive()
            assert "lost the scheduler lock" in alone.log() or "stepping down" in alone.log()
            ask_refs, ack_refs = seed_cases(url, asks=30, acks=30)
            wait_for(lambda: census.unfinished() == 0, 60, "dispatching after the outage", alone.log)
            assert_exactly_once(census, ask_refs, ack_refs)
        finally:
            alone.stop()
            census.close()
