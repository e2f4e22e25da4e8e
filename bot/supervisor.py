"""Start the assistant's processes, restart any that dies, and stop them all cleanly.

Profiles (``PROFILE``): ``embedded`` runs one action server, one Rasa server, the bot process and one
scheduler (children ``actions``, ``rasa``, ``bot``, ``scheduler``); ``prod`` runs ``ACTION_SERVER_REPLICAS``
action servers, ``RASA_REPLICAS`` Rasa servers sharing a PostgreSQL tracker store and a Redis lock store,
the bot process, and ``1 + SCHEDULER_STANDBY`` schedulers (children ``actions-1``, ``rasa-1``, ...,
``bot``, ``scheduler-1``, ...).

Every child runs in its own session (Ctrl-C reaches only the supervisor). A child that exits while the
supervisor is not stopping is restarted after a back-off (1 s, doubling to 30 s; back to 1 s once it had
run for 60 s). After every (re)start the supervisor rewrites ``$VAR_DIR/run/processes.json`` atomically.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator
from urllib.parse import unquote, urlsplit

from crm_store.db import migrate
from crm_store.settings import Settings

REPO = Path(__file__).resolve().parent.parent
READY_TIMEOUT_S = 300
STOP_GRACE_S = 15
BACKOFF_START_S = 1.0
BACKOFF_MAX_S = 30.0
HEALTHY_RESET_S = 60.0
ROLES = ("actions", "rasa", "bot", "scheduler")
PROCESSES_FILE = "processes.json"
# pg_advisory_lock key held while migrating or creating the tracker tables (several hosts may start at once).
MIGRATION_LOCK_KEY = 0x2F6A_54B1_93C0_7D12
_PR_SET_PDEATHSIG = 1


@dataclass
class Child:
    """One supervised process: how to start it, where it logs, and its restart bookkeeping."""

    name: str
    argv: list[str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None)
    env: dict[str, str] = field(default_factory=dict)  # added on top of the shared environment
    port: int | None = None
    restarts: int = 0
    started_at: datetime | None = None
    started_monotonic: float = 0.0
    backoff_s: float = BACKOFF_START_S
    restart_due: float | None = None

    @property
    def alive(self) -> bool:
        """Tell whether the process runs."""
        return self.process is not None and self.process.poll() is None


def latest_model(models_dir: Path) -> Path:
    """Return the newest trained model archive, or exit with a clear message."""
    archives = sorted(models_dir.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not archives:
        sys.exit(f"No trained model in {models_dir}. Run `make train` first.")
    return archives[-1]


def lock_store_environment(settings: Settings) -> dict[str, str]:
    """Return the LOCK_STORE_* variables endpoints-prod.yml reads, from REDIS_URL and REDIS_KEY_PREFIX."""
    parts = urlsplit(settings.redis_url)
    database = parts.path.lstrip("/") or "0"
    return {
        "LOCK_STORE_HOST": parts.hostname or "localhost",
        "LOCK_STORE_PORT": str(parts.port or 6379),
        "LOCK_STORE_DB": database,
        "LOCK_STORE_USERNAME": unquote(parts.username or ""),
        "LOCK_STORE_PASSWORD": unquote(parts.password or ""),
        "LOCK_STORE_KEY_PREFIX": settings.redis_key_prefix,
    }


def rasa_environment(settings: Settings, base: dict[str, str] | None = None) -> dict[str, str]:
    """Return the environment the Rasa, action, bot and scheduler processes share."""
    env = dict(os.environ if base is None else base)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["ACTION_ENDPOINT_URL"] = f"{settings.action_server_for(1).rstrip('/')}/webhook"
    env["TRACKER_STORE_URL"] = settings.tracker_store_url
    env["TRACKER_DB_DIALECT"] = settings.tracker_store_url.split(":", 1)[0].split("+", 1)[0]
    if settings.profile == "prod":
        env.update(lock_store_environment(settings))
    env.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    # Never send telemetry or crash reports (they can carry guest text) to third parties.
    env["RASA_TELEMETRY_ENABLED"] = "false"
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def port_of(url: str, default: int) -> str:
    """Return the port in a URL, or the default."""
    return str(urlsplit(url).port or default)


def endpoints_file(settings: Settings) -> Path:
    """Return the Rasa endpoints file of the profile (prod adds the Redis lock store)."""
    return REPO / ("endpoints-prod.yml" if settings.profile == "prod" else "endpoints.yml")


def child_name(settings: Settings, role: str, index: int, count: int) -> str:
    """Name a child: ``rasa`` in the embedded profile's single-process layout, else ``rasa-1``, ``rasa-2``..."""
    if settings.profile == "embedded" and count == 1:
        return role
    return f"{role}-{index}"


