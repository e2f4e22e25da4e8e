"""Test recording, superseding, listing and deleting preferences."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crm_store.errors import ValidationError
from crm_store.model import Guest, Preference, PreferenceStatus
from crm_store.services.preferences import delete_preferences, list_preferences, record_preference


def _record(uow, clock, category: str, value: str, text: str | None = None):
    return record_preference(
        uow, clock, "tg", "7", category=category, value=value, source_text=text, confidence=0.9
    )


def test_record_preference_first_value_stores_active_row(uow, clock, db) -> None:
    info = _record(uow, clock, "pillow", "feather", "  I love feather pillows ")
    assert info.category == "pillow" and info.value == "feather"
    assert info.source_text == "I love feather pillows"
    assert info.captured_at == clock.now()
    assert info.confidence == 0.9
    assert info.replaced_value is None
    rows = db.all(Preference)
    assert [(r.status, r.superseded_by) for r in rows] == [(PreferenceStatus.ACTIVE, None)]


def test_record_preference_same_category_supersedes_previous(uow, clock, db) -> None:
    old = _record(uow, clock, "pillow", "feather")
    clock.advance(timedelta(minutes=1))
    new = _record(uow, clock, "pillow", "foam")
    assert new.replaced_value == "feather"
    rows = {r.id: r for r in db.all(Preference)}
    assert rows[old.id].status == PreferenceStatus.SUPERSEDED
    assert rows[old.id].superseded_by == new.id
    assert rows[new.id].status == PreferenceStatus.ACTIVE
    assert [p.value for p in list_preferences(uow, "tg", "7")] == ["foam"]


@pytest.mark.parametrize("category", ["allergy", "dietary", "interest", "accessibility", "note"])
def test_record_preference_multi_valued_category_values_coexist(uow, clock, db, category) -> None:
    values = {"allergy": ("nuts", "dairy"), "dietary": ("vegan", "halal"),
              "interest": ("spa", "golf"), "accessibility": ("wheelchair", "hearing"),
              "note": ("extra towels", "late turndown")}[category]
    first = _record(uow, clock, category, values[0])
    second = _record(uow, clock, category, values[1])
    assert second.replaced_value is None
    assert first.id != second.id
    assert db.count(Preference, Preference.status == PreferenceStatus.ACTIVE) == 2


@pytest.mark.parametrize("category,value", [("pillow", "feather"), ("allergy", "nuts")])
def test_record_preference_identical_active_value_returns_existing(uow, clock, db, category, value) -> None:
    first = _record(uow, clock, category, value)
    clock.advance(timedelta(hours=1))
    again = _record(uow, clock, category, value)
    assert again.id == first.id
    assert again.replaced_value is None
    assert again.captured_at == first.captured_at
    assert db.count(Preference) == 1


def test_record_preference_unknown_category_raises_and_writes_nothing(uow, clock, db) -> None:
    with pytest.raises(ValidationError):
        _record(uow, clock, "hair_colour", "red")
    with pytest.raises(ValidationError):
        _record(uow, clock, "pillow", "   ")
    with pytest.raises(ValidationError):
        record_preference(uow, clock, "tg", "7", category="pillow", value="soft", source_text=None, confidence=1.5)
    assert db.count(Preference) == 0
    assert db.count(Guest) == 0


def test_list_preferences_active_only_oldest_first(uow, clock) -> None:
    _record(uow, clock, "pillow", "feather")
    clock.advance(timedelta(minutes=1))
    _record(uow, clock, "allergy", "nuts")
    clock.advance(timedelta(minutes=1))
    _record(uow, clock, "pillow", "foam")
    listed = list_preferences(uow, "tg", "7")
    assert [(p.category, p.value) for p in listed] == [("allergy", "nuts"), ("pillow", "foam")]


def test_list_preferences_unknown_guest_returns_empty_without_creating(uow, db) -> None:
    assert list_preferences(uow, "tg", "nobody") == []
    assert db.count(Guest) == 0


def test_delete_preferences_category_marks_deleted_and_counts(uow, clock, db) -> None:
    _record(uow, clock, "allergy", "nuts")
    _record(uow, clock, "allergy", "dairy")
    _record(uow, clock, "pillow", "feather")
    assert delete_preferences(uow, clock, "tg", "7", category="allergy") == 2
    assert [p.category for p in list_preferences(uow, "tg", "7")] == ["pillow"]
    assert db.count(Preference) == 3
    assert db.count(Preference, Preference.status == PreferenceStatus.DELETED) == 2


def test_delete_preferences_with_value_deletes_only_that_value(uow, clock) -> None:
    _record(uow, clock, "allergy", "nuts")
    _record(uow, clock, "allergy", "dairy")
    assert delete_preferences(uow, clock, "tg", "7", category="allergy", value="nuts") == 1
    assert [p.value for p in list_preferences(uow, "tg", "7")] == ["dairy"]


def test_delete_preferences_nothing_to_delete_returns_zero(uow, clock) -> None:
    assert delete_preferences(uow, clock, "tg", "7", category="pillow") == 0
    _record(uow, clock, "pillow", "feather")
    assert delete_preferences(uow, clock, "tg", "7", category="floor") == 0


def test_record_preference_after_delete_creates_new_active(uow, clock, db) -> None:
    _record(uow, clock, "pillow", "feather")
    delete_preferences(uow, clock, "tg", "7", category="pillow")
    again = _record(uow, clock, "pillow", "feather")
    assert again.replaced_value is None
    assert db.count(Preference) == 2


def test_record_preference_concurrent_writers_leave_one_active_value(session_factory, clock, db) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from crm_store.unit_of_work import SqlUnitOfWork

    record_preference(SqlUnitOfWork(session_factory), clock, "tg", "7", category="floor", value="ground", source_text=None)

    def write(i: int) -> None:
        record_preference(SqlUnitOfWork(session_factory), clock, "tg", "7", category="floor", value=str(i), source_text=None)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(write, range(1, 25)))
    assert db.count(Preference, Preference.status == PreferenceStatus.ACTIVE) == 1
    assert db.count(Preference) == 25
    assert db.count(Guest) == 1
