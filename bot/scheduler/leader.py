"""Make sure only one scheduler dispatches: a PostgreSQL advisory lock, or a file lock for SQLite.

A stand-by keeps trying and takes over when the active scheduler's session ends (the process died, or
its connection was lost). The lock is belt and braces: claims are conditional updates and settling is
conditional on the claim, so even two dispatchers without a lock never settle a row twice.

On PostgreSQL a stand-by *waits* for the lock (``pg_advisory_lock`` under a ``lock_timeout``) instead of
polling, so it takes over the moment the server ends the active scheduler's session. The lock lives on
its own connection with TCP keep-alives on both ends (client options and the session's
``tcp_keepalives_*`` settings), so a scheduler whose host vanished loses the lock within seconds rather
than after the kernel's two-hour default. An active scheduler whose session was lost (PostgreSQL
restarted, connection cut) finds out on its next check and steps down; it then competes for the lock
again with a fresh connection.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from pathlib import Path
from typing import IO, Any, Protocol

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)

# pg_try_advisory_lock(bigint) key: a fixed positive 63-bit number reserved for the scheduler.
ADVISORY_LOCK_KEY = 0x2F6A_54B1_93C0_7D11
# Keep-alive probing of the lock's connection: idle seconds, interval, probes (dead peer noticed in ~11 s).
KEEPALIVE = (5, 2, 3)
LOCK_NOT_AVAILABLE = "55P03"  # SQLSTATE of a lock_timeout expiry


class Leadership(Protocol):
    """Decide whether this process may dispatch."""

    exclusive: bool

    def try_acquire(self) -> bool:
        """Try once to become the active dispatcher; return whether we are."""
        ...

    def still_held(self) -> bool:
        """Tell whether we are still the active dispatcher."""
        ...

    def release(self) -> None:
        """Step down."""
        ...


class NoLock:
    """Dispatch without leadership (tests and single-process setups); claims alone keep rows single."""

    exclusive = False

    def try_acquire(self) -> bool:
        """Always succeed."""
        return True

    def still_held(self) -> bool:
        """Always hold."""
        return True

    def release(self) -> None:
        """Do nothing."""


def lock_engine(engine: Engine) -> Engine:
    """Return an engine for the lock's own connection: no pool, keep-alives both ways (psycopg2/libpq)."""
    if engine.dialect.driver != "psycopg2":
        return engine
    idle, interval, count = KEEPALIVE
    options = f"-c tcp_keepalives_idle={idle} -c tcp_keepalives_interval={interval} -c tcp_keepalives_count={count}"
    return create_engine(
        engine.url,
        future=True,
        poolclass=NullPool,
        connect_args={
            "connect_timeout": 5,
            "keepalives": 1,
            "keepalives_idle": idle,
            "keepalives_interval": interval,
            "keepalives_count": count,
            "options": options,
        },
    )


class PostgresAdvisoryLock:
    """Hold a session-level pg advisory lock on a dedicated autocommit connection."""

    exclusive = True

    def __init__(self, engine: Engine, key: int = ADVISORY_LOCK_KEY) -> None:
        """Remember the engine (the lock gets its own connection settings) and the lock key."""
        self._engine = lock_engine(engine)
        self._key = key
        self._conn: Connection | None = None
        self._mutex = threading.RLock()  # the service checks from worker threads; one statement at a time

    def try_acquire(self) -> bool:
        """Call pg_try_advisory_lock on a fresh connection kept open while we lead."""
        return self.acquire_within(0.0)

    def acquire_within(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for the lock (0: just try); keep its connection open while we lead.

        Waiting in PostgreSQL rather than polling means a stand-by gets the lock as soon as the server
        ends the active scheduler's session.
        """
        with self._mutex:
            return self._acquire_within(timeout_s)

    def _acquire_within(self, timeout_s: float) -> bool:
        if self._conn is not None:
            return self.still_held()
        conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            if timeout_s > 0:
                got = self._wait(conn, timeout_s)
            else:
                got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self._key}).scalar())
        except Exception:
            conn.close()
            raise
        if not got:
            conn.close()
            return False
        self._conn = conn
        return True

    def _wait(self, conn: Connection, timeout_s: float) -> bool:
        """Block in pg_advisory_lock for at most ``timeout_s``; tell whether we got the lock."""
        millis = max(1, int(timeout_s * 1000))
        conn.execute(text("SELECT set_config('lock_timeout', :value, false)"), {"value": f"{millis}ms"})
        try:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": self._key})
        except OperationalError as exc:
            if getattr(exc.orig, "pgcode", None) == LOCK_NOT_AVAILABLE:
                return False
            raise
        conn.execute(text("SELECT set_config('lock_timeout', '0', false)"))
        return True

    def still_held(self) -> bool:
        """Check the lock is still granted to our session (False, and the connection dropped, if not)."""
        with self._mutex:
            return self._still_held()

    def _still_held(self) -> bool:
        if self._conn is None:
            return False
        try:
            held = self._conn.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                    "AND pid = pg_backend_pid() AND objsubid = 1 "
                    "AND ((classid::bigint << 32) | objid::bigint) = :key"
                ),
                {"key": self._key},
            ).scalar()
        except Exception:  # noqa: BLE001 - a dead connection means the lock is gone
            self._drop()
            return False
        if not held:
            self._drop()  # the next attempt starts from a fresh session
            return False
        return True

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.invalidate()
            except Exception:  # noqa: BLE001
                pass

    def release(self) -> None:
        """Unlock and close the connection."""
        with self._mutex:
            self._release()

    def _release(self) -> None:
        if self._conn is None:
            return
        try:
            self._conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self._key})
            self._conn.close()
        except Exception:  # noqa: BLE001 - closing the session releases the lock anyway
            self._drop()
        self._conn = None


class FileLock:
    """Hold an exclusive flock on ``<database>.scheduler.lock`` (SQLite: one dispatcher per host)."""

    exclusive = True

    def __init__(self, path: Path) -> None:
        """Remember the lock file's path."""
        self._path = path
        self._file: IO[Any] | None = None

    def try_acquire(self) -> bool:
        """Take the lock without waiting."""
        if self._file is not None:
            return True
        self._path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self._path, "a+")  # noqa: SIM115 - kept open while we hold the lock
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle
        return True

    def still_held(self) -> bool:
        """Hold until released (the kernel drops the lock only with the process)."""
        return self._file is not None

    def release(self) -> None:
        """Unlock and close the file."""
        if self._file is not None:
            try:
                fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            finally:
                self._file.close()
                self._file = None


def leadership_for(database_url: str, engine: Engine, mode: str = "auto") -> Leadership:
    """Return the leadership for a database: ``auto`` (advisory lock / file lock) or ``none``."""
    if mode == "none":
        return NoLock()
    if mode != "auto":
        raise ValueError(f"unknown lock mode {mode!r} (expected auto or none)")
    url = make_url(database_url)
    backend = url.get_backend_name()
    if backend == "postgresql":
        return PostgresAdvisoryLock(engine)
    if backend == "sqlite" and url.database and url.database != ":memory:" and not url.database.startswith("file:"):
        return FileLock(Path(url.database).expanduser().resolve().with_name(Path(url.database).name + ".scheduler.lock"))
    log.warning("no leadership lock for the %s backend: run exactly one scheduler", backend)
    return NoLock()