def build_children(settings: Settings, log_dir: Path, roles: Iterable[str] = ROLES) -> list[Child]:
    """Describe the processes of the settings' profile (only those of ``roles``), in start order."""
    py = sys.executable
    wanted = set(roles)
    unknown = wanted - set(ROLES)
    if unknown:
        raise ValueError(f"unknown role(s) {', '.join(sorted(unknown))}; expected {', '.join(ROLES)}")
    children: list[Child] = []
    if "actions" in wanted:
        urls = settings.local_action_server_urls
        for i, url in enumerate(urls, start=1):
            name = child_name(settings, "actions", i, len(urls))
            port = int(port_of(url, 5055))
            argv = [py, "-m", "rasa_sdk", "--actions", "actions", "--port", str(port)]
            children.append(Child(name, argv, log_dir / f"{name}.log", port=port))
    if "rasa" in wanted:
        model = latest_model(REPO / "models")
        urls = settings.local_rasa_urls
        for i, url in enumerate(urls, start=1):
            name = child_name(settings, "rasa", i, len(urls))
            port = int(port_of(url, 5005))
            argv = [
                py, "-m", "rasa", "run", "--enable-api", "--model", str(model),
                "--endpoints", str(endpoints_file(settings)), "--credentials", str(REPO / "credentials.yml"),
                "--interface", settings.rasa_listen, "--port", str(port),
            ]
            if settings.rasa_token:
                argv += ["--auth-token", settings.rasa_token]
            env = {"ACTION_ENDPOINT_URL": f"{settings.action_server_for(i)}/webhook"}
            children.append(Child(name, argv, log_dir / f"{name}.log", env=env, port=port))
    if "bot" in wanted:
        children.append(Child("bot", [py, "-m", "bot", "serve"], log_dir / "bot.log", port=settings.ops_port))
    if "scheduler" in wanted:
        count = settings.scheduler_processes
        for i in range(1, count + 1):
            name = child_name(settings, "scheduler", i, count)
            children.append(Child(name, [py, "-m", "bot", "scheduler"], log_dir / f"{name}.log"))
    return children


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM when the supervisor dies (even by SIGKILL)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def spawn(
    child: Child, env: dict[str, str], *, die_with_parent: bool = False, now: float | None = None
) -> None:
    """Start one child in its own session, appending its output to its log file."""
    child.log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(child.log_path, "ab") as log:
        child.process = subprocess.Popen(
            child.argv, cwd=REPO, env={**env, **child.env}, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=_die_with_parent if die_with_parent else None,
        )
    child.started_at = datetime.now(timezone.utc)
    child.started_monotonic = time.monotonic() if now is None else now
    child.restart_due = None


def start_all(children: list[Child], env: dict[str, str], announce: bool = True) -> None:
    """Start every child in its own session (so Ctrl-C reaches only the supervisor), logging to files."""
    for child in children:
        if announce:
            print(f"Starting {child.name:12s} (log: {child.log_path})")
        spawn(child, env)


