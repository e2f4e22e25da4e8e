"""Link a chat to a reservation's guest: merge, re-point, verify, refuse unknown refs and wrong surnames."""

from __future__ import annotations

from datetime import timedelta

from crm_store.model import ChannelIdentity, Complaint, Guest, Preference, PreferenceStatus
from crm_store.policy import SlaPolicy
from crm_store.services.complaints import open_complaint
from crm_store.services.guests import identify
from crm_store.services.identity import is_reservation_reference, link_by_reservation, same_surname
from crm_store.services.preferences import list_preferences, record_preference


def _stay_guest(db, ref: str = "RES12345", first: str = "Anna", last: str = "Rossi") -> int:
    with db.session_factory() as session:
        guest = Guest(first_name=first, last_name=last, verified=False)
        session.add(guest)
        session.commit()
        guest_id = guest.id
    db.add_stay(guest_id, ref=ref)
    return guest_id


def test_link_unknown_chat_links_identity_and_verifies(uow, clock, db) -> None:
    target = _stay_guest(db)
    result = link_by_reservation(uow, clock, "tg", "555", "RES12345")
    assert (result.linked, result.reason, result.guest_id, result.first_name, result.room) == (
        True, "linked", target, "Anna", "412")
    assert db.all(Guest, Guest.id == target)[0].verified is True
    assert db.all(ChannelIdentity)[0].guest_id == target


def test_link_merges_unverified_chat_guest_rows_and_deletes_it(uow, clock, db, policy) -> None:
    target = _stay_guest(db)
    identify(uow, clock, "tg", "555")
    record_preference(uow, clock, "tg", "555", category="pillow", value="feather", source_text="feather pillows")
    open_complaint(uow, clock, SlaPolicy(), "tg", "555", category="noise", severity="low", room="412",
                   description="loud")
    result = link_by_reservation(uow, clock, "tg", "555", "res12345")  # case-insensitive fallback
    assert result.merged is True and result.guest_id == target
    assert db.count(Guest) == 1
    assert [p.value for p in list_preferences(uow, "tg", "555")] == ["feather"]
    complaint = db.all(Complaint)[0]
    assert complaint.guest_id == target and complaint.guest_verified is True


def test_link_merge_conflicting_single_valued_preference_keeps_newest(uow, clock, db) -> None:
    target = _stay_guest(db)
    with db.session_factory() as session:
        session.add(Preference(guest_id=target, category="pillow", value="foam", captured_at=clock.now()))
        session.commit()
    clock.advance(timedelta(minutes=1))
    record_preference(uow, clock, "tg", "555", category="pillow", value="feather", source_text=None)
    link_by_reservation(uow, clock, "tg", "555", "RES12345")
    active = db.all(Preference, Preference.guest_id == target, Preference.status == PreferenceStatus.ACTIVE)
    assert [p.value for p in active] == ["feather"]


def test_link_chat_of_other_verified_guest_repointed_without_merge(uow, clock, db) -> None:
    first = _stay_guest(db, "RES00001", "Anna", "Rossi")
    second = _stay_guest(db, "RES00002", "Marco", "Bianchi")
    link_by_reservation(uow, clock, "tg", "555", "RES00001")
    result = link_by_reservation(uow, clock, "tg", "555", "RES00002")
    assert result.merged is False and result.guest_id == second
    assert db.count(Guest) == 2 and db.all(Guest, Guest.id == first)[0].verified is True


def test_link_twice_reports_already_linked(uow, clock, db) -> None:
    _stay_guest(db)
    link_by_reservation(uow, clock, "tg", "555", "RES12345")
    assert link_by_reservation(uow, clock, "tg", "555", "RES12345").reason == "already_linked"


def test_link_unknown_reference_and_wrong_surname_refused_nothing_changes(uow, clock, db) -> None:
    _stay_guest(db)
    assert link_by_reservation(uow, clock, "tg", "555", "NOPE999").reason == "unknown_reference"
    assert link_by_reservation(uow, clock, "tg", "555", "RES12345", "Bianchi").reason == "surname_mismatch"
    assert link_by_reservation(uow, clock, "tg", "555", "no spaces allowed").reason == "invalid_reference"
    assert db.count(ChannelIdentity) == 0


def test_link_surname_match_ignores_case_and_accents(uow, clock, db) -> None:
    _stay_guest(db, last="Müller-Lüdenscheidt")
    assert link_by_reservation(uow, clock, "tg", "555", "RES12345", "muller ludenscheidt").linked is True


def test_reservation_reference_and_surname_helpers() -> None:
    assert is_reservation_reference("RES-123_4") and not is_reservation_reference("ab")
    assert same_surname("o'neil", "O’Neil") and not same_surname("", None)
