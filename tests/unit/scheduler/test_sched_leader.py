"""Test leadership: the SQLite file lock is exclusive, and the right lock is chosen per backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.scheduler.leader import FileLock, NoLock, PostgresAdvisoryLock, leadership_for
from crm_store.db import make_engine


def test_file_lock_second_holder_is_refused_until_release(tmp_path: Path):
    first, second = FileLock(tmp_path / "crm.db.scheduler.lock"), FileLock(tmp_path / "crm.db.scheduler.lock")
    assert first.try_acquire() is True and first.still_held()
    assert second.try_acquire() is False
    first.release()
    assert second.try_acquire() is True
    second.release()


def test_no_lock_always_leads_and_is_not_exclusive():
    lock = NoLock()
    assert lock.try_acquire() and lock.still_held() and lock.exclusive is False


def test_leadership_for_picks_lock_by_backend(tmp_path: Path):
    url = f"sqlite:///{tmp_path}/crm.db"
    engine = make_engine(url)
    lock = leadership_for(url, engine)
    assert isinstance(lock, FileLock) and lock.exclusive
    assert isinstance(leadership_for(url, engine, "none"), NoLock)
    assert isinstance(leadership_for("sqlite://", engine), NoLock)
    pg = "postgresql+psycopg2://postgres@localhost:5432/nothing"
    assert isinstance(leadership_for(pg, make_engine(pg)), PostgresAdvisoryLock)
    with pytest.raises(ValueError, match="lock mode"):
        leadership_for(url, engine, "maybe")
    engine.dispose()
