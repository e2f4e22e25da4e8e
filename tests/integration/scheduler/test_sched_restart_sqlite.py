"""Kill the scheduler with SIGKILL while it dispatches 1,000 follow-ups on SQLite; restart; each is sent once."""

from __future__ import annotations

from pathlib import Path

from crm_store.model import FollowUp, FollowUpStatus

from .conftest import Census, SchedulerProcess, assert_exactly_once, seed_cases, wait_until


def test_sched_sqlite_sigkill_mid_dispatch_then_restart_sends_each_exactly_once(
    sqlite_url: str, fake_rasa, tmp_path: Path
):
    ask_refs, ack_refs = seed_cases(sqlite_url, asks=500, acks=500)
    census = Census(sqlite_url)
    log = tmp_path / "scheduler.log"
    try:
        first = SchedulerProcess(sqlite_url, fake_rasa.url, log)
        wait_until(lambda: census.progress() >= 300, 60, "the first scheduler to get going", first.log)
        first.kill()
        claimed_at_kill = census.followups(FollowUp.status == FollowUpStatus.CLAIMED)
        done_at_kill = census.progress()
        assert done_at_kill < 1000, "the kill came too late to interrupt dispatching"

        second = SchedulerProcess(sqlite_url, fake_rasa.url, log)
        try:
            wait_until(lambda: census.unfinished() == 0, 120, "the restarted scheduler to finish", second.log)
        finally:
            assert second.stop() == 0, second.log()

        assert_exactly_once(census, ask_refs, ack_refs)
        repeated_calls = sum(fake_rasa.calls.values()) - len(ask_refs)
        print(f"\nkilled after {done_at_kill} effects with {claimed_at_kill} row(s) claimed; "
              f"Rasa calls repeated after the kill: {repeated_calls}")
        assert claimed_at_kill >= 1, "no row was in flight at the kill"
        assert set(fake_rasa.calls) == set(ask_refs)
        assert 0 <= repeated_calls <= claimed_at_kill, "only rows in flight at the kill may be re-asked"
        if claimed_at_kill:
            assert "recovered" in log.read_text()
    finally:
        census.close()
