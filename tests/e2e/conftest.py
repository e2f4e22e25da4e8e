"""Start the real action server, Rasa server and bot process once per test session."""

from __future__ import annotations

import os
import socket
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from bot.supervisor import REPO, Child, build_children, rasa_environment, start_all, stop_all, wait_ready
from crm_store.db import make_engine, migrate
from crm_store.settings import Settings, load_settings

READY_TIMEOUT_S = 240


def free_port() -> int:
    """Return a TCP port that is free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the tests that stop part of the shared stack last, so the others find it whole."""
    items.sort(key=lambda item: item.name.startswith("test_health_turns_red"))


@dataclass
class Stack:
    """The running processes, their settings and a handle on the CRM database."""

    settings: Settings
    env: dict[str, str]
    children: list[Child]
    crm: Engine
    log_dir: Path

    @property
    def health_url(self) -> str:
        """Return the ops health URL."""
        return f"http://127.0.0.1:{self.settings.ops_port}/health"


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory):
    """Run the whole embedded profile on free ports with fresh databases; stop it at the end."""
    if not (REPO / "models" / "hotel.tar.gz").exists():
        pytest.fail("no trained model: run `make train` (make test does it for you)")
    work = tmp_path_factory.mktemp("stack")
    env_vars = {
        "DATABASE_URL": f"sqlite:///{work}/crm.db",
        "TRACKER_STORE_URL": f"sqlite:///{work}/tracker.db",
        "RASA_URL": f"http://127.0.0.1:{free_port()}",
        "ACTION_SERVER_URL": f"http://127.0.0.1:{free_port()}",
        "OPS_PORT": str(free_port()),
        "RASA_TOKEN": "e2e-secret-token",
        "REVIEW_LINK": "https://reviews.example/hotel",
        "POLICY_FILE": str(REPO / "examples" / "policy-fast.yml"),
        "QUIET_HOURS": "",
        "PMS_WEBHOOK_SECRET": "e2e-pms-secret",
    }
    settings = load_settings(env_vars)
    migrate(settings.database_url)
    base = {k: v for k, v in os.environ.items() if k not in env_vars}
    base.update(env_vars)
    env = rasa_environment(settings, base)
    log_dir = work / "logs"
    children = build_children(settings, log_dir)
    started = time.monotonic()
    start_all(children, env, announce=False)
    try:
        if not wait_ready(f"http://127.0.0.1:{settings.ops_port}/health", children, READY_TIMEOUT_S):
            logs = "\n".join(
                f"--- {c.name}\n{c.log_path.read_text(errors='replace')[-3000:]}" for c in children
                if c.log_path.exists()
            )
            pytest.fail(f"the stack did not become healthy in {READY_TIMEOUT_S} s\n{logs}")
        print(f"\nstack ready in {time.monotonic() - started:.1f} s")
        crm = make_engine(settings.database_url)
        yield Stack(settings, env, children, crm, log_dir)
        crm.dispose()
    finally:
        stop_all(children)


def http_get(url: str) -> int:
    """Return the HTTP status of a GET."""
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
