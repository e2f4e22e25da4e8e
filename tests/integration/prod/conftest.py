"""Real pieces for the production-profile tests: throwaway PostgreSQL databases, a Redis key prefix, and
little HTTP servers that answer like Rasa replicas (and can be stopped, hang, or fail with 5xx)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

REPO = Path(__file__).resolve().parents[3]
PG_ADMIN_URL = os.environ.get("CRM_TEST_PG_URL", "postgresql+psycopg2://postgres@localhost:5432/postgres")
REDIS_URL = os.environ.get("PROD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def free_port() -> int:
    """Return a TCP port that is free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def free_port_block(count: int, attempts: int = 50) -> int:
    """Return a port P such that P .. P+count-1 are all free on loopback right now (replicas use consecutive ports)."""
    for _ in range(attempts):
        base = free_port()
        if base + count > 65535:
            continue
        socks = []
        try:
            for port in range(base, base + count):
                sock = socket.socket()
                sock.bind(("127.0.0.1", port))
                socks.append(sock)
            return base
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
    raise RuntimeError(f"no block of {count} free ports")


class PgDatabases:
    """Create uniquely named PostgreSQL databases and drop them (WITH FORCE) at the end."""

    def __init__(self) -> None:
        self.admin = create_engine(PG_ADMIN_URL, future=True, isolation_level="AUTOCOMMIT")
        self.names: list[str] = []

    def create(self, label: str) -> str:
        """Create a database and return its URL."""
        name = f"prod_{label}_{uuid.uuid4().hex[:10]}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        self.names.append(name)
        return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)

    def terminate_sessions(self, url: str) -> int:
        """End every session connected to the database of ``url`` (what a PostgreSQL restart does to them)."""
        name = make_url(url).database
        with self.admin.connect() as conn:
            pids = [r[0] for r in conn.execute(text(
                "SELECT pid FROM pg_stat_activity WHERE datname = :name AND pid <> pg_backend_pid()"),
                {"name": name}).all()]
            for pid in pids:
                conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            # pg_terminate_backend only signals: wait until those backends are gone (and their locks with them),
            # or a lock holder that is still exiting would be counted as the new leader.
            deadline = time.monotonic() + 10
            while pids and time.monotonic() < deadline:
                alive = conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:pids)"),
                                     {"pids": pids}).scalar_one()
                if not alive:
                    break
                time.sleep(0.05)
        return len(pids)

    def advisory_holders(self, url: str, key: int) -> list[int]:
        """Return the backend pids holding advisory lock ``key`` in the database of ``url``."""
        name = make_url(url).database
        with self.admin.connect() as conn:
            return [r[0] for r in conn.execute(text(
                "SELECT l.pid FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
                "WHERE l.locktype = 'advisory' AND l.granted AND d.datname = :name "
                "AND ((l.classid::bigint << 32) | l.objid::bigint) = :key"), {"name": name, "key": key}).all()]

    def drop_all(self) -> None:
        """Drop every database this object created."""
        with self.admin.connect() as conn:
            for name in self.names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


