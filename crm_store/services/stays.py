"""Take PMS reservations in: upsert stays and guests, check guests in and out, schedule the survey invitation.

Both entry points of the PMS feed (the CSV import and the webhook) call this module, so they share one set
of rules:

- A reservation is identified by its reference (trimmed, upper-cased): sending it again updates the stay
  and never duplicates it.
- A new reservation's guest is matched by e-mail (case-insensitive), then by phone (digits only, with a
  leading ``+`` when the number is international), else created. An existing reservation keeps its guest.
- Dates are hotel-local calendar days. A stay is stored from 00:00 hotel time on the arrival day to 12:00
  hotel time on the departure day (aware UTC in the database).
- A check-out schedules one ``survey_invite`` follow-up (idempotency key ``survey:<reference>``), due on the
  policy's day at the policy's time in hotel time; when that moment has already passed it is due at once
  (catch-up) and its payload says so.
- A check-in (``check_in`` or a PMS ``check_in`` event) and a PMS ``reservation`` event for a stay of at
  least ``pulse_min_nights`` nights schedule one ``pulse_check`` follow-up (key ``pulse:<reference>``) on
  day ``pulse_day`` of the stay at ``pulse_time`` hotel time. The scheduler re-checks the stay when it fires.
- ``SurveyTiming.from_rules`` takes both timings from the policy file (``surveys`` section).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Any

from sqlalchemy import select

from crm_store.clock import Clock, ensure_utc
from crm_store.errors import CrmError, NotFound, ValidationError
from crm_store.model import FollowUp, FollowUpStatus, Guest, ProcessedUpdate, Stay, StayStatus
from crm_store.recovery_policy import SurveyRules
from crm_store.repositories import insert_ignoring_conflict
from crm_store.services.complaints import check_room
from crm_store.unit_of_work import SqlUnitOfWork

log = logging.getLogger(__name__)

CREATED = "created"
UPDATED = "updated"
UNCHANGED = "unchanged"

STATUSES: tuple[str, ...] = tuple(s.value for s in StayStatus)
SURVEY_KIND = "survey_invite"
PULSE_KIND = "pulse_check"
SURVEY_DAY_OFFSET = 1
SURVEY_TIME = time(10, 0)
PULSE_DAY = 2
PULSE_TIME = time(17, 0)
PULSE_MIN_NIGHTS = 3
ARRIVAL_TIME = time(0, 0)
DEPARTURE_TIME = time(12, 0)
PMS_EVENT_SOURCE = "pms"
EVENT_TYPES: tuple[str, ...] = ("reservation", "check_in", "check_out")

REFERENCE_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9_-]{2,63}$")
NAME_MAX_LENGTH = 80
EMAIL_MAX_LENGTH = 254
_EMAIL = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")
_PHONE_ALLOWED = re.compile(r"^\+?[0-9 ()./-]+$")
PHONE_MIN_DIGITS = 5
PHONE_MAX_DIGITS = 15
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})*$")
LANGUAGE_MAX_LENGTH = 16


class DuplicateEvent(CrmError):
    """Signal that a PMS event id was already processed (a replay)."""

    def __init__(self, event_id_hash: int) -> None:
        """Remember the hashed event id (the raw id may be chosen by the sender; it is not logged)."""
        super().__init__("PMS event already processed")
        self.event_id_hash = event_id_hash


@dataclass(frozen=True)
class GuestData:
    """Carry the guest part of a reservation as the PMS sent it."""

    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    language: str | None = None


@dataclass(frozen=True)
class Reservation:
    """Hold one validated, normalised reservation (status None: keep the stored one, booked if new)."""

    reference: str
    guest: GuestData
    room: str | None
    arrival: date
    departure: date
    status: StayStatus | None = None


@dataclass(frozen=True)
class UpsertResult:
    """Tell what an upsert did: ``outcome`` is created, updated or unchanged."""

    outcome: str
    stay_id: int
    guest_id: int
    status: str = StayStatus.BOOKED.value
    survey_due_at: datetime | None = None


@dataclass(frozen=True)
class SurveyTiming:
    """Say when a survey invitation goes out: ``day_offset`` days after check-out at ``send_time`` hotel time.

    ``delay`` (when set) replaces the day and time: the invitation goes that long after check-out. The
    ``pulse_*`` fields say when the in-stay pulse check goes (day ``pulse_day`` of the stay, arrival day
    being day 1, at ``pulse_time``; or ``pulse_delay`` after check-in) and for which stays.
    """

    tz: tzinfo = timezone.utc
    day_offset: int = SURVEY_DAY_OFFSET
    send_time: time = SURVEY_TIME
    delay: timedelta | None = None
    pulse_day: int = PULSE_DAY
    pulse_time: time = PULSE_TIME
    pulse_min_nights: int = PULSE_MIN_NIGHTS
    pulse_delay: timedelta | None = None

    @classmethod
    def from_rules(cls, rules: SurveyRules, tz: tzinfo | None = None) -> SurveyTiming:
        """Return the timing of the policy file's ``surveys`` section in hotel time zone ``tz``."""
        return cls(
            tz=tz or timezone.utc,
            day_offset=rules.invite_day_offset,
            send_time=rules.invite_time,
            delay=rules.invite_delay,
            pulse_day=rules.pulse_day,
            pulse_time=rules.pulse_time,
            pulse_min_nights=rules.pulse_min_nights,
            pulse_delay=rules.pulse_delay,
        )


