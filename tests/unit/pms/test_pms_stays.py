"""Test the PMS stay service: idempotent upserts, guest matching, check-in/out and survey timing."""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from crm_store.clock import FixedClock
from crm_store.errors import NotFound, ValidationError
from crm_store.model import FollowUp, Guest, ProcessedUpdate, Stay, StayStatus
from crm_store.services.stays import (
    CREATED,
    UNCHANGED,
    UPDATED,
    DuplicateEvent,
    GuestData,
    SurveyTiming,
    apply_pms_event,
    check_in,
    check_out,
    local_to_utc,
    normalise_phone,
    normalise_reservation,
    survey_planned_at,
    upsert_reservation,
)
from crm_store.unit_of_work import SqlUnitOfWork

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
ANN = GuestData(first_name="Ann", last_name="Lee", email="Ann.Lee@Example.com", phone="+44 20 7946 0001", language="en")


def _upsert(uow: SqlUnitOfWork, clock: FixedClock, ref: str = "R-1001", guest: GuestData = ANN, **kw):  # type: ignore[no-untyped-def]
    values = {"room": "412", "arrival": "2026-05-28", "departure": "2026-06-03", "status": "booked"}
    values.update(kw)
    return upsert_reservation(uow, clock, reference=ref, guest=guest, **values)


def test_upsert_reservation_twice_same_data_is_unchanged_and_never_duplicates(uow, clock, rows) -> None:
    first = _upsert(uow, clock)
    second = _upsert(uow, clock)
    assert first.outcome == CREATED
    assert second.outcome == UNCHANGED
    assert (second.stay_id, second.guest_id) == (first.stay_id, first.guest_id)
    assert rows.count(Stay) == 1
    assert rows.count(Guest) == 1


def test_upsert_reservation_changed_room_is_updated_in_place(uow, clock, rows) -> None:
    first = _upsert(uow, clock)
    second = _upsert(uow, clock, room="501")
    assert second.outcome == UPDATED
    assert second.stay_id == first.stay_id
    assert rows.all(Stay)[0].room == "501"


def test_upsert_reservation_reference_is_case_insensitive(uow, clock, rows) -> None:
    _upsert(uow, clock, ref="r-1001")
    result = _upsert(uow, clock, ref=" R-1001 ")
    assert result.outcome == UNCHANGED
    assert rows.all(Stay)[0].reservation_ref == "R-1001"


def test_upsert_reservation_stores_hotel_local_days_as_utc_bounds(uow, clock, rows) -> None:
    _upsert(uow, clock, tz=BERLIN)
    stay = rows.all(Stay)[0]
    assert stay.arrival == datetime(2026, 5, 27, 22, 0, tzinfo=timezone.utc)  # 00:00 CEST
    assert stay.departure == datetime(2026, 6, 3, 10, 0, tzinfo=timezone.utc)  # 12:00 CEST


def test_upsert_reservation_new_reservation_matches_guest_by_email_case_insensitive(uow, clock, rows) -> None:
    first = _upsert(uow, clock, ref="R-1001")
    other = GuestData(first_name="Ann", last_name="Lee", email="ANN.LEE@example.COM")
    second = _upsert(uow, clock, ref="R-2002", guest=other)
    assert second.outcome == CREATED
    assert second.guest_id == first.guest_id
    assert rows.count(Guest) == 1
    assert rows.all(Guest)[0].email == "ann.lee@example.com"


def test_upsert_reservation_new_reservation_matches_guest_by_normalised_phone(uow, clock, rows) -> None:
    first = _upsert(uow, clock, ref="R-1001")
    other = GuestData(last_name="Lee", phone="0044 (20) 7946-0001")
    second = _upsert(uow, clock, ref="R-2002", guest=other)
    assert second.guest_id == first.guest_id
    assert rows.all(Guest)[0].phone == "+442079460001"


def test_upsert_reservation_unknown_contact_creates_a_new_guest(uow, clock, rows) -> None:
    first = _upsert(uow, clock, ref="R-1001")
    second = _upsert(uow, clock, ref="R-2002", guest=GuestData(first_name="Bo", last_name="Ek", email="bo@example.se"))
    assert second.guest_id != first.guest_id
    assert rows.count(Guest) == 2