@pytest.fixture
def pg() -> Iterator[PgDatabases]:
    """Yield a factory of throwaway PostgreSQL databases; skip when PostgreSQL is unreachable."""
    databases = PgDatabases()
    try:
        with databases.admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as error:
        databases.admin.dispose()
        pytest.skip(f"PostgreSQL unreachable: {error.orig}")
    try:
        yield databases
    finally:
        databases.drop_all()


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """Yield a unique Redis key prefix (letters and digits) and delete its keys afterwards."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=3)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.skip(f"Redis unreachable: {type(error).__name__}")
    prefix = f"t{uuid.uuid4().hex[:12]}"
    try:
        yield prefix
    finally:
        for key in client.scan_iter(f"{prefix}:*"):
            client.delete(key)
        client.close()


@dataclass
class ReplicaServer:
    """Answer like one Rasa replica (REST channel, trigger_intent, /, /status); ``mode`` breaks it on purpose.

    Modes: ``ok``; ``error`` (HTTP 503 on POST); ``hang`` (POSTs never answer); ``unauthorized`` (HTTP 401).
    Stopping it makes connections fail (refused) until ``start`` again on the same port.
    """

    name: str
    mode: str = "ok"
    received: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """Return the base URL."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self, port: int = 0) -> str:
        """Listen on 127.0.0.1 (on ``port``, or the previous port, or a free one)."""
        app = web.Application()
        app.router.add_post("/webhooks/rest/webhook", self._webhook)
        app.router.add_post("/conversations/{sender}/trigger_intent", self._trigger)
        app.router.add_get("/", self._root)
        app.router.add_get("/status", self._status)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port or self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self.url

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def senders(self) -> set[str]:
        """Return the senders this replica answered."""
        return {sender for sender, _ in self.received}

    async def _broken(self) -> web.Response | None:
        if self.mode == "error":
            return web.json_response({"error": "boom"}, status=503)
        if self.mode == "unauthorized":
            return web.json_response({"error": "no"}, status=401)
        if self.mode == "hang":
            await asyncio.sleep(3600)
        return None

    async def _webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        broken = await self._broken()
        if broken is not None:
            return broken
        sender, message = str(body["sender"]), str(body["message"])
        self.received.append((sender, message))
        return web.json_response([{"recipient_id": sender, "text": f"{self.name}: {message}"}])

    async def _trigger(self, request: web.Request) -> web.Response:
        body = await request.json()
        broken = await self._broken()
        if broken is not None:
            return broken
        sender = request.match_info["sender"]
        self.received.append((sender, str(body["name"])))
        return web.json_response({"tracker": {}, "messages": [{"recipient_id": sender, "text": self.name}]})

    async def _root(self, request: web.Request) -> web.Response:
        return web.Response(text="Hello from Rasa: 3.6.21")

    async def _status(self, request: web.Request) -> web.Response:
        return web.json_response({"model_file": "hotel.tar.gz", "model_id": self.name})


@pytest.fixture
async def replicas() -> Any:
    """Start three replica servers; stop them at the end."""
    servers = [ReplicaServer(f"r{i}") for i in (1, 2, 3)]
    for server in servers:
        await server.start()
    try:
        yield servers
    finally:
        for server in servers:
            await server.stop()


def base_env(**values: str) -> dict[str, str]:
    """Return this environment with ``values``, and without settings a developer's .env or shell might add."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "STAFF_"))}
    for key in ("PROFILE", "RASA_URLS", "RASA_REPLICAS", "ACTION_SERVER_REPLICAS", "SCHEDULER_STANDBY",
                "REDIS_KEY_PREFIX", "VAR_DIR", "QUIET_HOURS", "REVIEW_LINK"):
        env[key] = ""
    env.update({"PYTHONPATH": str(REPO), "SQLALCHEMY_SILENCE_UBER_WARNING": "1", "HOTEL_TIMEZONE": "UTC",
                "RASA_TELEMETRY_ENABLED": "false"})
    env.update(values)
    return env


class Proc:
    """A child process in its own session, logging to a file; stopped (by its id) at the end."""

    def __init__(self, argv: list[str], env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(argv, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)

    @property
    def pid(self) -> int:
        """Return the process id."""
        return self.process.pid

    def alive(self) -> bool:
        """Tell whether it still runs."""
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL it (no clean-up) and reap it."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self, timeout: float = 40) -> int | None:
        """SIGTERM it, wait, SIGKILL if it does not stop."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def log(self) -> str:
        """Return the whole log."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, logs: Callable[[], str] = lambda: "") -> float:
    """Poll until ``predicate()``; return the seconds it took, or fail with ``logs()``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout} s waiting for {what}\n{logs()[-6000:]}")


def read_processes(path: Path) -> dict[str, Any]:
    """Read processes.json (written atomically: never partial)."""
    return json.loads(path.read_text())


def count_lines(pattern: str, text_: str) -> int:
    """Count the lines of ``text_`` matching ``pattern``."""
    return len(re.findall(pattern, text_))


PY = sys.executable
