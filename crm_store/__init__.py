"""Store guests, stays, preferences, complaints, surveys and follow-ups for the hotel assistant."""

from __future__ import annotations

from crm_store.clock import Clock, FixedClock, SystemClock
from crm_store.db import make_engine, make_session_factory, migrate
from crm_store.errors import CrmError, NotFound, ValidationError
from crm_store.policy import SlaPolicy
from crm_store.settings import Settings, SettingsError, load_settings
from crm_store.unit_of_work import SqlUnitOfWork

__all__ = [
    "Clock",
    "CrmError",
    "FixedClock",
    "NotFound",
    "Settings",
    "SettingsError",
    "SlaPolicy",
    "SqlUnitOfWork",
    "SystemClock",
    "ValidationError",
    "load_settings",
    "make_engine",
    "make_session_factory",
    "migrate",
]
