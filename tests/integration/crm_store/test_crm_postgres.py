"""Run the crm_store migration and a complaint round trip on a real PostgreSQL server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import Engine

from crm_store.clock import FixedClock
from crm_store.db import alembic_config, make_engine, make_session_factory, migrate
from crm_store.model import Complaint, ComplaintEvent, FollowUp, metadata
from crm_store.policy import SlaPolicy
from crm_store.services.complaints import get_complaint, open_complaint
from crm_store.services.preferences import list_preferences, record_preference
from crm_store.services.surveys import record_survey
from crm_store.unit_of_work import SqlUnitOfWork


@pytest.fixture(scope="module")
def engine(pg_url: str) -> Iterator[Engine]:
    """Migrate the throwaway database (twice: the second run must be a no-op) and return an engine."""
    migrate(pg_url)
    migrate(pg_url)
    engine = make_engine(pg_url)
    yield engine
    engine.dispose()


def test_migrate_postgres_creates_all_tables_without_drift(engine: Engine) -> None:
    assert {"guest", "complaint", "follow_up", "survey_response", "human_handoff"} <= set(
        inspect(engine).get_table_names()
    )
    with engine.connect() as connection:
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        assert connection.execute(text("select version_num from alembic_version")).scalar_one() == head
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []


def test_open_complaint_postgres_round_trips_aware_datetimes(engine: Engine) -> None:
    clock = FixedClock(datetime(2026, 3, 29, 3, 30, tzinfo=ZoneInfo("Europe/Berlin")))
    uow = SqlUnitOfWork(make_session_factory(engine))
    opened = open_complaint(
        uow, clock, SlaPolicy(), "tg", "pg-1", category="maintenance", severity="high", room="12b",
        description="No hot water",
    )
    found = get_complaint(uow, opened.reference)
    assert found == opened
    assert found.ack_due_at == datetime(2026, 3, 29, 1, 35, tzinfo=timezone.utc)
    assert found.ack_due_at.utcoffset() == timedelta(0)
    with engine.connect() as connection:
        column_type = connection.execute(
            text("select data_type from information_schema.columns where table_name='complaint' and column_name='ack_due_at'")
        ).scalar_one()
        assert column_type == "timestamp with time zone"
    with make_session_factory(engine)() as session:
        complaint = session.execute(select(Complaint).where(Complaint.reference == opened.reference)).scalar_one()
        event = session.execute(select(ComplaintEvent).where(ComplaintEvent.complaint_id == complaint.id)).scalar_one()
        follow_up = session.execute(
            select(FollowUp).where(FollowUp.idempotency_key == f"sla-ack:{opened.reference}")
        ).scalar_one()
    assert complaint.opened_at == clock.now() and complaint.opened_at.tzinfo == timezone.utc
    assert (event.kind, event.actor, event.detail["room"]) == ("opened", "guest", "12B")
    assert follow_up.due_at == found.ack_due_at


def test_record_survey_postgres_detractor_links_recovery_complaint(engine: Engine) -> None:
    clock = FixedClock(datetime(2026, 7, 1, 9, 0, tzinfo=timezone.utc))
    uow = SqlUnitOfWork(make_session_factory(engine))
    result = record_survey(
        uow, clock, SlaPolicy(), "tg", "pg-2", nps=2, service=3, facilities=3, cleanliness=1, value=3,
        comment="Dusty room", topics=["cleanliness"],
    )
    assert result.nps_group == "detractor"
    assert get_complaint(uow, result.recovery_reference).category == "cleanliness"


def test_record_preference_postgres_supersedes_and_dedups(engine: Engine) -> None:
    clock = FixedClock(datetime(2026, 7, 1, 9, 0, tzinfo=timezone.utc))
    uow = SqlUnitOfWork(make_session_factory(engine))
    record_preference(uow, clock, "tg", "pg-3", category="floor", value="high", source_text=None)
    record_preference(uow, clock, "tg", "pg-3", category="floor", value="high", source_text=None)
    replaced = record_preference(uow, clock, "tg", "pg-3", category="floor", value="low", source_text=None)
    assert replaced.replaced_value == "high"
    assert [p.value for p in list_preferences(uow, "tg", "pg-3")] == ["low"]


def test_identify_and_record_preference_postgres_concurrent_callers_stay_consistent(engine: Engine) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from crm_store.model import Guest, Preference, PreferenceStatus
    from sqlalchemy import func

    clock = FixedClock(datetime(2026, 7, 2, 9, 0, tzinfo=timezone.utc))
    factory = make_session_factory(engine)

    def write(i: int) -> None:
        record_preference(SqlUnitOfWork(factory), clock, "tg", "pg-race", category="pillow", value=f"v{i}", source_text=None)

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(write, range(20)))
    with factory() as session:
        guests = session.execute(
            select(func.count()).select_from(Guest).where(
                Guest.id.in_(select(Preference.guest_id).where(Preference.value.like("v%")))
            )
        ).scalar_one()
        active = session.execute(
            select(func.count()).select_from(Preference).where(
                Preference.value.like("v%"), Preference.status == PreferenceStatus.ACTIVE
            )
        ).scalar_one()
    assert (guests, active) == (1, 1)


def test_guest_text_with_nul_and_lone_surrogate_is_journalled_on_postgres(engine: Engine) -> None:
    """PostgreSQL refuses NUL in text; a guest message carrying one (or a lone surrogate) is still kept."""
    from crm_store.model import InboundMessage
    from crm_store.services.messaging import admit_update, keep_inbound

    clock = FixedClock(datetime(2026, 5, 1, 9, 0, tzinfo=timezone.utc))
    uow = SqlUnitOfWork(make_session_factory(engine))
    fresh, journal_id = admit_update(uow, clock, "telegram-nul-test", 990001, channel="telegram",
                                     external_id="990001", text="the tap\x00 drips \ud83d")
    assert fresh and journal_id is not None
    kept = keep_inbound(uow, clock, "telegram", "990002", "no hot water\x00")
    with engine.connect() as connection:
        texts = dict(connection.execute(
            select(InboundMessage.id, InboundMessage.text).where(InboundMessage.id.in_([journal_id, kept.id]))
        ).all())
    assert texts[journal_id] == "the tap drips ?"
    assert texts[kept.id] == "no hot water"