def test_upsert_reservation_existing_stay_keeps_its_guest_and_updates_contact(uow, clock, rows) -> None:
    first = _upsert(uow, clock)
    changed = GuestData(first_name="Ann", last_name="Lee-Smith", email="ann@new.example.com")
    second = _upsert(uow, clock, guest=changed)
    assert second.outcome == UPDATED
    assert second.guest_id == first.guest_id
    guest = rows.all(Guest)[0]
    assert (guest.last_name, guest.email, guest.phone) == ("Lee-Smith", "ann@new.example.com", "+442079460001")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"ref": "x"}, "reference"),
        ({"ref": "R 1001!"}, "reference"),
        ({"guest": GuestData(email="a@b.example")}, "last_name"),
        ({"guest": GuestData(last_name="Lee", email="not-an-email")}, "email"),
        ({"guest": GuestData(last_name="Lee", phone="call me")}, "phone"),
        ({"guest": GuestData(last_name="Lee", phone="12")}, "phone"),
        ({"guest": GuestData(last_name="Lee", language="english please")}, "language"),
        ({"arrival": "2026-13-01"}, "arrival"),
        ({"arrival": "01/06/2026"}, "arrival"),
        ({"departure": ""}, "departure"),
        ({"departure": "2026-05-01"}, "departure"),
        ({"status": "gone"}, "status"),
        ({"room": "room with a view"}, "room"),
    ],
)
def test_upsert_reservation_invalid_input_raises_validation_error_naming_the_field(uow, clock, rows, overrides, field) -> None:
    with pytest.raises(ValidationError) as info:
        _upsert(uow, clock, **overrides)
    assert info.value.field == field
    assert rows.count(Stay) == 0


def test_normalise_phone_keeps_plus_for_international_numbers_only() -> None:
    assert normalise_phone("+1 (212) 555-0100") == "+12125550100"
    assert normalise_phone("00 33 1 23 45 67 89") == "+33123456789"
    assert normalise_phone("030 1234567") == "0301234567"
    assert normalise_phone("  ") is None


def test_normalise_reservation_same_day_departure_is_accepted() -> None:
    reservation = normalise_reservation(
        reference="DAY-1", guest=GuestData(last_name="Lee"), room=None, arrival="2026-06-01", departure="2026-06-01"
    )
    assert reservation.arrival == reservation.departure == date(2026, 6, 1)


def test_check_in_marks_the_stay_in_house(uow, clock, rows) -> None:
    _upsert(uow, clock)
    result = check_in(uow, clock, reference="r-1001")
    assert (result.outcome, result.status) == (UPDATED, "in_house")
    assert check_in(uow, clock, reference="R-1001").outcome == UNCHANGED


def test_check_in_after_check_out_keeps_the_stay_checked_out(uow, clock) -> None:
    _upsert(uow, clock)
    check_out(uow, clock, reference="R-1001")
    result = check_in(uow, clock, reference="R-1001")
    assert (result.outcome, result.status) == (UNCHANGED, "checked_out")


def test_check_in_unknown_reference_raises_not_found(uow, clock) -> None:
    with pytest.raises(NotFound):
        check_in(uow, clock, reference="NOPE-1")


def test_check_out_schedules_survey_invite_next_day_at_ten_hotel_time(uow, clock, rows) -> None:
    _upsert(uow, clock)
    result = check_out(uow, clock, reference="R-1001", tz=BERLIN)  # 2026-06-01 14:00 CEST
    expected = datetime(2026, 6, 2, 8, 0, tzinfo=timezone.utc)  # 10:00 CEST
    assert result.status == "checked_out"
    assert result.survey_due_at == expected
    [follow_up] = rows.all(FollowUp)
    assert (follow_up.kind, follow_up.idempotency_key, follow_up.due_at) == ("survey_invite", "survey:R-1001", expected)
    assert follow_up.payload["stay_id"] == result.stay_id
    assert follow_up.payload["caught_up"] is False


def test_check_out_twice_schedules_one_survey_invite(uow, clock, rows) -> None:
    _upsert(uow, clock)
    first = check_out(uow, clock, reference="R-1001", tz=BERLIN)
    clock.advance(timedelta(hours=3))
    second = check_out(uow, clock, reference="R-1001", tz=BERLIN)
    assert second.outcome == UNCHANGED
    assert second.survey_due_at == first.survey_due_at
    assert rows.count(FollowUp) == 1


def test_check_out_day_offset_and_time_are_parameters(uow, clock) -> None:
    _upsert(uow, clock)
    result = check_out(uow, clock, reference="R-1001", tz=BERLIN, survey_day_offset=2, survey_time=time(18, 30))
    assert result.survey_due_at == datetime(2026, 6, 3, 16, 30, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("checked_out_at", "tz", "expected"),
    [
        # Saturday before Europe's spring-forward night: 10:00 CEST is 08:00 UTC, not 09:00.
        (datetime(2026, 3, 28, 15, 0, tzinfo=timezone.utc), BERLIN, datetime(2026, 3, 29, 8, 0, tzinfo=timezone.utc)),
        # Saturday before fall-back: 10:00 CET is 09:00 UTC.
        (datetime(2026, 10, 24, 15, 0, tzinfo=timezone.utc), BERLIN, datetime(2026, 10, 25, 9, 0, tzinfo=timezone.utc)),
        # New York springs forward on 2026-03-08: 10:00 EDT is 14:00 UTC.
        (datetime(2026, 3, 7, 23, 0, tzinfo=timezone.utc), NEW_YORK, datetime(2026, 3, 8, 14, 0, tzinfo=timezone.utc)),
        # Late-evening local check-out is still "that" local day: 23:30 EST on 03-07 is 04:30 UTC on 03-08.
        (datetime(2026, 3, 8, 4, 30, tzinfo=timezone.utc), NEW_YORK, datetime(2026, 3, 8, 14, 0, tzinfo=timezone.utc)),
    ],
)
def test_survey_planned_at_next_day_ten_across_dst_change(checked_out_at, tz, expected) -> None:
    assert survey_planned_at(checked_out_at, SurveyTiming(tz=tz)) == expected


