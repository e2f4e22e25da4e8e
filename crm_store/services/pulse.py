"""Run the in-stay pulse check: "How is everything so far?" (1–5) on day 2 of a stay of three or more nights.

``stays`` schedules one ``pulse_check`` follow-up per long enough stay (key ``pulse:<reference>``). When
it fires, the scheduler asks ``plan_pulse`` (reads only): it re-checks the stay (still in the hotel, long
enough, the planned moment reached, else deferred) and the guest (not opted out, a linked chat), then
triggers ``EXTERNAL_pulse_check`` in Rasa and calls ``record_pulse_asked``. The guest's answer comes back
through ``record_pulse``, which keeps the score on the follow-up's payload (``answer``) and, for a score of
2 or less, schedules a ``feedback_alert`` so staff can act while the guest is still in the hotel.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from crm_store.clock import Clock
from crm_store.errors import ValidationError
from crm_store.model import Stay, StayStatus
from crm_store.policy import SlaPolicy
from crm_store.recovery_policy import as_recovery_policy
from crm_store.services.feedback_alerts import (
    SOURCE_PULSE,
    guest_sender,
    note_followup,
    schedule_feedback_alert,
    stay_facts,
)
from crm_store.services.guests import resolve_guest
from crm_store.services.stays import PULSE_KIND, SurveyTiming, pulse_key, pulse_planned_at, stay_nights
from crm_store.services.survey_invites import (
    SENT,
    SKIP_NO_IDENTITY,
    SKIP_OPTED_OUT,
    SKIP_STAY_GONE,
    opted_out,
)
from crm_store.unit_of_work import SqlUnitOfWork

log = logging.getLogger(__name__)

KIND_PULSE_CHECK = PULSE_KIND
LOW_PULSE_MAX = 2  # a score of 1 or 2 alerts staff
SKIP_NOT_IN_HOUSE = "not_in_house"
SKIP_STAY_OVER = "stay_over"
SKIP_TOO_SHORT = "too_short"
EARLY_TOLERANCE = timedelta(seconds=1)


@dataclass(frozen=True)
class PulsePlan:
    """Say whether to ask now (``send``, to ``sender``), later (``defer_until``), or never (``reason``)."""

    send: bool
    reason: str | None = None
    sender: str | None = None
    defer_until: datetime | None = None


@dataclass(frozen=True)
class PulseResult:
    """Describe a recorded pulse answer and whether staff were alerted."""

    score: int
    reservation_ref: str | None
    staff_alerted: bool


def _in_house(stay: Stay, now: datetime) -> bool:
    status = StayStatus(stay.status)
    if status is StayStatus.IN_HOUSE:
        return True
    return status is StayStatus.BOOKED and stay.arrival <= now < stay.departure


def plan_pulse(
    uow: SqlUnitOfWork, now: datetime, reference: str, *, timing: SurveyTiming, planned_at: datetime | None
) -> PulsePlan:
    """Decide whether to ask the stay's guest now (reads only); see the module docstring."""
    stay = uow.stays.get_by_reference(reference)
    if stay is None:
        return PulsePlan(False, SKIP_STAY_GONE)
    if now >= stay.departure or StayStatus(stay.status) in (StayStatus.CHECKED_OUT, StayStatus.CANCELLED,
                                                              StayStatus.NO_SHOW):
        return PulsePlan(False, SKIP_STAY_OVER)
    if stay_nights(stay.arrival, stay.departure, timing.tz) < timing.pulse_min_nights:
        return PulsePlan(False, SKIP_TOO_SHORT)
    planned = planned_at if timing.pulse_delay is not None and planned_at else pulse_planned_at(stay.arrival, timing)
    if now + EARLY_TOLERANCE < planned:
        return PulsePlan(False, None, None, planned)  # the stay moved: ask on its new day 2
    if not _in_house(stay, now):
        return PulsePlan(False, SKIP_NOT_IN_HOUSE)
    if opted_out(uow, stay.guest_id):
        return PulsePlan(False, SKIP_OPTED_OUT)
    sender = guest_sender(uow, stay.guest_id)
    if sender is None:
        return PulsePlan(False, SKIP_NO_IDENTITY)
    return PulsePlan(True, None, sender)


def record_pulse_asked(uow: SqlUnitOfWork, now: datetime, reference: str, sender: str) -> None:
    """Note on the follow-up that the guest was asked (inside the settling transaction)."""
    note_followup(uow, pulse_key(reference), now, result=SENT, sender=sender, sent_at=now.isoformat())


def record_pulse_skipped(uow: SqlUnitOfWork, now: datetime, reference: str, reason: str) -> None:
    """Note on the follow-up why the guest was not asked."""
    note_followup(uow, pulse_key(reference), now, result=reason)
    log.info("pulse check not sent: %s", reason)


def record_pulse(
    uow: SqlUnitOfWork, clock: Clock, policy: SlaPolicy, channel: str, external_id: str, *, score: int
) -> PulseResult:
    """Keep the guest's pulse score on their stay's pulse check; a score of 1–2 alerts staff (one transaction)."""
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise ValidationError("score", "expected a whole number from 1 to 5")
    recovery = as_recovery_policy(policy)
    now = clock.now()
    with uow:
        guest = resolve_guest(uow, now, channel, external_id)
        uow.guests.lock(guest.id, now)
        stay = uow.stays.current_for(guest.id, now) or uow.stays.latest_started_for(guest.id, now)
        reference = stay.reservation_ref if stay is not None else None
        if reference is not None:
            followup = uow.followups.get_by_key(pulse_key(reference))
            answers = list((followup.payload or {}).get("answers") or []) if followup is not None else []
            answers.append({"score": score, "at": now.isoformat()})
            note_followup(uow, pulse_key(reference), now, answer=score, answered_at=now.isoformat(), answers=answers)
        alerted = False
        if score <= LOW_PULSE_MAX:
            key = f"pulse:{reference}" if reference else f"pulse:guest-{guest.id}:{now.date().isoformat()}"
            alerted = schedule_feedback_alert(
                uow,
                now,
                key=key,
                subject=reference or f"guest-{guest.id}",
                payload={
                    "source": SOURCE_PULSE,
                    "reference": None,
                    "rung": recovery.rung("other", "high" if score == 1 else "medium", 0),
                    "reasons": ["low_pulse"],
                    "score": score,
                    "in_house": stay is not None and _in_house(stay, now),
                    **stay_facts(uow, guest, stay, recovery.tz),
                },
            )
        result = PulseResult(score=score, reservation_ref=reference, staff_alerted=alerted)
        uow.commit()
    log.info("pulse score %d recorded for guest %s (staff alerted: %s)", score, guest.id, alerted)
    return result


__all__ = ["KIND_PULSE_CHECK", "PulsePlan", "PulseResult", "plan_pulse", "record_pulse",
           "record_pulse_asked", "record_pulse_skipped"]
