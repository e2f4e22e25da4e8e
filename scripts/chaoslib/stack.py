"""Start the production profile (`PROFILE=prod python -m bot run`) on private databases and free ports; kill
its children by name, and wait for the supervisor to bring them back."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .infra import PrivatePostgres, free_port, free_port_run

REPO = Path(__file__).resolve().parents[2]


def http_status(url: str, timeout: float = 3.0) -> int:
    """Return the HTTP status of a GET (0 when nothing answers)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError, TimeoutError):
        return 0


def http_json(url: str, timeout: float = 3.0) -> Any:
    """Return the decoded JSON of a GET, or None."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return json.loads(resp.read())
    except (urllib.error.URLError, OSError, TimeoutError, ValueError):
        return None


def pid_alive(pid: int | None) -> bool:
    """Tell whether a process exists and is not a zombie."""
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


@dataclass
class Stack:
    """The supervised processes of one chaos run and where they listen."""

    work: Path
    pg: PrivatePostgres
    redis_url: str
    bot_api_url: str
    bot_token: str
    rasa_base: int = field(default_factory=lambda: free_port_run(2))
    actions_base: int = field(default_factory=lambda: free_port_run(2))
    ops_port: int = field(default_factory=free_port)
    rasa_token: str = "chaos-rasa-token"
    pms_secret: str = "chaos-pms-secret"
    process: subprocess.Popen[bytes] | None = None

    @property
    def var_dir(self) -> Path:
        """Return VAR_DIR (logs in log/, processes.json in run/)."""
        return self.work / "var"

    @property
    def processes_path(self) -> Path:
        """Return the supervisor's processes.json."""
        return self.var_dir / "run" / "processes.json"

    @property
    def supervisor_log(self) -> Path:
        """Return the supervisor's own output."""
        return self.work / "supervisor.log"

    @property
    def crm_url(self) -> str:
        """Return the CRM database URL."""
        return self.pg.url("chaos_crm")

    @property
    def tracker_url(self) -> str:
        """Return the tracker-store database URL."""
        return self.pg.url("chaos_tracker")

    @property
    def ops_url(self) -> str:
        """Return the bot process's ops HTTP root."""
        return f"http://127.0.0.1:{self.ops_port}"

    def rasa_url(self, replica: int = 1) -> str:
        """Return the URL of Rasa replica ``replica``."""
        return f"http://127.0.0.1:{self.rasa_base + replica - 1}"

    def actions_url(self, replica: int = 1) -> str:
        """Return the URL of action server replica ``replica``."""
        return f"http://127.0.0.1:{self.actions_base + replica - 1}"

    def environment(self) -> dict[str, str]:
        """Return the environment of the supervisor (the production profile's settings)."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("DATABASE_", "TRACKER_", "TELEGRAM_", "STAFF_", "RASA_", "REDIS_"))}
        env.update({
            "PROFILE": "prod",
            "RASA_REPLICAS": "2",
            "ACTION_SERVER_REPLICAS": "2",
            "SCHEDULER_STANDBY": "1",
            "REDIS_KEY_PREFIX": "chaos",
            "DATABASE_URL": self.crm_url,
            "TRACKER_STORE_URL": self.tracker_url,
            "REDIS_URL": self.redis_url,
            "RASA_URL": self.rasa_url(1),
            "ACTION_SERVER_URL": self.actions_url(1),
            "OPS_PORT": str(self.ops_port),
            "VAR_DIR": str(self.var_dir),
            "RASA_TOKEN": self.rasa_token,
            "POLICY_FILE": str(REPO / "examples" / "policy-fast.yml"),
            "QUIET_HOURS": "",
            "HOTEL_TIMEZONE": "UTC",
            "PMS_WEBHOOK_SECRET": self.pms_secret,
            "TELEGRAM_BOT_TOKEN": self.bot_token,
            "TELEGRAM_API_URL": self.bot_api_url,
            "REVIEW_LINK": "https://reviews.example/hotel",
            "PYTHONPATH": str(REPO),
            "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
            "RASA_TELEMETRY_ENABLED": "false",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "PYTHONHASHSEED": "0",
            "PYTHONUNBUFFERED": "1",
        })
        return env

    def start(self) -> None:
        """Start the supervisor, `python -m bot run` with PROFILE=prod."""
        self.var_dir.mkdir(parents=True, exist_ok=True)
        with open(self.supervisor_log, "ab") as log:
            self.process = subprocess.Popen(
                [python(), "-m", "bot", "run"], cwd=REPO, env=self.environment(), stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )

    def stop(self) -> None:
        """Stop the supervisor (it stops its children), and kill whatever is left of its session."""
        proc = self.process
        if proc is None:
            return
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(40)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for child in self.children():  # a child the supervisor failed to stop
            if pid_alive(child.get("pid")):
                try:
                    os.killpg(int(child["pid"]), signal.SIGKILL)
                except OSError:
                    pass
        self.process = None

    def supervisor_alive(self) -> bool:
        """Tell whether the supervisor still runs."""
        return self.process is not None and self.process.poll() is None

    # -- processes.json -----------------------------------------------------------------------

    def state(self) -> dict[str, Any] | None:
        """Return processes.json, or None while it does not exist (or is being rewritten)."""
        try:
            return json.loads(self.processes_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def children(self) -> list[dict[str, Any]]:
        """Return the children listed in processes.json."""
        state = self.state() or {}
        return list(state.get("children") or [])

    def child(self, name: str) -> dict[str, Any] | None:
        """Return one child's entry."""
        return next((c for c in self.children() if c.get("name") == name), None)

    def names(self) -> list[str]:
        """Return the children's names."""
        return [str(c.get("name")) for c in self.children()]

    # -- readiness ----------------------------------------------------------------------------

    def healthy(self) -> bool:
        """Tell whether the bot's /health is green (Rasa, action server and both databases answer)."""
        return http_status(f"{self.ops_url}/health") == 200

    def rasa_ready(self, replica: int = 1) -> bool:
        """Tell whether a Rasa replica answers with a model loaded."""
        status = http_json(f"{self.rasa_url(replica)}/status?token={self.rasa_token}")
        return bool(status and (status.get("model_file") or status.get("model_id")))

    def actions_ready(self, replica: int = 1) -> bool:
        """Tell whether an action server replica answers /health."""
        return http_status(f"{self.actions_url(replica)}/health") == 200

    def wait(self, predicate: Any, timeout_s: float, what: str, poll_s: float = 0.5) -> float:
        """Wait until ``predicate()`` is true; return the seconds waited, or raise TimeoutError naming ``what``."""
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            if not self.supervisor_alive():
                raise RuntimeError(f"the supervisor exited (code {self.process.returncode if self.process else '?'})"
                                   f" while waiting for {what}; see {self.supervisor_log}")
            try:
                if predicate():
                    return time.monotonic() - started
            except Exception:  # noqa: BLE001 - not ready yet
                pass
            time.sleep(poll_s)
        raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}")

    def service_ready(self, name: str) -> bool:
        """Tell whether the child ``name`` is alive and doing its job again."""
        child = self.child(name)
        if child is None or not pid_alive(child.get("pid")):
            return False
        if name.startswith("rasa-"):
            return self.rasa_ready(int(name.split("-")[1]))
        if name.startswith("actions-"):
            return self.actions_ready(int(name.split("-")[1]))
        if name == "bot":
            return self.healthy()
        return True

    # -- faults -------------------------------------------------------------------------------

    def kill(self, name: str) -> int:
        """SIGKILL the child ``name`` (its whole process group when it leads one); return the pid killed."""
        child = self.child(name)
        if child is None or not pid_alive(child.get("pid")):
            raise RuntimeError(f"no live child named {name}")
        pid = int(child["pid"])
        try:
            if os.getpgid(pid) == pid:
                os.killpg(pid, signal.SIGKILL)
            else:
                os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return pid

    def restarted(self, name: str, old_pid: int) -> bool:
        """Tell whether the supervisor has started a new process for ``name``."""
        child = self.child(name)
        return child is not None and child.get("pid") not in (None, old_pid) and pid_alive(child.get("pid"))

    def log_tail(self, name: str, chars: int = 2500) -> str:
        """Return the end of a child's log."""
        path = self.var_dir / "log" / f"{name}.log"
        if not path.exists():
            candidates = sorted((self.var_dir / "log").glob(f"{name}*.log"))
            if not candidates:
                return "(no log)"
            path = candidates[0]
        return path.read_text(errors="replace")[-chars:]


def socket_ports_of(pid: int) -> set[int]:
    """Return the local TCP ports of the sockets process ``pid`` holds (from /proc; Linux only)."""
    inodes: set[str] = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        return set()
    ports: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) > 9 and parts[9] in inodes:
                ports.add(int(parts[1].rsplit(":", 1)[1], 16))
    return ports


def active_scheduler(stack: Stack) -> str | None:
    """Return the name of the scheduler child that holds the PostgreSQL advisory lock, if any."""
    from sqlalchemy import create_engine, text

    engine = create_engine(stack.crm_url, future=True)
    try:
        with engine.connect() as conn:
            client_ports = {
                int(row[0]) for row in conn.execute(text(
                    "SELECT a.client_port FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE l.locktype = 'advisory' AND l.granted AND a.client_port IS NOT NULL"
                ))
            }
    finally:
        engine.dispose()
    for child in stack.children():
        name = str(child.get("name"))
        if name.startswith("scheduler") and child.get("pid") and socket_ports_of(int(child["pid"])) & client_ports:
            return name
    return None


def python() -> str:
    """Return the venv's Python."""
    return str(REPO / ".venv" / "bin" / "python") if (REPO / ".venv").exists() else sys.executable
