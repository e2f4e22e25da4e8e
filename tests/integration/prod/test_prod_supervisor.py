"""The real supervisor (`python -m bot run`) restarts a child that dies, with back-off, keeps every child in
its own session, and records them in $VAR_DIR/run/processes.json; PROFILE=prod refuses to start on SQLite or
without Redis, with a clear message."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.supervisor import Child, Supervisor

from .conftest import PY, REDIS_URL, REPO, PgDatabases, Proc, base_env, free_port_block, read_processes, wait_for

ACTIVE = "now the active dispatcher"


def run_bot(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m bot run` to completion (it must refuse to start)."""
    return subprocess.run([PY, "-m", "bot", "run", *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, "DATABASE_URL must be a postgresql:// URL"),
        ({"DATABASE_URL": "postgresql://hotel:s3cret-pw@db.internal/crm"}, "TRACKER_STORE_URL must be a postgresql"),
        ({"DATABASE_URL": "postgresql://hotel:s3cret-pw@db.internal/crm",
          "TRACKER_STORE_URL": "postgresql://hotel:s3cret-pw@db.internal/trk"}, "REDIS_URL must be set"),
    ],
)
def test_prod_profile_refuses_to_start_without_postgres_and_redis(tmp_path: Path, overrides, expected):
    env = base_env(PROFILE="prod", DATABASE_URL=f"sqlite:///{tmp_path}/crm.db",
                   TRACKER_STORE_URL=f"sqlite:///{tmp_path}/trk.db", REDIS_URL="", VAR_DIR=str(tmp_path / "var"))
    env.update(overrides)
    result = run_bot(env)
    assert result.returncode == 2
    assert "Configuration error: PROFILE=prod needs shared PostgreSQL and Redis" in result.stderr
    assert expected in result.stderr and ".env.prod.example" in result.stderr
    assert "s3cret-pw" not in result.stderr + result.stdout, "a password reached the output"
    assert not (tmp_path / "var" / "run" / "processes.json").exists(), "something started"


def test_run_profile_flag_selects_prod(tmp_path: Path):
    env = base_env(PROFILE="", DATABASE_URL=f"sqlite:///{tmp_path}/crm.db", VAR_DIR=str(tmp_path / "var"))
    result = run_bot(env, "--profile", "prod")
    assert result.returncode == 2 and "PROFILE=prod needs" in result.stderr


def _children(path: Path) -> dict[str, dict]:
    return {c["name"]: c for c in read_processes(path)["children"]}


def test_supervisor_restarts_a_killed_scheduler_and_the_standby_takes_over(
    pg: PgDatabases, redis_prefix: str, tmp_path: Path
):
    crm, tracker = pg.create("supcrm"), pg.create("suptrk")
    base = free_port_block(4)
    var = tmp_path / "var"
    policy = tmp_path / "policy.yml"
    policy.write_text((REPO / "examples" / "policy-fast.yml").read_text())
    env = base_env(
        PROFILE="prod", DATABASE_URL=crm, TRACKER_STORE_URL=tracker, REDIS_URL=REDIS_URL,
        REDIS_KEY_PREFIX=redis_prefix, VAR_DIR=str(var), POLICY_FILE=str(policy),
        RASA_URL=f"http://127.0.0.1:{base}", ACTION_SERVER_URL=f"http://127.0.0.1:{base + 2}",
        OPS_PORT=str(free_port_block(1)),
    )
    supervisor = Proc([PY, "-m", "bot", "run", "--only", "scheduler"], env, tmp_path / "supervisor.out")
    state = var / "run" / "processes.json"
    logs = lambda: supervisor.log() + "".join(  # noqa: E731
        p.read_text(errors="replace") for p in sorted((var / "log").glob("scheduler-*.log")))
    try:
        wait_for(lambda: state.exists() and read_processes(state)["state"] == "running", 60,
                 "processes.json to say running", logs)
        doc = read_processes(state)
        assert doc["profile"] == "prod" and doc["supervisor_pid"] == supervisor.pid
        children = _children(state)
        assert sorted(children) == ["scheduler-1", "scheduler-2"]
        for child in children.values():
            assert child["restarts"] == 0 and child["alive"] and child["started_at"]
            assert os.getpgid(child["pid"]) == child["pid"], "a child shares the supervisor's process group"
            assert os.getsid(child["pid"]) == child["pid"], "a child is not in its own session"
        log_of = {name: var / "log" / f"{name}.log" for name in children}
        wait_for(lambda: sum(ACTIVE in p.read_text() for p in log_of.values() if p.exists()) == 1, 60,
                 "one scheduler to lead", logs)
        leader = next(name for name, p in log_of.items() if ACTIVE in p.read_text())
        other = next(name for name in children if name != leader)
        old_pid = children[leader]["pid"]

        os.kill(old_pid, signal.SIGKILL)
        killed_at = time.monotonic()
        wait_for(lambda: ACTIVE in log_of[other].read_text(), 15, "the stand-by to take over", logs)
        takeover_s = time.monotonic() - killed_at
        wait_for(lambda: _children(state)[leader]["restarts"] == 1, 15, "the supervisor to restart it", logs)
        restarted = _children(state)[leader]
        assert restarted["pid"] != old_pid and restarted["alive"]
        assert os.getpgid(restarted["pid"]) == restarted["pid"]
        assert _children(state)[other]["restarts"] == 0 and _children(state)[other]["pid"] == children[other]["pid"]
        assert f"{leader} (pid {old_pid}) stopped unexpectedly (killed by SIGKILL); restarting in 1 s" in supervisor.log()
        assert f"restarted {leader}" in (var / "log" / "supervisor.log").read_text()
        # The restarted scheduler comes back as the stand-by.
        wait_for(lambda: log_of[leader].read_text().count("standing by") >= 1
                 and log_of[leader].read_text().count("scheduler starting") == 2, 60,
                 "the restarted scheduler to stand by", logs)
        assert log_of[leader].read_text().count(ACTIVE) == 1

        # Killed again at once: the back-off doubles.
        second_pid = restarted["pid"]
        time.sleep(0.5)
        os.kill(second_pid, signal.SIGKILL)
        wait_for(lambda: _children(state)[leader]["restarts"] == 2, 20, "the second restart", logs)
        assert f"{leader} (pid {second_pid}) stopped unexpectedly (killed by SIGKILL); restarting in 2 s" in supervisor.log()
        print(f"\nstand-by took over {takeover_s:.2f} s after SIGKILL")
    finally:
        assert supervisor.stop() == 0, supervisor.log()[-3000:]
    final = read_processes(state)
    assert final["state"] == "stopped"
    for child in final["children"]:
        assert not _pid_alive(child["pid"]), f"{child['name']} outlived the supervisor"


