"""Fixtures of the fuzz tests (a throwaway migrated PostgreSQL database) and the end-of-session summary."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from crm_store.db import migrate
from tests.fuzz.harness import RUNS

ADMIN_URL = os.environ.get("CRM_TEST_PG_URL", "postgresql+psycopg2://postgres@localhost:5432/test")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """Create a uniquely named, migrated PostgreSQL database, yield its URL, and drop it afterwards."""
    admin = create_engine(ADMIN_URL, future=True, isolation_level="AUTOCOMMIT")
    name = f"fuzz_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
            # A throwaway database: do not wait for the disk on every commit (thousands of them here).
            connection.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    except OperationalError as error:
        admin.dispose()
        pytest.skip(f"PostgreSQL unreachable at {make_url(ADMIN_URL).render_as_string(hide_password=True)}: {error.orig}")
    url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        migrate(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Report the number of generated inputs per fuzz target (also when pytest runs quietly)."""
    if not RUNS:
        return
    terminalreporter.section("fuzz inputs")
    for target, counts in RUNS.items():
        terminalreporter.write_line(f"{target}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
