"""Create and drop uniquely named PostgreSQL databases for a benchmark run (localhost, user postgres)."""

from __future__ import annotations

import os
import secrets

PG_ADMIN = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")


def _admin_engine():  # type: ignore[no-untyped-def]
    from sqlalchemy import create_engine

    return create_engine(PG_ADMIN, future=True, isolation_level="AUTOCOMMIT", pool_pre_ping=True)


def available() -> bool:
    """Tell whether the PostgreSQL server answers."""
    try:
        from sqlalchemy import text

        engine = _admin_engine()
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:  # noqa: BLE001 - any failure means "not reachable"
        return False


def create(prefix: str) -> tuple[str, str]:
    """Create a fresh database and return (name, SQLAlchemy URL)."""
    from sqlalchemy import text

    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
    engine = _admin_engine()
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    base = PG_ADMIN.rsplit("/", 1)[0].replace("+psycopg2", "")
    return name, f"{base}/{name}"


def drop(name: str) -> None:
    """Drop a database this run created (ending its leftover sessions first)."""
    from sqlalchemy import text

    engine = _admin_engine()
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n "
                          "AND pid <> pg_backend_pid()"), {"n": name})
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    engine.dispose()