# --------------------------------------------------------------------------- validation (pure)


def _text(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(name, "expected a string")
    cleaned = " ".join(value.split())
    return cleaned or None


def check_reference(reference: Any) -> str:
    """Return the normalised reservation reference (upper-case) or raise ValidationError."""
    cleaned = _text(reference, "reference")
    if cleaned is None:
        raise ValidationError("reference", "missing")
    cleaned = cleaned.upper()
    if not REFERENCE_PATTERN.match(cleaned):
        raise ValidationError("reference", "expected 3 to 64 letters, digits, '-' or '_'")
    return cleaned


def check_name(value: Any, name: str) -> str | None:
    """Return a trimmed name part, or None when empty; raise ValidationError when too long or not text."""
    cleaned = _text(value, name)
    if cleaned is not None and len(cleaned) > NAME_MAX_LENGTH:
        raise ValidationError(name, f"longer than {NAME_MAX_LENGTH} characters")
    return cleaned


def normalise_email(value: Any) -> str | None:
    """Return the e-mail address lower-cased, or None when empty; raise ValidationError when malformed."""
    cleaned = _text(value, "email")
    if cleaned is None:
        return None
    cleaned = cleaned.lower()
    if len(cleaned) > EMAIL_MAX_LENGTH or not _EMAIL.match(cleaned):
        raise ValidationError("email", "not an e-mail address")
    return cleaned


def normalise_phone(value: Any) -> str | None:
    """Return the phone number as digits (``+`` kept for international ones), or None; raise when malformed."""
    cleaned = _text(value, "phone")
    if cleaned is None:
        return None
    if not _PHONE_ALLOWED.match(cleaned):
        raise ValidationError("phone", "may contain only digits, spaces, + ( ) . / -")
    digits = re.sub(r"\D", "", cleaned)
    international = cleaned.startswith("+")
    if not international and digits.startswith("00"):
        digits, international = digits[2:], True
    if not PHONE_MIN_DIGITS <= len(digits) <= PHONE_MAX_DIGITS:
        raise ValidationError("phone", f"expected {PHONE_MIN_DIGITS} to {PHONE_MAX_DIGITS} digits")
    return ("+" if international else "") + digits


def normalise_language(value: Any) -> str | None:
    """Return a BCP-47-like language tag lower-cased (``en``, ``pt-br``), or None; raise when malformed."""
    cleaned = _text(value, "language")
    if cleaned is None:
        return None
    cleaned = cleaned.lower().replace("_", "-")
    if len(cleaned) > LANGUAGE_MAX_LENGTH or not _LANGUAGE.match(cleaned):
        raise ValidationError("language", "expected a language code such as en or pt-BR")
    return cleaned


def parse_date(value: Any, name: str) -> date:
    """Return ``value`` as a calendar date (a ``date`` or an ISO ``YYYY-MM-DD`` string) or raise ValidationError."""
    if isinstance(value, datetime):
        raise ValidationError(name, "expected a date without a time")
    if isinstance(value, date):
        return value
    cleaned = _text(value, name)
    if cleaned is None:
        raise ValidationError(name, "missing")
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", cleaned):
        raise ValidationError(name, "expected a date as YYYY-MM-DD")
    try:
        return date.fromisoformat(cleaned)
    except ValueError:
        raise ValidationError(name, "not a valid calendar date") from None


def check_status(value: Any) -> StayStatus | None:
    """Return the stay status, None when not given, or raise ValidationError."""
    if isinstance(value, StayStatus):
        return value
    cleaned = _text(value, "status")
    if cleaned is None:
        return None
    try:
        return StayStatus(cleaned.lower())
    except ValueError:
        raise ValidationError("status", f"expected one of {', '.join(STATUSES)}") from None


def normalise_guest(guest: GuestData) -> GuestData:
    """Return ``guest`` validated and normalised; a first or last name is required."""
    result = GuestData(
        first_name=check_name(guest.first_name, "first_name"),
        last_name=check_name(guest.last_name, "last_name"),
        email=normalise_email(guest.email),
        phone=normalise_phone(guest.phone),
        language=normalise_language(guest.language),
    )
    if result.first_name is None and result.last_name is None:
        raise ValidationError("last_name", "missing: a first or last name is required")
    return result


def normalise_reservation(
    *,
    reference: Any,
    guest: GuestData,
    room: Any,
    arrival: Any,
    departure: Any,
    status: Any = None,
) -> Reservation:
    """Validate and normalise one reservation; raise ValidationError naming the first bad field."""
    ref = check_reference(reference)
    guest = normalise_guest(guest)
    room_text = _text(room, "room")
    room_value = check_room(room_text) if room_text is not None else None
    arrival_day = parse_date(arrival, "arrival")
    departure_day = parse_date(departure, "departure")
    if departure_day < arrival_day:
        raise ValidationError("departure", "before arrival")
    return Reservation(ref, guest, room_value, arrival_day, departure_day, check_status(status))


# --------------------------------------------------------------------------- time rules (pure)


def local_to_utc(day: date, at: time, tz: tzinfo) -> datetime:
    """Return hotel-local ``day`` at ``at`` as aware UTC (a time skipped by a DST jump moves past the gap)."""
    return datetime.combine(day, at.replace(tzinfo=None), tzinfo=tz).astimezone(timezone.utc)


def stay_bounds(arrival: date, departure: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """Return the stored (arrival, departure) instants of a stay given as hotel-local days."""
    return local_to_utc(arrival, ARRIVAL_TIME, tz), local_to_utc(departure, DEPARTURE_TIME, tz)


def survey_planned_at(checked_out_at: datetime, timing: SurveyTiming) -> datetime:
    """Return when the invitation should go: ``day_offset`` hotel-local days after check-out, at ``send_time``."""
    if timing.delay is not None:
        return ensure_utc(checked_out_at) + timing.delay
    local_day = ensure_utc(checked_out_at).astimezone(timing.tz).date()
    return local_to_utc(local_day + timedelta(days=timing.day_offset), timing.send_time, timing.tz)


def survey_due_at(checked_out_at: datetime, now: datetime, timing: SurveyTiming) -> datetime:
    """Return the follow-up's due time: the planned time, or ``now`` when that has passed (catch-up)."""
    return max(survey_planned_at(checked_out_at, timing), ensure_utc(now))


def stay_nights(arrival: datetime, departure: datetime, tz: tzinfo) -> int:
    """Return the number of nights of a stay stored as instants (hotel-local calendar days apart)."""
    return (ensure_utc(departure).astimezone(tz).date() - ensure_utc(arrival).astimezone(tz).date()).days


def pulse_planned_at(arrival: datetime, timing: SurveyTiming, checked_in_at: datetime | None = None) -> datetime:
    """Return when to ask "how is everything so far": day ``pulse_day`` of the stay at ``pulse_time``.

    With ``pulse_delay`` set: that long after check-in (or after arrival when not checked in yet).
    """
    if timing.pulse_delay is not None:
        start = max(ensure_utc(arrival), ensure_utc(checked_in_at)) if checked_in_at else ensure_utc(arrival)
        return start + timing.pulse_delay
    first_day = ensure_utc(arrival).astimezone(timing.tz).date()
    return local_to_utc(first_day + timedelta(days=timing.pulse_day - 1), timing.pulse_time, timing.tz)


def pulse_key(reference: str) -> str:
    """Return the idempotency key of a reservation's pulse-check follow-up."""
    return f"pulse:{reference}"


def schedule_pulse_check(
    uow: SqlUnitOfWork, now: datetime, stay: Stay, timing: SurveyTiming, checked_in_at: datetime | None = None
) -> bool:
    """Insert the stay's pulse_check follow-up if it qualifies (long enough, not over); return whether inserted.

    Due at the planned time, or now when that has passed while the guest is still in the hotel.
    """
    if StayStatus(stay.status) not in (StayStatus.BOOKED, StayStatus.IN_HOUSE):
        return False
    if stay_nights(stay.arrival, stay.departure, timing.tz) < timing.pulse_min_nights:
        return False
    planned = pulse_planned_at(stay.arrival, timing, checked_in_at)
    if planned >= stay.departure or now >= stay.departure:
        return False
    due = max(planned, now)
    inserted = uow.followups.schedule(
        kind=PULSE_KIND,
        subject=stay.reservation_ref,
        due_at=due,
        idempotency_key=pulse_key(stay.reservation_ref),
        payload={
            "reservation_ref": stay.reservation_ref,
            "stay_id": stay.id,
            "guest_id": stay.guest_id,
            "planned_at": planned.isoformat(),
        },
        now=now,
    )
    if inserted:
        log.debug("pulse check for stay %s due at %s", stay.id, due.isoformat())
    return inserted


def event_key(event_id: str) -> int:
    """Return a stable positive 63-bit number for a PMS event id (stored in ProcessedUpdate.update_id)."""
    return int.from_bytes(hashlib.sha256(event_id.encode("utf-8")).digest()[:8], "big") >> 1


# --------------------------------------------------------------------------- writes inside a unit of work


IN_CHUNK = 500


def _chunks(values: list[Any]) -> list[list[Any]]:
    return [values[i : i + IN_CHUNK] for i in range(0, len(values), IN_CHUNK)]


def _load_stays(uow: SqlUnitOfWork, refs: list[str]) -> dict[str, Stay]:
    found: dict[str, Stay] = {}
    for chunk in _chunks(refs):
        for stay in uow.session.execute(select(Stay).where(Stay.reservation_ref.in_(chunk))).scalars():
            found[stay.reservation_ref] = stay
    return found


def _load_guests(uow: SqlUnitOfWork, column: Any, values: list[Any]) -> dict[Any, Guest]:
    """Return guests keyed by ``column`` value; the oldest guest wins when several share a value."""
    found: dict[Any, Guest] = {}
    for chunk in _chunks(values):
        rows = uow.session.execute(select(Guest).where(column.in_(chunk)).order_by(Guest.id)).scalars()
        for guest in rows:
            found.setdefault(getattr(guest, column.key), guest)
    return found


def _apply_guest(guest: Guest, data: GuestData, now: datetime) -> bool:
    """Copy the non-empty fields of ``data`` onto ``guest``; return whether anything changed."""
    changed = False
    for name in ("first_name", "last_name", "email", "phone", "language"):
        value = getattr(data, name)
        if value is not None and getattr(guest, name) != value:
            setattr(guest, name, value)
            changed = True
    if changed:
        guest.updated_at = now
    return changed


def _survey_values(now: datetime, stay: Stay, checked_out_at: datetime, timing: SurveyTiming) -> dict[str, Any]:
    planned = survey_planned_at(checked_out_at, timing)
    due = max(planned, now)
    return {
        "kind": SURVEY_KIND,
        "subject": stay.reservation_ref,
        "due_at": due,
        "idempotency_key": survey_key(stay.reservation_ref),
        "payload": {
            "reservation_ref": stay.reservation_ref,
            "stay_id": stay.id,
            "guest_id": stay.guest_id,
            "planned_at": planned.isoformat(),
            "caught_up": due > planned,
        },
    }


def schedule_survey(
    uow: SqlUnitOfWork, now: datetime, stay: Stay, checked_out_at: datetime, timing: SurveyTiming
) -> bool:
    """Insert the stay's survey_invite follow-up unless its key exists; return whether it was inserted."""
    values = _survey_values(now, stay, checked_out_at, timing)
    inserted = uow.followups.schedule(now=now, **values)
    if inserted:
        log.debug("survey invitation for stay %s due at %s", stay.id, values["due_at"].isoformat())
    return inserted


def survey_key(reference: str) -> str:
    """Return the idempotency key of a reservation's survey invitation follow-up."""
    return f"survey:{reference}"


def _existing_keys(uow: SqlUnitOfWork, keys: list[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(keys):
        found.update(
            uow.session.execute(select(FollowUp.idempotency_key).where(FollowUp.idempotency_key.in_(chunk))).scalars()
        )
    return found


def apply_reservations(
    uow: SqlUnitOfWork, now: datetime, reservations: Sequence[Reservation], timing: SurveyTiming
) -> list[tuple[str, Stay]]:
    """Create or update many stays and their guests inside ``uow`` without committing; return (outcome, stay) each.

    Works in a few set-based queries per call, so the CSV import can pass a whole batch. A status of
    checked_out schedules the survey invitation (idempotently); the check-out moment is taken as the
    departure or now, whichever is earlier.
    """
    session = uow.session
    refs = list(dict.fromkeys(r.reference for r in reservations))
    stays = _load_stays(uow, refs)
    known_guest_ids = list({stay.guest_id for stay in stays.values()})
    guests_by_id: dict[Any, Guest] = _load_guests(uow, Guest.id, known_guest_ids)
    emails = list({r.guest.email for r in reservations if r.guest.email and r.reference not in stays})
    phones = list({r.guest.phone for r in reservations if r.guest.phone and r.reference not in stays})
    by_email = _load_guests(uow, Guest.email, emails)
    by_phone = _load_guests(uow, Guest.phone, phones)

    # Phase 1: pick (or create) each row's guest and apply its data.
    new_stay_guest: dict[str, Guest] = {}
    row_guests: list[tuple[Guest, bool]] = []
    for reservation in reservations:
        data = reservation.guest
        stay = stays.get(reservation.reference)
        if stay is not None:
            guest = guests_by_id[stay.guest_id]
        elif reservation.reference in new_stay_guest:
            guest = new_stay_guest[reservation.reference]
        else:
            found = (by_email.get(data.email) if data.email else None) or (
                by_phone.get(data.phone) if data.phone else None
            )
            guest = found or Guest(verified=False, created_at=now, updated_at=now)
            if found is None:
                session.add(guest)
            new_stay_guest[reservation.reference] = guest
        changed = _apply_guest(guest, data, now)
        if guest.email:
            by_email.setdefault(guest.email, guest)
        if guest.phone:
            by_phone.setdefault(guest.phone, guest)
        row_guests.append((guest, changed))
    session.flush()

    # Phase 2: create or update the stays.
    results: list[tuple[str, Stay]] = []
    for reservation, (guest, guest_changed) in zip(reservations, row_guests):
        arrival_at, departure_at = stay_bounds(reservation.arrival, reservation.departure, timing.tz)
        stay = stays.get(reservation.reference)
        if stay is None:
            stay = Stay(
                reservation_ref=reservation.reference,
                guest_id=guest.id,
                room=reservation.room,
                arrival=arrival_at,
                departure=departure_at,
                status=reservation.status or StayStatus.BOOKED,
                language=reservation.guest.language,
                created_at=now,
                updated_at=now,
            )
            session.add(stay)
            stays[reservation.reference] = stay
            results.append((CREATED, stay))
            continue
        changed = guest_changed
        wanted: dict[str, Any] = {"arrival": arrival_at, "departure": departure_at}
        if reservation.room is not None:
            wanted["room"] = reservation.room
        if reservation.guest.language is not None:
            wanted["language"] = reservation.guest.language
        if reservation.status is not None:
            wanted["status"] = reservation.status
        for name, value in wanted.items():
            if getattr(stay, name) != value:
                setattr(stay, name, value)
                changed = True
        if changed:
            stay.updated_at = now
        results.append((UPDATED if changed else UNCHANGED, stay))
    session.flush()

    # Phase 3: a checked-out stay gets its survey invitation (insert-ignore on the key).
    checked_out = {
        stay.reservation_ref: stay for _, stay in results if StayStatus(stay.status) is StayStatus.CHECKED_OUT
    }
    if checked_out:
        existing = _existing_keys(uow, [survey_key(ref) for ref in checked_out])
        missing = [stay for ref, stay in checked_out.items() if survey_key(ref) not in existing]
        if len(missing) == 1:
            schedule_survey(uow, now, missing[0], min(now, missing[0].departure), timing)
        elif missing:
            # Keys checked above in this transaction; a concurrent writer makes the flush fail and the
            # caller retries row by row, where schedule() ignores the existing key.
            session.add_all(
                FollowUp(
                    status=FollowUpStatus.PENDING,
                    attempts=0,
                    created_at=now,
                    updated_at=now,
                    **_survey_values(now, stay, min(now, stay.departure), timing),
                )
                for stay in missing
            )
            session.flush()
    return results


def apply_reservation(
    uow: SqlUnitOfWork, now: datetime, reservation: Reservation, timing: SurveyTiming
) -> tuple[str, Stay]:
    """Create or update one stay and its guest inside ``uow`` without committing; return (outcome, stay)."""
    return apply_reservations(uow, now, [reservation], timing)[0]


def _mark_in_house(stay: Stay, now: datetime) -> bool:
    if StayStatus(stay.status) in (StayStatus.IN_HOUSE, StayStatus.CHECKED_OUT):
        return False
    stay.status = StayStatus.IN_HOUSE
    stay.updated_at = now
    return True


def _mark_checked_out(
    uow: SqlUnitOfWork, now: datetime, stay: Stay, checked_out_at: datetime, timing: SurveyTiming
) -> tuple[bool, datetime | None]:
    changed = StayStatus(stay.status) is not StayStatus.CHECKED_OUT
    if changed:
        stay.status = StayStatus.CHECKED_OUT
        stay.updated_at = now
        uow.session.flush()
    schedule_survey(uow, now, stay, checked_out_at, timing)
    return changed, _survey_due(uow, stay)


def _result(outcome: str, stay: Stay, survey_due: datetime | None = None) -> UpsertResult:
    return UpsertResult(
        outcome=outcome,
        stay_id=stay.id,
        guest_id=stay.guest_id,
        status=StayStatus(stay.status).value,
        survey_due_at=survey_due,
    )


def _survey_due(uow: SqlUnitOfWork, stay: Stay) -> datetime | None:
    if StayStatus(stay.status) is not StayStatus.CHECKED_OUT:
        return None
    row = uow.followups.get_by_key(survey_key(stay.reservation_ref))
    return row.due_at if row is not None else None


def _timing(
    tz: tzinfo | None, day_offset: int, send_time: time, timing: SurveyTiming | None = None
) -> SurveyTiming:
    """Return ``timing`` when given (the policy's), else one built from the separate arguments."""
    if timing is not None:
        return timing
    if not isinstance(day_offset, int) or day_offset < 0:
        raise ValidationError("survey_day_offset", "expected a whole number of days >= 0")
    return SurveyTiming(tz or timezone.utc, day_offset, send_time)


# --------------------------------------------------------------------------- use cases (one transaction each)


def upsert_reservation(
    uow: SqlUnitOfWork,
    clock: Clock,
    *,
    reference: str,
    guest: GuestData,
    room: str | None,
    arrival: date | str,
    departure: date | str,
    status: StayStatus | str | None = None,
    tz: tzinfo | None = None,
    survey_day_offset: int = SURVEY_DAY_OFFSET,
    survey_time: time = SURVEY_TIME,
    timing: SurveyTiming | None = None,
) -> UpsertResult:
    """Create or update a reservation and its guest; the same reservation twice never duplicates."""
    reservation = normalise_reservation(
        reference=reference, guest=guest, room=room, arrival=arrival, departure=departure, status=status
    )
    timing = _timing(tz, survey_day_offset, survey_time, timing)
    now = clock.now()
    with uow:
        outcome, stay = apply_reservation(uow, now, reservation, timing)
        result = _result(outcome, stay, _survey_due(uow, stay))
        uow.commit()
    log.debug("stay %s %s", result.stay_id, outcome)
    return result


def check_in(
    uow: SqlUnitOfWork, clock: Clock, *, reference: str, timing: SurveyTiming | None = None
) -> UpsertResult:
    """Mark the reservation in house (a checked-out stay stays checked out) and schedule its pulse check.

    Raises NotFound for an unknown reservation.
    """
    ref = check_reference(reference)
    timing = timing or SurveyTiming()
    now = clock.now()
    with uow:
        stay = uow.stays.get_by_reference(ref)
        if stay is None:
            raise NotFound("stay", ref)
        changed = _mark_in_house(stay, now)
        uow.session.flush()
        if changed:
            schedule_pulse_check(uow, now, stay, timing, checked_in_at=now)
        result = _result(UPDATED if changed else UNCHANGED, stay)
        uow.commit()
    log.info("stay %s checked in", result.stay_id)
    return result


def check_out(
    uow: SqlUnitOfWork,
    clock: Clock,
    *,
    reference: str,
    checked_out_at: datetime | None = None,
    tz: tzinfo | None = None,
    survey_day_offset: int = SURVEY_DAY_OFFSET,
    survey_time: time = SURVEY_TIME,
    timing: SurveyTiming | None = None,
) -> UpsertResult:
    """Mark the reservation checked out and schedule its survey invitation; raise NotFound if unknown.

    ``timing`` (the policy's, see ``SurveyTiming.from_rules``) replaces ``tz``, ``survey_day_offset`` and
    ``survey_time``.
    """
    ref = check_reference(reference)
    timing = _timing(tz, survey_day_offset, survey_time, timing)
    now = clock.now()
    moment = ensure_utc(checked_out_at) if checked_out_at is not None else now
    with uow:
        stay = uow.stays.get_by_reference(ref)
        if stay is None:
            raise NotFound("stay", ref)
        changed, due = _mark_checked_out(uow, now, stay, moment, timing)
        result = _result(UPDATED if changed else UNCHANGED, stay, due)
        uow.commit()
    log.info("stay %s checked out", result.stay_id)
    return result


def apply_pms_event(
    uow: SqlUnitOfWork,
    clock: Clock,
    *,
    event_id: str,
    event_type: str,
    reservation: Reservation,
    tz: tzinfo | None = None,
    survey_day_offset: int = SURVEY_DAY_OFFSET,
    survey_time: time = SURVEY_TIME,
    timing: SurveyTiming | None = None,
) -> UpsertResult:
    """Apply one webhook event in one transaction: record its id (DuplicateEvent on replay), upsert, check in/out.

    A reservation or check-in of a long enough stay schedules its pulse check (see the module docstring).
    """
    if event_type not in EVENT_TYPES:
        raise ValidationError("type", f"expected one of {', '.join(EVENT_TYPES)}")
    timing = _timing(tz, survey_day_offset, survey_time, timing)
    key = event_key(event_id)
    now = clock.now()
    with uow:
        fresh = insert_ignoring_conflict(
            uow.session,
            ProcessedUpdate,
            {"source": PMS_EVENT_SOURCE, "update_id": key, "created_at": now, "updated_at": now},
            ("source", "update_id"),
        )
        if not fresh:
            raise DuplicateEvent(key)
        outcome, stay = apply_reservation(uow, now, replace(reservation, status=None), timing)
        checked_in = event_type == "check_in" and _mark_in_house(stay, now)
        if checked_in and outcome == UNCHANGED:
            outcome = UPDATED
        if event_type in ("reservation", "check_in"):
            uow.session.flush()
            schedule_pulse_check(uow, now, stay, timing, checked_in_at=now if event_type == "check_in" else None)
        if event_type == "check_out":
            changed, _ = _mark_checked_out(uow, now, stay, now, timing)
            if changed and outcome == UNCHANGED:
                outcome = UPDATED
        uow.session.flush()
        result = _result(outcome, stay, _survey_due(uow, stay))
        uow.commit()
    log.info("PMS %s event applied to stay %s: %s", event_type, result.stay_id, outcome)
    return result
