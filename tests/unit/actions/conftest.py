"""Give action tests a real, migrated SQLite CRM, a fixed clock and tracker helpers."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.deps import Deps, set_deps
from crm_store.clock import FixedClock
from crm_store.db import make_engine, make_session_factory, migrate
from crm_store.policy import SlaPolicy
from crm_store.settings import load_settings
from crm_store.unit_of_work import SqlUnitOfWork

DOMAIN: dict[str, Any] = {"responses": {}}


@pytest.fixture()
def crm(tmp_path: Path):
    """Install dependencies backed by a fresh migrated SQLite database; yield (deps, engine)."""
    url = f"sqlite:///{tmp_path}/crm.db"
    migrate(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    settings = load_settings({"DATABASE_URL": url, "REVIEW_LINK": "https://reviews.example/hotel"})
    deps = Deps(
        settings=settings,
        uow=lambda: SqlUnitOfWork(factory),
        clock=FixedClock(datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)),
        policy=SlaPolicy(),
    )
    set_deps(deps)
    yield deps, engine
    set_deps(None)
    engine.dispose()


def make_tracker(
    sender_id: str = "cli:anna",
    text: str = "",
    intent: str = "greet",
    entities: list[dict[str, Any]] | None = None,
    slots: dict[str, Any] | None = None,
    events: list[dict[str, Any]] | None = None,
    active_loop: str | None = None,
) -> Tracker:
    """Build a tracker whose latest message is `text` with the given intent and entities."""
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.97},
        "entities": entities or [],
    }
    return Tracker(
        sender_id=sender_id,
        slots=slots or {},
        latest_message=latest,
        events=events or [],
        paused=False,
        followup_action=None,
        active_loop={"name": active_loop} if active_loop else {},
        latest_action_name="action_listen",
    )


def responses(dispatcher: CollectingDispatcher) -> list[str]:
    """Return the response names the action dispatched, in order."""
    return [m.get("response") for m in dispatcher.messages]


def message(dispatcher: CollectingDispatcher, response: str) -> dict[str, Any]:
    """Return the first dispatched message with the given response name."""
    for m in dispatcher.messages:
        if m.get("response") == response:
            return m
    raise AssertionError(f"{response} was not dispatched; got {responses(dispatcher)}")
