"""Build the action server's dependencies once, lazily, and let tests replace them."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable

from crm_store.clock import Clock, SystemClock
from crm_store.db import make_engine, make_session_factory
from crm_store.policy import SlaPolicy
from crm_store.recovery_policy import load_policy_for
from crm_store.settings import Settings, load_settings
from crm_store.unit_of_work import SqlUnitOfWork


@dataclass
class Deps:
    """Hold what actions need: settings, a unit-of-work factory, the clock and the policy.

    ``policy`` is the RecoveryPolicy from POLICY_FILE in production; tests may pass a plain SlaPolicy.
    """

    settings: Settings
    uow: Callable[[], SqlUnitOfWork]
    clock: Clock
    policy: SlaPolicy


_lock = threading.Lock()
_deps: Deps | None = None


def build_deps(settings: Settings | None = None, clock: Clock | None = None) -> Deps:
    """Build dependencies from settings (the environment by default)."""
    settings = settings or load_settings()
    session_factory = make_session_factory(make_engine(settings.database_url))
    return Deps(
        settings=settings,
        uow=lambda: SqlUnitOfWork(session_factory),
        clock=clock or SystemClock(),
        policy=load_policy_for(settings),
    )


def get_deps() -> Deps:
    """Return the process-wide dependencies, building them on first use."""
    global _deps
    if _deps is None:
        with _lock:
            if _deps is None:
                _deps = build_deps()
    return _deps


def set_deps(deps: Deps | None) -> None:
    """Replace the process-wide dependencies (tests), or reset them with None."""
    global _deps
    with _lock:
        _deps = deps