def _pid_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2:].split()[0] != "Z"


def test_supervisor_backoff_doubles_to_30_s_and_resets_after_a_healthy_minute(tmp_path: Path):
    """Drive the Supervisor with a fake clock and real child processes that exit at once."""
    now = [1000.0]
    events: list[str] = []
    crash = Child("crasher", [sys.executable, "-c", "import sys; sys.exit(3)"], tmp_path / "crasher.log")
    steady = Child("steady", [sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "steady.log")
    supervisor = Supervisor("embedded", [crash, steady], dict(os.environ), tmp_path / "run",
                            log=events.append, die_with_parent=False, clock=lambda: now[0])
    supervisor.start()
    try:
        delays = []
        for _ in range(7):
            crash.process.wait(timeout=10)
            supervisor.check()
            assert crash.restart_due is not None
            delays.append(crash.restart_due - now[0])
            now[0] = crash.restart_due
            supervisor.check()
            assert crash.restart_due is None
        assert delays == [1, 2, 4, 8, 16, 30, 30]
        assert crash.restarts == 7 and steady.restarts == 0
        # A child that ran for a minute before dying starts again from 1 s.
        crash.process.wait(timeout=10)
        now[0] += 61
        supervisor.check()
        assert crash.restart_due - now[0] == 1
        doc = json.loads((tmp_path / "run" / "processes.json").read_text())
        assert {c["name"]: c["restarts"] for c in doc["children"]} == {"crasher": 7, "steady": 0}
        assert any("crasher" in e and "exit code 3" in e for e in events)
    finally:
        supervisor.stop()
    assert not steady.alive and json.loads((tmp_path / "run" / "processes.json").read_text())["state"] == "stopped"


def test_children_stop_when_the_supervisor_is_killed(pg: PgDatabases, redis_prefix: str, tmp_path: Path):
    crm, tracker = pg.create("orphcrm"), pg.create("orphtrk")
    base = free_port_block(4)
    var = tmp_path / "var"
    env = base_env(
        PROFILE="prod", DATABASE_URL=crm, TRACKER_STORE_URL=tracker, REDIS_URL=REDIS_URL,
        REDIS_KEY_PREFIX=redis_prefix, VAR_DIR=str(var), POLICY_FILE=str(REPO / "examples" / "policy-fast.yml"),
        RASA_URL=f"http://127.0.0.1:{base}", ACTION_SERVER_URL=f"http://127.0.0.1:{base + 2}",
        OPS_PORT=str(free_port_block(1)),
    )
    supervisor = Proc([PY, "-m", "bot", "run", "--only", "scheduler"], env, tmp_path / "supervisor.out")
    state = var / "run" / "processes.json"
    try:
        wait_for(lambda: state.exists() and read_processes(state)["state"] == "running", 60, "the schedulers",
                 supervisor.log)
        pids = [c["pid"] for c in read_processes(state)["children"]]
        assert all(_pid_alive(pid) for pid in pids)
        supervisor.kill()
        wait_for(lambda: not any(_pid_alive(pid) for pid in pids), 20, "the orphans to stop", supervisor.log)
    finally:
        supervisor.stop()
        for pid in [c["pid"] for c in read_processes(state)["children"]] if state.exists() else []:
            if _pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