def wait_ready(url: str, children: list[Child], timeout_s: float) -> bool:
    """Poll the health endpoint until it answers 200, a child dies, or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for child in children:
            if child.process is not None and child.process.poll() is not None:
                print(f"  {child.name} exited early (code {child.process.returncode}); see {child.log_path}")
                return False
        if http_ok(url):
            return True
        time.sleep(1)
    return False


def http_ok(url: str, timeout_s: float = 3.0) -> bool:
    """Tell whether a GET answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _kill_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop_all(children: list[Child]) -> None:
    """Send SIGTERM to every child (in reverse order), then SIGKILL to those still alive after a grace period."""
    for child in reversed(children):
        if child.process is not None and child.process.poll() is None:
            _kill_group(child.process.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    for child in children:
        if child.process is None:
            continue
        try:
            child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _kill_group(child.process.pid, signal.SIGKILL)
            child.process.wait()
        # Helpers the child started in its session (if any) go with it.
        _kill_group(child.process.pid, signal.SIGKILL)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment is not None else None


def write_json_atomically(path: Path, document: dict) -> None:
    """Write ``document`` to ``path`` so that readers see the old or the new file, never a partial one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _exit_description(code: int | None) -> str:
    if code is None:
        return "running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class Supervisor:
    """Keep a set of children running: restart the ones that die, with back-off; record them in processes.json."""

    def __init__(
        self,
        profile: str,
        children: list[Child],
        env: dict[str, str],
        run_dir: Path,
        *,
        log: Callable[[str], None] = print,
        die_with_parent: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Remember what to run; nothing starts before ``start``."""
        self.profile = profile
        self.children = children
        self.env = env
        self.state_path = run_dir / PROCESSES_FILE
        self.state = "starting"
        self._log = log
        self._die_with_parent = die_with_parent
        self._clock = clock

    def start(self) -> None:
        """Start every child and record them."""
        for child in self.children:
            spawn(child, self.env, die_with_parent=self._die_with_parent, now=self._clock())
            self._log(f"started {child.name} (pid {child.process.pid}, log {child.log_path})")
        self.write_state()

    def check(self) -> None:
        """Run one supervision step: notice children that died, restart those whose back-off has passed."""
        now = self._clock()
        changed = False
        for child in self.children:
            if child.process is None:
                continue
            if child.restart_due is None and child.process.poll() is not None:
                self._schedule_restart(child, now)
            if child.restart_due is not None and now >= child.restart_due:
                spawn(child, self.env, die_with_parent=self._die_with_parent, now=now)
                child.restarts += 1
                self._log(f"restarted {child.name} (pid {child.process.pid}, restart #{child.restarts})")
                changed = True
        if changed:
            self.write_state()

    def _schedule_restart(self, child: Child, now: float) -> None:
        assert child.process is not None
        # Whatever the dead child left in its session (helpers) must not keep its port.
        _kill_group(child.process.pid, signal.SIGKILL)
        if now - child.started_monotonic >= HEALTHY_RESET_S:
            child.backoff_s = BACKOFF_START_S
        delay = child.backoff_s
        child.backoff_s = min(child.backoff_s * 2, BACKOFF_MAX_S)
        child.restart_due = now + delay
        self._log(
            f"{child.name} (pid {child.process.pid}) stopped unexpectedly "
            f"({_exit_description(child.process.returncode)}); restarting in {delay:.0f} s; see {child.log_path}"
        )

    def next_due(self) -> float | None:
        """Return the monotonic time of the next pending restart, if any."""
        due = [c.restart_due for c in self.children if c.restart_due is not None]
        return min(due) if due else None

    def document(self) -> dict:
        """Return what processes.json holds."""
        return {
            "profile": self.profile,
            "state": self.state,
            "supervisor_pid": os.getpid(),
            "updated_at": _iso(datetime.now(timezone.utc)),
            "children": [
                {
                    "name": child.name,
                    "pid": child.process.pid if child.process is not None else None,
                    "restarts": child.restarts,
                    "started_at": _iso(child.started_at),
                    "port": child.port,
                    "alive": child.alive,
                    "log": str(child.log_path),
                }
                for child in self.children
            ],
        }

    def write_state(self, state: str | None = None) -> None:
        """Rewrite processes.json atomically (optionally with a new overall state)."""
        if state is not None:
            self.state = state
        write_json_atomically(self.state_path, self.document())

    def stop(self) -> None:
        """Stop every child (SIGTERM, then SIGKILL after the grace period) and record the final state."""
        self.write_state("stopping")
        for child in self.children:
            child.restart_due = None
        stop_all(self.children)
        self.write_state("stopped")


@contextmanager
def _postgres_lock(url: str) -> Iterator[None]:
    """Hold a PostgreSQL advisory lock (other hosts' supervisors wait) while migrating; no-op elsewhere."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    if make_url(url).get_backend_name() != "postgresql":
        yield
        return
    from crm_store.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
    finally:
        engine.dispose()


def migrate_crm(settings: Settings) -> None:
    """Bring the CRM database to the newest schema (one host at a time on PostgreSQL)."""
    with _postgres_lock(settings.database_url):
        migrate(settings.database_url)


def create_tracker_tables(url: str) -> None:
    """Create Rasa's tracker-store tables if missing, so that replicas starting together never race on them."""
    from sqlalchemy import create_engine

    from rasa.core.tracker_store import SQLTrackerStore

    with _postgres_lock(url):
        engine = create_engine(url)
        try:
            SQLTrackerStore.Base.metadata.create_all(engine)
        finally:
            engine.dispose()


def prepare_tracker_store(settings: Settings, env: dict[str, str], log_dir: Path) -> None:
    """Pre-create the tracker tables (in a short-lived process: importing Rasa is heavy) when several replicas share them."""
    if settings.profile != "prod" and settings.rasa_replicas == 1:
        return
    log_path = log_dir / "init-tracker.log"
    with open(log_path, "ab") as log:
        result = subprocess.run(
            [sys.executable, "-m", "bot", "init-tracker"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    if result.returncode != 0:
        raise RuntimeError(f"could not create the tracker-store tables (exit {result.returncode}); see {log_path}")


def run(settings: Settings, roles: Iterable[str] = ROLES) -> int:
    """Migrate, start the profile's processes, wait until healthy, and supervise until SIGINT/SIGTERM."""
    roles = [r for r in ROLES if r in set(roles)]
    started = time.monotonic()
    log_dir = settings.log_dir
    log_dir.mkdir(parents=True, exist_ok=True)
    supervisor_log = log_dir / "supervisor.log"

    def say(message: str) -> None:
        line = f"{datetime.now(timezone.utc).isoformat(timespec='seconds')} {message}"
        print(line, flush=True)
        with open(supervisor_log, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")

    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    say(f"profile {settings.profile}: {', '.join(roles)}; logs in {log_dir}")
    env = rasa_environment(settings)
    try:
        if "bot" in roles or "scheduler" in roles or "actions" in roles:
            say("Migrating the CRM database ...")
            migrate_crm(settings)
        if "rasa" in roles:
            prepare_tracker_store(settings, env, log_dir)
    except Exception as exc:  # noqa: BLE001 - say what failed without echoing URLs (they may hold passwords)
        with open(supervisor_log, "a", encoding="utf-8") as handle:
            handle.write(traceback.format_exc())
        say(f"Could not prepare the databases ({type(exc).__name__}); nothing was started. "
            f"Check DATABASE_URL / TRACKER_STORE_URL; the error is in {supervisor_log}.")
        return 1
    if stopping:
        return 0
    children = build_children(settings, log_dir, roles)
    supervisor = Supervisor(settings.profile, children, env, settings.run_dir, log=say)
    try:
        supervisor.start()
        health_url = f"http://127.0.0.1:{settings.ops_port}/health" if "bot" in roles else None
        probes = [health_url] if health_url else [
            *(f"{u}/" for u in settings.local_rasa_urls if "rasa" in roles),
            *(f"{u}/health" for u in settings.local_action_server_urls if "actions" in roles),
        ]
        say("Waiting for Rasa to load the model (about a minute) ...")
        ready = False
        next_probe = 0.0
        while not stopping:
            supervisor.check()
            now = time.monotonic()
            if not ready and now >= next_probe:
                next_probe = now + 1.0
                if all(http_ok(url) for url in probes):
                    ready = True
                    supervisor.write_state("running")
                    say(_ready_banner(settings, health_url, time.monotonic() - started))
                elif now - started > READY_TIMEOUT_S:
                    say(f"The assistant did not become healthy in {READY_TIMEOUT_S} s; stopping. "
                        f"See the logs in {log_dir}.")
                    return 1
            time.sleep(0.2)
        say("Stopping ...")
        return 0
    finally:
        supervisor.stop()
        say("All processes stopped.")


def _ready_banner(settings: Settings, health_url: str | None, elapsed_s: float) -> str:
    lines = [f"Ready in {elapsed_s:.0f} s (profile {settings.profile})."]
    lines.append("  Chat as a guest:   make chat            (or: .venv/bin/python -m bot chat --as anna)")
    if health_url:
        lines.append(f"  Health:            {health_url}")
    for url in settings.local_rasa_urls:
        lines.append(f"  Rasa REST channel: {url}/webhooks/rest/webhook")
    lines.append(f"  Processes:         {settings.run_dir / PROCESSES_FILE}")
    lines.append("Press Ctrl-C to stop everything.")
    return "\n".join(lines)
