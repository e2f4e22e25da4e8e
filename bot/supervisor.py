"""Start the action server, the Rasa server and the bot process; stop them all cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from crm_store.db import migrate
from crm_store.settings import Settings

REPO = Path(__file__).resolve().parent.parent
READY_TIMEOUT_S = 300
STOP_GRACE_S = 15


@dataclass
class Child:
    """One supervised process and its log file."""

    name: str
    argv: list[str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None)


def latest_model(models_dir: Path) -> Path:
    """Return the newest trained model archive, or exit with a clear message."""
    archives = sorted(models_dir.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not archives:
        sys.exit(f"No trained model in {models_dir}. Run `make train` first.")
    return archives[-1]


def rasa_environment(settings: Settings, base: dict[str, str] | None = None) -> dict[str, str]:
    """Return the environment the Rasa, action and bot processes share."""
    env = dict(os.environ if base is None else base)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["ACTION_ENDPOINT_URL"] = f"{settings.action_server_url.rstrip('/')}/webhook"
    env["TRACKER_STORE_URL"] = settings.tracker_store_url
    env["TRACKER_DB_DIALECT"] = settings.tracker_store_url.split(":", 1)[0].split("+", 1)[0]
    env.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    # Never send telemetry or crash reports (they can carry guest text) to third parties.
    env["RASA_TELEMETRY_ENABLED"] = "false"
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def port_of(url: str, default: int) -> str:
    """Return the port in a URL, or the default."""
    from urllib.parse import urlsplit

    return str(urlsplit(url).port or default)


def build_children(settings: Settings, log_dir: Path) -> list[Child]:
    """Describe the four processes of the embedded profile."""
    py = sys.executable
    model = latest_model(REPO / "models")
    rasa_argv = [
        py, "-m", "rasa", "run", "--enable-api", "--model", str(model),
        "--endpoints", str(REPO / "endpoints.yml"), "--credentials", str(REPO / "credentials.yml"),
        "--interface", "127.0.0.1", "--port", port_of(settings.rasa_url, 5005),
    ]
    if settings.rasa_token:
        rasa_argv += ["--auth-token", settings.rasa_token]
    return [
        Child(
            "actions",
            [py, "-m", "rasa_sdk", "--actions", "actions", "--port", port_of(settings.action_server_url, 5055)],
            log_dir / "actions.log",
        ),
        Child("rasa", rasa_argv, log_dir / "rasa.log"),
        Child("bot", [py, "-m", "bot", "serve"], log_dir / "bot.log"),
        Child("scheduler", [py, "-m", "bot", "scheduler"], log_dir / "scheduler.log"),
    ]


def start_all(children: list[Child], env: dict[str, str], announce: bool = True) -> None:
    """Start every child in its own session (so Ctrl-C reaches only the supervisor), logging to files."""
    for child in children:
        if announce:
            print(f"Starting {child.name:8s} (log: {child.log_path})")
        child.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(child.log_path, "ab") as log:
            child.process = subprocess.Popen(
                child.argv, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )


def wait_ready(url: str, children: list[Child], timeout_s: float) -> bool:
    """Poll the health endpoint until it answers 200, a child dies, or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for child in children:
            if child.process is not None and child.process.poll() is not None:
                print(f"  {child.name} exited early (code {child.process.returncode}); see {child.log_path}")
                return False
        try:
            with urllib.request.urlopen(url, timeout=3) as resp:
                if resp.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(1)
    return False


def stop_all(children: list[Child]) -> None:
    """Send SIGTERM to every child, then SIGKILL to those still alive after a grace period."""
    for child in reversed(children):
        if child.process is not None and child.process.poll() is None:
            os.killpg(child.process.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    for child in children:
        if child.process is None:
            continue
        try:
            child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(child.process.pid, signal.SIGKILL)
            child.process.wait()


def run(settings: Settings) -> int:
    """Migrate, start everything, wait until healthy, and supervise until Ctrl-C."""
    started = time.monotonic()
    print("Migrating the CRM database ...")
    migrate(settings.database_url)
    log_dir = REPO / "var" / "log"
    log_dir.mkdir(parents=True, exist_ok=True)
    children = build_children(settings, log_dir)
    env = rasa_environment(settings)

    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        start_all(children, env)
        health_url = f"http://127.0.0.1:{settings.ops_port}/health"
        print("Waiting for Rasa to load the model (about a minute) ...")
        if not wait_ready(health_url, children, READY_TIMEOUT_S):
            print("The assistant did not become healthy; stopping.")
            return 1
        print(
            f"\nReady in {time.monotonic() - started:.0f} s.\n"
            f"  Chat as a guest:   make chat            (or: .venv/bin/python -m bot chat --as anna)\n"
            f"  Health:            {health_url}\n"
            f"  Rasa REST channel: {settings.rasa_url}/webhooks/rest/webhook\n"
            "Press Ctrl-C to stop everything.\n"
        )
        while not stopping:
            for child in children:
                if child.process is not None and child.process.poll() is not None:
                    print(f"{child.name} stopped unexpectedly (code {child.process.returncode}); "
                          f"see {child.log_path}. Stopping the rest.")
                    return 1
            time.sleep(0.5)
        print("\nStopping ...")
        return 0
    finally:
        stop_all(children)
        print("All processes stopped.")
