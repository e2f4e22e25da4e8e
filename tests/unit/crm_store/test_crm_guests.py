"""Test guest identification, naming and the returning-guest flag."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crm_store.errors import ValidationError
from crm_store.model import ChannelIdentity, Guest, StayStatus
from crm_store.services.guests import identify, set_name, split_sender_id
from crm_store.services.preferences import record_preference


def test_identify_first_contact_creates_unverified_guest(uow, clock, db) -> None:
    info = identify(uow, clock, "tg", "42")
    assert info.verified is False
    assert info.first_name is None and info.full_name is None
    assert info.room is None
    assert info.is_returning is False
    assert db.count(Guest) == 1
    identities = db.all(ChannelIdentity)
    assert [(i.channel, i.external_id, i.guest_id) for i in identities] == [("tg", "42", info.guest_id)]
    assert identities[0].linked_at == clock.now()


def test_identify_same_identity_reuses_guest(uow, clock, db) -> None:
    first = identify(uow, clock, "tg", "42")
    second = identify(uow, clock, "tg", "42")
    assert first.guest_id == second.guest_id
    assert db.count(Guest) == 1


def test_identify_other_channel_creates_other_guest(uow, clock, db) -> None:
    assert identify(uow, clock, "tg", "42").guest_id != identify(uow, clock, "cli", "42").guest_id
    assert db.count(Guest) == 2


@pytest.mark.parametrize(("channel", "external_id"), [("", "1"), ("tg", ""), ("TG CHAT", "1")])
def test_identify_bad_identity_raises_validation_error(uow, clock, channel, external_id) -> None:
    with pytest.raises(ValidationError):
        identify(uow, clock, channel, external_id)


def test_set_name_one_word_sets_title_cased_first_name(uow, clock, db) -> None:
    info = set_name(uow, clock, "tg", "42", "  anna ")
    assert info.first_name == "Anna"
    assert info.full_name == "Anna"
    guest = db.all(Guest)[0]
    assert (guest.first_name, guest.last_name) == ("Anna", None)


def test_set_name_two_words_sets_first_and_last(uow, clock, db) -> None:
    info = set_name(uow, clock, "tg", "42", "jean-luc o'neil")
    assert info.first_name == "Jean-Luc"
    assert info.full_name == "Jean-Luc O'Neil"
    assert db.all(Guest)[0].last_name == "O'Neil"


def test_set_name_existing_guest_keeps_identity(uow, clock, db) -> None:
    guest_id = identify(uow, clock, "tg", "42").guest_id
    assert set_name(uow, clock, "tg", "42", "Bob").guest_id == guest_id
    assert db.count(Guest) == 1


@pytest.mark.parametrize("name", ["", "   ", "12345", "R2D2", "x" * 81, "@@@"])
def test_set_name_invalid_raises_validation_error(uow, clock, db, name) -> None:
    with pytest.raises(ValidationError):
        set_name(uow, clock, "tg", "42", name)
    assert db.count(Guest) == 0


def test_identify_current_stay_gives_room(uow, clock, db, guest_id) -> None:
    db.add_stay(guest_id, ref="R1", room="1203")
    info = identify(uow, clock, "tg", "1001")
    assert info.room == "1203"
    assert info.is_returning is False


def test_identify_earlier_stay_marks_returning(uow, clock, db, guest_id) -> None:
    db.add_stay(
        guest_id,
        ref="OLD",
        arrival=clock.now() - timedelta(days=400),
        status=StayStatus.CHECKED_OUT,
    )
    info = identify(uow, clock, "tg", "1001")
    assert info.is_returning is True
    assert info.room is None


def test_identify_future_booking_only_not_returning(uow, clock, db, guest_id) -> None:
    db.add_stay(guest_id, ref="NEXT", arrival=clock.now() + timedelta(days=10), status=StayStatus.BOOKED)
    assert identify(uow, clock, "tg", "1001").is_returning is False


def test_identify_active_preference_marks_returning(uow, clock, guest_id) -> None:
    record_preference(uow, clock, "tg", "1001", category="pillow", value="feather", source_text=None)
    assert identify(uow, clock, "tg", "1001").is_returning is True


@pytest.mark.parametrize(
    ("sender", "expected"),
    [("tg:123", ("tg", "123")), ("cli:anna", ("cli", "anna")), ("plain", ("rest", "plain")), ("x:", ("rest", "x:"))],
)
def test_split_sender_id_namespaced_returns_parts(sender, expected) -> None:
    assert split_sender_id(sender) == expected
