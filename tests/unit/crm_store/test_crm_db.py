"""Test engines, migrations and the aware-UTC column type on SQLite."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import sessionmaker

from crm_store.db import make_engine, migrate
from crm_store.model import FollowUp, Guest, metadata

EXPECTED_TABLES = {
    "guest",
    "channel_identity",
    "stay",
    "preference",
    "complaint",
    "complaint_event",
    "complaint_attachment",
    "survey_invitation",
    "survey_response",
    "follow_up",
    "staff_member",
    "consent_record",
    "outbound_message",
    "processed_update",
    "human_handoff",
}


def test_make_engine_sqlite_file_creates_folder_and_sets_pragmas(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/deep/er/hotel.db")
    try:
        with engine.connect() as connection:
            pragma = connection.exec_driver_sql
            assert pragma("PRAGMA journal_mode").scalar() == "wal"
            assert pragma("PRAGMA foreign_keys").scalar() == 1
            assert pragma("PRAGMA busy_timeout").scalar() == 10_000
        assert (tmp_path / "deep" / "er").is_dir()
    finally:
        engine.dispose()


def test_migrate_twice_creates_all_tables_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/hotel.db"
    migrate(url)
    migrate(url)
    engine = make_engine(url)
    try:
        tables = set(inspect(engine).get_table_names())
        assert EXPECTED_TABLES <= tables
        assert "alembic_version" in tables
    finally:
        engine.dispose()


def test_migration_head_matches_model_no_drift(engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []


def test_utc_datetime_non_utc_input_round_trips_aware_utc(session_factory: sessionmaker) -> None:
    local = datetime(2026, 6, 1, 14, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    with session_factory() as session:
        session.add(
            FollowUp(kind="k", subject="s", due_at=local, idempotency_key="key-1", status="pending")
        )
        session.commit()
    with session_factory() as session:
        due = session.execute(select(FollowUp.due_at)).scalar_one()
        found = session.execute(
            select(FollowUp.id).where(FollowUp.due_at <= datetime(2026, 6, 1, 12, 30, tzinfo=timezone.utc))
        ).all()
    assert due == datetime(2026, 6, 1, 12, 30, tzinfo=timezone.utc)
    assert due.utcoffset() == timedelta(0)
    assert len(found) == 1


def test_utc_datetime_naive_input_raises(session_factory: sessionmaker) -> None:
    with session_factory() as session:
        session.add(FollowUp(kind="k", subject="s", due_at=datetime(2026, 1, 1), idempotency_key="n"))
        with pytest.raises(StatementError):
            session.commit()


def test_foreign_keys_enforced_on_sqlite_insert_orphan_raises(session_factory: sessionmaker) -> None:
    from crm_store.model import ChannelIdentity

    with session_factory() as session:
        session.add(
            ChannelIdentity(
                channel="tg", external_id="x", guest_id=999, linked_at=datetime.now(timezone.utc)
            )
        )
        with pytest.raises(IntegrityError):
            session.commit()


def test_audit_columns_default_aware(session_factory: sessionmaker) -> None:
    with session_factory() as session:
        guest = Guest()
        session.add(guest)
        session.commit()
        guest_id = guest.id
    with session_factory() as session:
        stored = session.get(Guest, guest_id)
        assert stored.created_at.tzinfo is not None
        assert stored.verified is False