def test_check_out_across_dst_change_is_due_at_local_ten(uow, clock) -> None:
    clock.set(datetime(2026, 3, 28, 15, 0, tzinfo=timezone.utc))
    _upsert(uow, clock, arrival="2026-03-25", departure="2026-03-28")
    result = check_out(uow, clock, reference="R-1001", tz=BERLIN)
    assert result.survey_due_at == datetime(2026, 3, 29, 8, 0, tzinfo=timezone.utc)
    assert result.survey_due_at.astimezone(BERLIN).time() == time(10, 0)


def test_local_to_utc_time_in_dst_gap_moves_past_the_gap() -> None:
    moved = local_to_utc(date(2026, 3, 29), time(2, 30), BERLIN)
    assert moved == datetime(2026, 3, 29, 1, 30, tzinfo=timezone.utc)
    assert moved.astimezone(BERLIN).time() == time(3, 30)


def test_checked_out_import_after_send_time_is_due_immediately(uow, clock, rows) -> None:
    result = _upsert(uow, clock, arrival="2026-05-25", departure="2026-05-29", status="checked_out", tz=BERLIN)
    [follow_up] = rows.all(FollowUp)
    assert follow_up.due_at == clock.now()
    assert result.survey_due_at == clock.now()
    assert follow_up.payload["caught_up"] is True
    assert follow_up.payload["planned_at"] == "2026-05-30T08:00:00+00:00"


def test_late_check_out_after_same_day_send_time_is_due_immediately(uow, clock) -> None:
    _upsert(uow, clock)
    result = check_out(uow, clock, reference="R-1001", tz=BERLIN, survey_day_offset=0, survey_time=time(10, 0))
    assert result.survey_due_at == clock.now()


def test_checked_out_import_departing_today_uses_departure_for_the_send_day(uow, clock, rows) -> None:
    # Departure 12:00 CEST on 06-01 is before now (14:00 CEST), so the send day is 06-02.
    _upsert(uow, clock, arrival="2026-05-29", departure="2026-06-01", status="checked_out", tz=BERLIN)
    assert rows.all(FollowUp)[0].due_at == datetime(2026, 6, 2, 8, 0, tzinfo=timezone.utc)


def test_booked_reservation_schedules_no_survey(uow, clock, rows) -> None:
    _upsert(uow, clock, status="in_house")
    assert rows.count(FollowUp) == 0


def test_apply_pms_event_replay_raises_duplicate_event_and_writes_nothing(uow, clock, rows) -> None:
    reservation = normalise_reservation(
        reference="R-1001", guest=ANN, room="412", arrival="2026-05-28", departure="2026-06-03"
    )
    result = apply_pms_event(uow, clock, event_id="evt-1", event_type="check_out", reservation=reservation, tz=BERLIN)
    assert (result.outcome, result.status) == (CREATED, "checked_out")
    before = (rows.count(Stay), rows.count(Guest), rows.count(FollowUp), rows.count(ProcessedUpdate))
    with pytest.raises(DuplicateEvent):
        apply_pms_event(uow, clock, event_id="evt-1", event_type="check_out", reservation=reservation, tz=BERLIN)
    assert (rows.count(Stay), rows.count(Guest), rows.count(FollowUp), rows.count(ProcessedUpdate)) == before
    assert before == (1, 1, 1, 1)


def test_apply_pms_event_reservation_keeps_status_of_an_in_house_stay(uow, clock) -> None:
    _upsert(uow, clock, status="in_house")
    reservation = normalise_reservation(
        reference="R-1001", guest=ANN, room="415", arrival="2026-05-28", departure="2026-06-03"
    )
    result = apply_pms_event(uow, clock, event_id="evt-2", event_type="reservation", reservation=reservation)
    assert (result.outcome, result.status) == (UPDATED, StayStatus.IN_HOUSE.value)


def test_stay_service_logs_no_guest_data(uow, clock, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="crm_store")
    _upsert(uow, clock)
    check_in(uow, clock, reference="R-1001")
    check_out(uow, clock, reference="R-1001", tz=BERLIN)
    text = "\n".join(record.getMessage() for record in caplog.records).lower()
    assert caplog.records
    for secret in ("ann", "lee", "example.com", "7946", "r-1001"):
        assert secret not in text
