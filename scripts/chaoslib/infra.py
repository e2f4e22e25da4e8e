"""Run a private PostgreSQL cluster and a private Redis on free ports, so faults never touch shared services."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_USER = "postgres"


def free_port() -> int:
    """Return a TCP port that is free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_free(port: int) -> bool:
    """Tell whether nothing listens on ``port`` on loopback (and we may bind it)."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_run(count: int, attempts: int = 200) -> int:
    """Return the first of ``count`` consecutive free ports (replica i listens on base + i - 1)."""
    for _ in range(attempts):
        base = free_port()
        if base + count - 1 < 65535 and all(port_is_free(base + i) for i in range(count)):
            return base
    raise RuntimeError(f"no run of {count} free ports found")


def wait_port(port: int, timeout_s: float) -> bool:
    """Wait until something accepts TCP connections on 127.0.0.1:``port``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            time.sleep(0.2)
    return False


def _as_postgres(argv: list[str]) -> list[str]:
    """Run a command as the postgres user (initdb and the server refuse to run as root)."""
    if os.geteuid() == 0:
        return ["runuser", "-u", PG_USER, "--", *argv]
    return argv


@dataclass
class PrivatePostgres:
    """Own a throw-away PostgreSQL 15 cluster in a temp dir, listening on 127.0.0.1:``port`` with trust auth."""

    port: int = field(default_factory=free_port)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="chaos-pg-")))

    @property
    def data(self) -> Path:
        """Return the cluster's data directory."""
        return self.root / "data"

    @property
    def log_path(self) -> Path:
        """Return the server log."""
        return self.root / "postgres.log"

    def url(self, database: str) -> str:
        """Return the SQLAlchemy URL of ``database`` in this cluster."""
        return f"postgresql://{PG_USER}@127.0.0.1:{self.port}/{database}"

    def init(self) -> None:
        """Create the cluster (initdb) owned by the postgres user."""
        if os.geteuid() == 0:
            pw = pwd.getpwnam(PG_USER)
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
        subprocess.run(
            _as_postgres([str(PG_BIN / "initdb"), "-D", str(self.data), "-U", PG_USER, "-A", "trust",
                          "-E", "UTF8", "--no-sync", "--locale=C.UTF-8"]),
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        with open(self.data / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write(
                f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.root}'\n"
                "max_connections = 300\nshared_buffers = 64MB\nfsync = off\nfull_page_writes = off\n"
                "log_min_messages = warning\n"
            )

    def start(self, timeout_s: float = 60) -> None:
        """Start the server and wait until it accepts connections."""
        subprocess.run(
            _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log_path), "-w",
                          "-t", str(int(timeout_s)), "start"]),
            check=True, stdout=subprocess.DEVNULL,
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: roll back open transactions and close every session)."""
        subprocess.run(
            _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"]),
            check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    def running(self) -> bool:
        """Tell whether the server is up."""
        result = subprocess.run(
            _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "status"]),
            check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        return result.returncode == 0

    def create_database(self, name: str) -> None:
        """Create a database (as the superuser, over TCP)."""
        from sqlalchemy import create_engine, text

        engine = create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT", future=True)
        try:
            with engine.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            engine.dispose()

    def destroy(self) -> None:
        """Stop the server and delete the cluster."""
        if self.data.exists():
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class PrivateRedis:
    """Own a throw-away redis-server on 127.0.0.1:``port`` (no persistence)."""

    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Return the redis:// URL."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout_s: float = 20) -> None:
        """Start redis-server in the foreground as our child and wait for its port."""
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--daemonize", "no", "--protected-mode", "yes", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        if not wait_port(self.port, timeout_s):
            raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        """Stop our redis-server."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
