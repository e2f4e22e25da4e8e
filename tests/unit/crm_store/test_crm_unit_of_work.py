"""Test the unit of work's transaction boundaries."""

from __future__ import annotations

import pytest

from crm_store.model import Guest
from crm_store.unit_of_work import SqlUnitOfWork


def test_unit_of_work_exception_rolls_back_everything(uow, db) -> None:
    with pytest.raises(RuntimeError):
        with uow:
            uow.guests.add(Guest(first_name="Ann"))
            raise RuntimeError("boom")
    assert db.count(Guest) == 0


def test_unit_of_work_exit_without_commit_rolls_back(uow, db) -> None:
    with uow:
        uow.guests.add(Guest(first_name="Ann"))
    assert db.count(Guest) == 0


def test_unit_of_work_commit_persists(uow, db) -> None:
    with uow:
        uow.guests.add(Guest(first_name="Ann"))
        uow.commit()
    assert db.count(Guest) == 1


def test_unit_of_work_exception_after_commit_keeps_committed_rows(uow, db) -> None:
    with pytest.raises(RuntimeError):
        with uow:
            uow.guests.add(Guest(first_name="Ann"))
            uow.commit()
            uow.guests.add(Guest(first_name="Bob"))
            raise RuntimeError("boom")
    assert [g.first_name for g in db.all(Guest)] == ["Ann"]


def test_unit_of_work_sequential_reuse_opens_fresh_session(uow, db) -> None:
    with uow:
        first = uow.session
        uow.guests.add(Guest())
        uow.commit()
    with uow:
        assert uow.session is not first
        uow.guests.add(Guest())
        uow.commit()
    assert db.count(Guest) == 2


def test_unit_of_work_nested_enter_raises(uow) -> None:
    with uow:
        with pytest.raises(RuntimeError):
            uow.__enter__()


def test_unit_of_work_session_outside_with_raises(session_factory) -> None:
    with pytest.raises(RuntimeError):
        SqlUnitOfWork(session_factory).session


def test_unit_of_work_committed_objects_readable_after_exit(uow) -> None:
    with uow:
        guest = uow.guests.add(Guest(first_name="Ann"))
        uow.commit()
    assert guest.first_name == "Ann"
