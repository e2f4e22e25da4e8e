"""Start and stop what the benchmark measures: our stack (`python -m bot run`), the bare Rasa bot, a bot process."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from scripts.benchlib.rss import RssSampler, descendants

REPO = Path(__file__).resolve().parents[2]
STOP_GRACE_S = 40.0

# Settings a developer's .env might hold that must not leak into a benchmark stack.
NEUTRALISED = ("STAFF_CHAT_ID", "STAFF_USER_IDS", "TELEGRAM_WEBHOOK_URL", "TELEGRAM_WEBHOOK_SECRET", "QUIET_HOURS",
               "REDIS_URL")


def free_port() -> int:
    """Return a TCP port that is free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def free_port_block(count: int, attempts: int = 200) -> int:
    """Return the first of ``count`` consecutive free loopback ports (replicas take consecutive ports)."""
    for _ in range(attempts):
        first = free_port()
        if first + count - 1 > 65535:
            continue
        socks = []
        try:
            for port in range(first, first + count):
                sock = socket.socket()
                socks.append(sock)
                sock.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
    raise RuntimeError(f"no block of {count} free ports found")


def http_status(url: str, timeout: float = 3.0) -> int | None:
    """Return the HTTP status of a GET, or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return None


def model_loaded(url: str, token: str = "") -> bool:
    """Tell whether a Rasa server answers /status with a loaded model."""
    query = f"?token={token}" if token else ""
    try:
        with urllib.request.urlopen(f"{url}/status{query}", timeout=3) as resp:
            status = json.loads(resp.read())
            return bool(status.get("model_file") or status.get("model_id"))
    except (urllib.error.URLError, OSError, ValueError):
        return False


def role_of(argv: list[str]) -> str | None:
    """Name a process of our stack from its argv (None for processes that are not ours to count)."""
    joined = " ".join(argv)
    if not argv:
        return None
    if "-m rasa_sdk" in joined:
        return "actions"
    if "-m rasa run" in joined or "rasa run" in joined:
        return "rasa"
    if "-m bot run" in joined:
        return "supervisor"
    if "-m bot serve" in joined:
        return "bot"
    if "-m bot scheduler" in joined:
        return "scheduler"
    if "-m bot init-tracker" in joined:
        return None  # a short-lived step of the start (creates the tracker tables), not a running process
    if "multiprocessing" in joined:
        return "helper"
    return Path(argv[0]).name


@dataclass
class Managed:
    """A process tree this benchmark started, with where it logs."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    started: float
    ready_s: float | None = None
    known: set[int] = field(default_factory=set)

    def alive(self) -> bool:
        """Tell whether the root process is still running."""
        return self.process.poll() is None

    def remember_tree(self) -> None:
        """Record the pids of the tree (so they can be ended by id if the root dies first)."""
        if self.alive():
            self.known.update(descendants(self.process.pid))

    def tail(self, chars: int = 3000) -> str:
        """Return the end of the log."""
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        """SIGTERM the root (the supervisor stops its children), then SIGKILL whatever of the tree is left."""
        self.remember_tree()
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        deadline = time.monotonic() + 10
        for pid in sorted(self.known):
            if pid == self.process.pid:
                continue
            while _exists(pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            if _exists(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


def _exists(pid: int) -> bool:
    """Tell whether ``pid`` still runs (zombies count as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return state[state.rfind(")") + 2:].split()[0] != "Z"


def spawn(name: str, argv: list[str], env: dict[str, str], cwd: Path, log_path: Path) -> Managed:
    """Start ``argv`` in its own session with output to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    return Managed(name, process, log_path, time.monotonic())


async def wait_until(managed: Managed, probe: Callable[[], bool], timeout_s: float) -> bool:
    """Poll ``probe()`` (in a worker thread) every 0.25 s until it is true, the process dies, or time runs out.

    The event loop stays free meanwhile: the Bot API stand-in the gateway talks to runs in it.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not managed.alive():
            return False
        managed.remember_tree()
        if await asyncio.to_thread(probe):
            managed.ready_s = time.monotonic() - managed.started
            return True
        await asyncio.sleep(0.25)
    return False


def base_env(extra: dict[str, str]) -> dict[str, str]:
    """Return this environment without settings that would leak into a benchmark stack, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in extra}
    for key in NEUTRALISED:
        env[key] = ""
    env.update(extra)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    env["RASA_TELEMETRY_ENABLED"] = "false"
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    env["PYTHONWARNINGS"] = "ignore"
    return env


@dataclass
class OurStack:
    """Our whole stack as `python -m bot run` starts it."""

    managed: Managed
    env: dict[str, str]
    rasa_urls: list[str]
    token: str
    ops_url: str

    @property
    def rasa_url(self) -> str:
        """Return the first Rasa replica (all share the tracker store)."""
        return self.rasa_urls[0]


def stack_env(work: Path, *, profile: str, telegram_url: str, telegram_token: str, database_url: str = "",
              tracker_url: str = "", redis_url: str = "") -> dict[str, str]:
    """Return the settings of a stack on free ports with fresh databases (SQLite in ``work`` unless given).

    Logs and run state go to ``work``/var (VAR_DIR). Ports leave room for replicas (consecutive ports).
    """
    token = secrets.token_hex(12)
    env = {
        "PROFILE": profile,
        "VAR_DIR": str(work / "var"),
        "DATABASE_URL": database_url or f"sqlite:///{work}/crm.db",
        "TRACKER_STORE_URL": tracker_url or f"sqlite:///{work}/tracker.db",
        "RASA_URL": f"http://127.0.0.1:{free_port_block(4)}",
        "ACTION_SERVER_URL": f"http://127.0.0.1:{free_port_block(4)}",
        "OPS_PORT": str(free_port()),
        "RASA_TOKEN": token,
        "TELEGRAM_BOT_TOKEN": telegram_token,
        "TELEGRAM_API_URL": telegram_url,
        "POLICY_FILE": str(REPO / "examples" / "policy-default.yml"),
        "REVIEW_LINK": "https://reviews.example/hotel",
        "HOTEL_TIMEZONE": "UTC",
    }
    if redis_url:
        env["REDIS_URL"] = redis_url
        env["REDIS_KEY_PREFIX"] = f"bench{secrets.token_hex(4)}"
    return env


def rasa_urls(env_vars: dict[str, str]) -> list[str]:
    """Return the Rasa replicas of a stack's settings (one in the embedded profile)."""
    from crm_store.settings import load_settings

    settings = load_settings(env_vars)
    return list(getattr(settings, "local_rasa_urls", None) or [settings.rasa_url])


async def start_our_stack(work: Path, env_vars: dict[str, str], sampler: RssSampler,
                          timeout_s: float = 420) -> OurStack:
    """Run `python -m bot run` (it migrates, then starts every process) and wait for /health 200."""
    env = base_env(env_vars)
    managed = spawn("stack", [sys.executable, "-m", "bot", "run"], env, REPO, work / "supervisor.log")
    sampler.add_root(managed.process.pid)
    ops = f"http://127.0.0.1:{env_vars['OPS_PORT']}"
    if not await wait_until(managed, lambda: http_status(f"{ops}/health") == 200, timeout_s):
        tail = managed.tail()
        managed.stop()
        raise RuntimeError(f"our stack did not become healthy in {timeout_s:.0f} s; supervisor output:\n{tail}\n"
                           f"(children log to {env_vars['VAR_DIR']}/log)")
    return OurStack(managed, env, rasa_urls(env_vars), env_vars["RASA_TOKEN"], ops)


async def generate_bare_bot(directory: Path, log_path: Path) -> float:
    """Generate (and train) the `rasa init` sample bot in ``directory``; return the seconds it took."""
    directory.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    env = base_env({})
    with open(log_path, "ab") as log:
        argv = [sys.executable, "-m", "rasa", "init", "--no-prompt", "--init-dir", str(directory)]
        result = await asyncio.to_thread(subprocess.run, argv, cwd=directory, env=env, stdout=log,
                                         stderr=subprocess.STDOUT)
    if result.returncode != 0 or not list((directory / "models").glob("*.tar.gz")):
        raise RuntimeError(f"`rasa init` failed (exit {result.returncode}); see {log_path}")
    return time.monotonic() - started


async def start_bare_bot(directory: Path, log_path: Path, sampler: RssSampler,
                         timeout_s: float = 300) -> tuple[Managed, str]:
    """Run `rasa run --enable-api` on the sample bot on a free port; wait until its model is loaded."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "rasa", "run", "--enable-api", "--model", str(directory / "models"),
            "--interface", "127.0.0.1", "--port", str(port)]
    managed = spawn("bare", argv, base_env({}), directory, log_path)
    sampler.add_root(managed.process.pid)

    if not await wait_until(managed, lambda: model_loaded(url), timeout_s):
        tail = managed.tail()
        managed.stop()
        raise RuntimeError(f"the bare Rasa bot did not load its model in {timeout_s:.0f} s:\n{tail}")
    return managed, url


async def start_bot_process(work: Path, env_vars: dict[str, str], timeout_s: float,
                            ready: Callable[[], bool]) -> Managed:
    """Run `python -m bot serve` alone (the outbound test needs no Rasa); wait for ``ready()``."""
    env = base_env(env_vars)
    managed = spawn("bot", [sys.executable, "-m", "bot", "serve"], env, REPO, work / "bot-outbound.log")
    if not await wait_until(managed, ready, timeout_s):
        tail = managed.tail()
        managed.stop()
        raise RuntimeError(f"the bot process did not start its gateway in {timeout_s:.0f} s:\n{tail}")
    return managed
