"""Test every complaint recovery transition, its events and follow-ups, with an injected clock."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from crm_store.errors import NotFound, ValidationError
from crm_store.model import Complaint, ComplaintEvent, ComplaintStatus, FollowUp, FollowUpStatus
from crm_store.recovery_policy import RecoveryPolicy, parse_policy
from crm_store.services import cases
from crm_store.services.complaints import open_complaint
from crm_store.services.guests import identify

ACK = timedelta(minutes=10)
RESOLVE = timedelta(hours=2)
DELAY = timedelta(minutes=30)
AUTOCLOSE = timedelta(hours=12)


@pytest.fixture
def policy() -> RecoveryPolicy:
    """Return a small explicit policy: three rungs; high and safety start at the duty manager."""
    return parse_policy(
        {
            "ladder": ["front_desk", "duty_manager", "general_manager"],
            "quiet_hours": None,
            "defaults": {
                "ack": "10m", "resolve": "2h", "follow_up_delay": "30m", "auto_close_after": "12h",
                "gestures": ["complimentary_drink"],
            },
            "severities": {"high": {"start_rung": "duty_manager", "ack": "5m"}},
            "categories": {
                "safety": {"start_rung": "duty_manager"},
                "billing": {"business_hours_only": True},
                "noise": {"gestures": ["room_move", "late_checkout"]},
            },
        },
        source="test.yml",
    )


def _open(uow, clock, policy, category="maintenance", severity="medium", sender=("tg", "1001")):
    return open_complaint(
        uow, clock, policy, *sender, category=category, severity=severity, room="412",
        description="the shower is broken",
    ).reference


def _followups(db, ref, kind=None, status=None):
    criteria = [FollowUp.subject == ref]
    if kind:
        criteria.append(FollowUp.kind == kind)
    if status:
        criteria.append(FollowUp.status == status)
    return db.all(FollowUp, *criteria)


def _keys(db, ref, kind, status=FollowUpStatus.PENDING):
    return [f.idempotency_key for f in _followups(db, ref, kind, status)]


def _events(db, ref):
    [complaint] = db.all(Complaint, Complaint.reference == ref)
    return db.all(ComplaintEvent, ComplaintEvent.complaint_id == complaint.id)


def _complaint(db, ref) -> Complaint:
    [complaint] = db.all(Complaint, Complaint.reference == ref)
    return complaint


def _alerts(db, ref):
    return [(f.payload["event"], f.payload["rung"]) for f in _followups(db, ref, cases.KIND_STAFF_ALERT)]


def _ack_deadline(uow, clock, policy, ref, cycle=0, level=0):
    """Run the ack deadline as the dispatcher would: effects and the row marked sent together."""
    key = f"sla-ack:{ref}" if (cycle, level) == (0, 0) else f"sla-ack:{ref}:{cycle}:{level}"
    with uow:
        outcome = cases.on_ack_deadline(uow, clock.now(), policy, ref, cycle=cycle, level=level)
        if outcome.result != "deferred":
            uow.session.execute(
                update(FollowUp).where(FollowUp.idempotency_key == key).values(status=FollowUpStatus.SENT)
            )
        uow.commit()
    return outcome


def test_cases_ack_deadline_before_due_defers(uow, clock, policy, db):
    ref = _open(uow, clock, policy)
    clock.advance(ACK / 2)
    outcome = _ack_deadline(uow, clock, policy, ref)
    assert outcome.result == "deferred" and outcome.until == _complaint(db, ref).ack_due_at
    assert _complaint(db, ref).escalation_level == 0


def test_cases_ack_deadline_missed_escalates_one_rung_and_schedules_next(uow, clock, policy, db):
    ref = _open(uow, clock, policy)
    clock.advance(ACK)
    assert _ack_deadline(uow, clock, policy, ref).result == "escalated"
    complaint = _complaint(db, ref)
    assert (complaint.status, complaint.escalation_level) == (ComplaintStatus.OPEN, 1)
    assert complaint.ack_due_at == clock.now() + ACK
    escalated = [e for e in _events(db, ref) if e.kind == "escalated"]
    assert len(escalated) == 1
    assert escalated[0].actor == "scheduler" and escalated[0].at == clock.now()
    assert escalated[0].detail["from_rung"] == "front_desk" and escalated[0].detail["to_rung"] == "duty_manager"
    assert _keys(db, ref, cases.KIND_SLA_ACK) == [f"sla-ack:{ref}:0:1"]
    [next_ack] = _followups(db, ref, cases.KIND_SLA_ACK, FollowUpStatus.PENDING)
    assert next_ack.due_at == clock.now() + ACK and next_ack.payload == {"reference": ref, "cycle": 0, "level": 1}
    assert _alerts(db, ref) == [("escalated", "duty_manager")]


def test_cases_ack_deadline_at_top_records_breach_without_more_clocks(uow, clock, policy, db):
    ref = _open(uow, clock, policy)
    for level in (0, 1):
        clock.advance(ACK)
        assert _ack_deadline(uow, clock, policy, ref, level=level).result == "escalated"
    clock.advance(ACK)
    assert _ack_deadline(uow, clock, policy, ref, level=2).result == "breached"
    assert _complaint(db, ref).escalation_level == 2
    assert [e.kind for e in _events(db, ref)][-1] == "sla_breached"
    assert _alerts(db, ref)[-1] == ("sla_breached", "general_manager")
    assert _keys(db, ref, cases.KIND_SLA_ACK) == []
    assert _keys(db, ref, cases.KIND_SLA_ACK, FollowUpStatus.SENT)[-1] == f"sla-ack:{ref}:0:2"


def test_cases_ack_deadline_after_acknowledge_is_stale(uow, clock, policy, db):
    ref = _open(uow, clock, policy)
    cases.acknowledge(uow, clock, policy, ref, actor="staff:anna")
    clock.advance(ACK)
    assert _ack_deadline(uow, clock, policy, ref).result == "stale"
    assert _complaint(db, ref).escalation_level == 0


def test_cases_ack_deadline_for_an_old_level_is_stale(uow, clock, policy, db):
    ref = _open(uow, clock, policy)
    clock.advance(ACK)
    _ack_deadline(uow, clock, policy, ref, level=0)
    clock.advance(ACK)
    assert _ack_deadline(uow, clock, policy, ref, level=0).result == "stale"


def test_cases_safety_complaint_starts_at_duty_manager(uow, clock, policy, db):
    ref = _open(uow, clock, policy, category="safety", severity="low")
    info = cases.get_case(uow, policy, ref)
    assert (info.rung, info.escalation_level, info.severity) == ("duty_manager", 0, "high")
    high = cases.get_case(uow, policy, _open(uow, clock, policy, severity="high", sender=("tg", "2")))
    assert high.rung == "duty_manager"


def test_cases_business_hours_only_first_ack_defers_to_office_time(uow, clock, policy, db):
    from datetime import datetime, timezone

    clock.set(datetime(2026, 6, 5, 20, 0, tzinfo=timezone.utc))  # Friday evening
    ref = _open(uow, clock, policy, category="billing")
    clock.advance(ACK)
    outcome = _ack_deadline(uow, clock, policy, ref)
    assert outcome.result == "deferred"
    assert outcome.until == datetime(2026, 6, 8, 9, 10, tzinfo=timezone.utc)
    assert _complaint(db, ref).ack_due_at == outcome.until


def test_cases_acknowledge_stops_ack_clock_and_starts_resolve_clock(uow, clock, policy, db):
    ref = _open(uow, clock, policy)
    opened = clock.now()
    clock.advance(timedelta(minutes=3))
    info = cases.acknowledge(uow, clock, policy, ref, actor="staff:anna")
    assert info.status == "acknowledged" and info.acknowledged_at == clock.now()
    assert info.resolve_due_at == opened + RESOLVE
    assert _keys(db, ref, cases.KIND_SLA_ACK) == []
    assert _keys(db, ref, cases.KIND_SLA_ACK, FollowUpStatus.CANCELLED) == [f"sla-ack:{ref}"]
    [resolve_check] = _followups(db, ref, cases.KIND_SLA_RESOLVE)
    assert resolve_check.idempotency_key == f"sla-resolve:{ref}:0:0"
    assert resolve_check.due_at == opened + RESOLVE
    [event] = [e for e in _events(db, ref) if e.kind == "acknowledged"]
    assert (event.actor, event.at) == ("staff:anna", clock.now())


def test_cases_acknowledge_twice_raises_validation_error(uow, clock, policy):
    ref = _open(uow, clock, policy)
    cases.acknowledge(uow, clock, policy, ref, actor="staff:anna")
    with pytest.raises(ValidationError, match="cannot acknowledge an? acknowledged"):
        cases.acknowledge(uow, clock, policy, ref, actor="staff:anna")


def test_cases_unknown_reference_raises_not_found(uow, clock, policy):
    with pytest.raises(NotFound):
        cases.acknowledge(uow, clock, policy, "C-NOPE22", actor="staff:anna")


def test_cases_empty_actor_raises_validation_error(uow, clock, policy):
    ref = _open(uow, clock, policy)
    with pytest.raises(ValidationError, match="actor"):
        cases.acknowledge(uow, clock, policy, ref, actor="  ")


def test_cases_resolve_deadline_missed_escalates_acknowledged_case(uow, clock, policy, db):
    ref = _open(uow, clock, policy)
    cases.acknowledge(uow, clock, policy, ref, actor="staff:anna")
    clock.advance(RESOLVE)
    with uow:
        outcome = cases.on_resolve_deadline(uow, clock.now(), policy, ref, cycle=0, level=0)
        uow.commit()
    assert outcome.result == "escalated"
    complaint = _complaint(db, ref)
    assert (complaint.status, complaint.escalation_level) == (ComplaintStatus.ACKNOWLEDGED, 1)
    assert _keys(db, ref, cases.KIND_SLA_RESOLVE) == [f"sla-resolve:{ref}:0:0", f"sla-resolve:{ref}:0:1"]
    assert complaint.resolve_due_at == clock.now() + RESOLVE
    assert _alerts(db, ref) == [("escalated", "duty_manager")]


def test_cases_resolve_schedules_guest_follow_up_and_cancels_clocks(uow, clock, policy, db):
    ref = _open(uow, clock, policy)
    cases.acknowledge(uow, clock, policy, ref, actor="staff:anna")
    clock.advance(timedelta(minutes=40))
    info = cases.resolve(uow, clock, policy, ref, actor="staff:anna")
    assert info.status == "resolved" and info.resolved_at == clock.now()
    assert _keys(db, ref, cases.KIND_SLA_RESOLVE) == []
    [ask] = _followups(db, ref, cases.KIND_RECOVERY_ASK)
    assert ask.idempotency_key == f"recovery-ask:{ref}:0"
    assert ask.due_at == clock.now() + DELAY
    assert ask.payload == {"reference": ref, "cycle": 0, "sender": "tg:1001"}


def test_cases_resolve_without_ack_acknowledges_implicitly(uow, clock, policy, db):
    ref = _open(uow, clock, policy)
    info = cases.resolve(uow, clock, policy, ref, actor="staff:bo")
    assert info.acknowledged_at == clock.now()
    assert _keys(db, ref, cases.KIND_SLA_ACK) == []
    [resolved] = [e for e in _events(db, ref) if e.kind == "resolved"]
    assert resolved.detail["implicit_ack"] is True


def test_cases_resolve_in_quiet_hours_asks_when_they_end(uow, clock, db):
    from datetime import datetime, timezone

    quiet = parse_policy({"quiet_hours": "22:00-08:00", "defaults": {"follow_up_delay": "30m"}})
    clock.set(datetime(2026, 6, 1, 21, 50, tzinfo=timezone.utc))
    ref = _open(uow, clock, quiet)
    cases.resolve(uow, clock, quiet, ref, actor="staff:bo")
    [ask] = _followups(db, ref, cases.KIND_RECOVERY_ASK)
    assert ask.due_at == datetime(2026, 6, 2, 8, 0, tzinfo=timezone.utc)


def test_cases_resolve_with_gesture_records_the_choice(uow, clock, policy, db):
    ref = _open(uow, clock, policy, category="noise")
    info = cases.get_case(uow, policy, ref)
    assert info.suggested_gestures == ("room_move", "late_checkout")
    info = cases.resolve(uow, clock, policy, ref, actor="staff:bo", gesture="Room move")
    assert info.chosen_gesture == "room_move"
    [event] = [e for e in _events(db, ref) if e.kind == "gesture_chosen"]
    assert event.detail == {"gesture": "room_move", "suggested": True} and event.actor == "staff:bo"


def test_cases_record_gesture_choice_outside_suggestions_is_kept(uow, clock, policy, db):
    ref = _open(uow, clock, policy)
    info = cases.record_gesture_choice(uow, clock, policy, ref, actor="staff:bo", gesture="spa_voucher")
    assert info.chosen_gesture == "spa_voucher"
    assert [e.detail for e in _events(db, ref) if e.kind == "gesture_chosen"] == [
        {"gesture": "spa_voucher", "suggested": False}]
    with pytest.raises(ValidationError, match="gesture"):
        cases.record_gesture_choice(uow, clock, policy, ref, actor="staff:bo", gesture=" ")


def test_cases_resolve_closed_case_raises_validation_error(uow, clock, policy):
    ref = _open(uow, clock, policy)
    cases.resolve(uow, clock, policy, ref, actor="staff:bo")
    with pytest.raises(ValidationError, match="cannot resolve a resolved"):
        cases.resolve(uow, clock, policy, ref, actor="staff:bo")


def _resolve_and_ask(uow, clock, policy, ref, cycle=0):
    cases.resolve(uow, clock, policy, ref, actor="staff:bo")
    clock.advance(DELAY)
    with uow:
        assert cases.recovery_target(uow, ref, cycle) == "tg:1001"
        asked = cases.on_guest_asked(uow, clock.now(), policy, ref, cycle=cycle)
        uow.commit()
    return asked


def test_cases_guest_asked_schedules_auto_close(uow, clock, policy, db):
    ref = _open(uow, clock, policy)
    assert _resolve_and_ask(uow, clock, policy, ref) is True
    [autoclose] = _followups(db, ref, cases.KIND_RECOVERY_AUTOCLOSE)
    assert autoclose.idempotency_key == f"recovery-autoclose:{ref}:0"
    assert autoclose.due_at == clock.now() + AUTOCLOSE
    assert [e.kind for e in _events(db, ref)][-1] == "guest_asked"


def test_cases_guest_asked_after_confirmation_is_stale(uow, clock, policy, db):
    ref = _open(uow, clock, policy)
    cases.resolve(uow, clock, policy, ref, actor="staff:bo")
    cases.confirm_fixed(uow, clock, policy, ref)
    with uow:
        assert cases.recovery_target(uow, ref, 0) is None
        assert cases.on_guest_asked(uow, clock.now(), policy, ref, cycle=0) is False


def test_cases_auto_close_marks_not_confirmed_and_tells_staff(uow, clock, policy, db):
    ref = _open(uow, clock, policy)
    _resolve_and_ask(uow, clock, policy, ref)
    clock.advance(AUTOCLOSE)
    with uow:
        assert cases.on_auto_close(uow, clock.now(), policy, ref, cycle=0) is True
        uow.commit()
    assert _complaint(db, ref).status == ComplaintStatus.CLOSED_UNCONFIRMED
    assert _alerts(db, ref)[-1] == ("closed_unconfirmed", "front_desk")
    with uow:
        assert cases.on_auto_close(uow, clock.now(), policy, ref, cycle=0) is False


def test_cases_confirm_fixed_closes_and_cancels_follow_ups(uow, clock, policy, db):
    ref = _open(uow, clock, policy)
    _resolve_and_ask(uow, clock, policy, ref)
    info = cases.confirm_fixed(uow, clock, policy, ref, actor="guest", sender=("tg", "1001"))
    assert info.status == "confirmed"
    assert _keys(db, ref, cases.KIND_RECOVERY_AUTOCLOSE) == []
    assert _keys(db, ref, cases.KIND_RECOVERY_AUTOCLOSE, FollowUpStatus.CANCELLED) == [f"recovery-autoclose:{ref}:0"]
    assert _alerts(db, ref)[-1] == ("resolved_confirmed", "front_desk")
    [event] = [e for e in _events(db, ref) if e.kind == "confirmed"]
    assert (event.actor, event.at) == ("guest", clock.now())


def test_cases_confirm_after_auto_close_is_a_late_confirmation(uow, clock, policy, db):
    ref = _open(uow, clock, policy)
    _resolve_and_ask(uow, clock, policy, ref)
    with uow:
        cases.on_auto_close(uow, clock.now(), policy, ref, cycle=0)
        uow.commit()
    assert cases.confirm_fixed(uow, clock, policy, ref).status == "confirmed"
    assert [e.detail.get("late") for e in _events(db, ref) if e.kind == "confirmed"] == [True]


def test_cases_confirm_by_another_guest_raises_not_found(uow, clock, policy):
    ref = _open(uow, clock, policy)
    identify(uow, clock, "tg", "666")
    cases.resolve(uow, clock, policy, ref, actor="staff:bo")
    with pytest.raises(NotFound):
        cases.confirm_fixed(uow, clock, policy, ref, sender=("tg", "666"))
    with pytest.raises(NotFound):
        cases.reopen(uow, clock, policy, ref, actor="guest", sender=("tg", "666"))


def test_cases_confirm_open_case_raises_validation_error(uow, clock, policy):
    ref = _open(uow, clock, policy)
    with pytest.raises(ValidationError, match="cannot confirm an? open"):
        cases.confirm_fixed(uow, clock, policy, ref)


def test_cases_reopen_escalates_one_rung_restarts_clocks_and_tells_staff(uow, clock, policy, db):
    ref = _open(uow, clock, policy)
    cases.acknowledge(uow, clock, policy, ref, actor="staff:anna")
    _resolve_and_ask(uow, clock, policy, ref)
    info = cases.reopen(uow, clock, policy, ref, actor="guest", reason="guest_not_fixed", sender=("tg", "1001"))
    assert (info.status, info.escalation_level, info.rung, info.cycle) == ("reopened", 1, "duty_manager", 1)
    assert info.ack_due_at == clock.now() + ACK and info.acknowledged_at is None and info.resolved_at is None
    kinds = [e.kind for e in _events(db, ref)]
    assert kinds[-2:] == ["reopened", "escalated"]
    assert _keys(db, ref, cases.KIND_RECOVERY_AUTOCLOSE) == []
    assert _keys(db, ref, cases.KIND_SLA_ACK) == [f"sla-ack:{ref}:1:1"]
    assert _alerts(db, ref)[-1] == ("reopened", "duty_manager")
    assert [a for a, _ in _alerts(db, ref)].count("escalated") == 0


def test_cases_second_round_uses_new_keys_and_closes_on_confirmation(uow, clock, policy, db):
    ref = _open(uow, clock, policy)
    _resolve_and_ask(uow, clock, policy, ref)
    cases.reopen(uow, clock, policy, ref, actor="guest")
    clock.advance(timedelta(minutes=2))
    cases.acknowledge(uow, clock, policy, ref, actor="staff:dm")
    assert _keys(db, ref, cases.KIND_SLA_RESOLVE) == [f"sla-resolve:{ref}:1:1"]
    assert _resolve_and_ask(uow, clock, policy, ref, cycle=1) is True
    assert _keys(db, ref, cases.KIND_RECOVERY_ASK, FollowUpStatus.PENDING) == [f"recovery-ask:{ref}:1"]
    assert cases.confirm_fixed(uow, clock, policy, ref).status == "confirmed"


def test_cases_reopen_at_top_stays_top_and_restarts_ack_clock(uow, clock, policy, db):
    ref = _open(uow, clock, policy, category="safety")
    cases.escalate(uow, clock, policy, ref, actor="staff:dm")
    cases.resolve(uow, clock, policy, ref, actor="staff:gm")
    info = cases.reopen(uow, clock, policy, ref, actor="guest")
    assert (info.escalation_level, info.rung, info.at_top) == (1, "general_manager", True)
    assert _keys(db, ref, cases.KIND_SLA_ACK) == [f"sla-ack:{ref}:1:1"]
    assert _alerts(db, ref)[-1] == ("reopened", "general_manager")


def test_cases_reopen_open_case_raises_validation_error(uow, clock, policy):
    ref = _open(uow, clock, policy)
    with pytest.raises(ValidationError, match="cannot reopen an? open"):
        cases.reopen(uow, clock, policy, ref, actor="guest")


def test_cases_escalate_by_hand_records_actor_and_reason(uow, clock, policy, db):
    ref = _open(uow, clock, policy)
    info = cases.escalate(uow, clock, policy, ref, actor="staff:anna", reason="vip guest")
    assert (info.escalation_level, info.rung) == (1, "duty_manager")
    [event] = [e for e in _events(db, ref) if e.kind == "escalated"]
    assert event.actor == "staff:anna" and event.detail["reason"] == "vip guest"
    assert _keys(db, ref, cases.KIND_SLA_ACK) == [f"sla-ack:{ref}:0:1"]
    assert _keys(db, ref, cases.KIND_SLA_ACK, FollowUpStatus.CANCELLED) == [f"sla-ack:{ref}"]


def test_cases_escalate_at_top_raises_validation_error(uow, clock, policy):
    ref = _open(uow, clock, policy, category="safety")
    cases.escalate(uow, clock, policy, ref, actor="staff:dm")
    with pytest.raises(ValidationError, match="top of the ladder"):
        cases.escalate(uow, clock, policy, ref, actor="staff:dm")


def test_cases_escalate_resolved_case_raises_validation_error(uow, clock, policy):
    ref = _open(uow, clock, policy)
    cases.resolve(uow, clock, policy, ref, actor="staff:bo")
    with pytest.raises(ValidationError, match="cannot escalate"):
        cases.escalate(uow, clock, policy, ref, actor="staff:bo")


def test_cases_open_case_alerts_staff_in_the_same_transaction(uow, clock, policy, db):
    info = cases.open_case(
        uow, clock, policy, "tg", "1001", category="noise", severity="medium", room="301",
        description="party next door",
    )
    assert _alerts(db, info.reference) == [("complaint_opened", "front_desk")]
    assert _keys(db, info.reference, cases.KIND_SLA_ACK) == [f"sla-ack:{info.reference}"]


def test_cases_resolve_guest_without_channel_schedules_auto_close(uow, clock, policy, db, guest_id):
    from crm_store.model import ChannelIdentity
    from sqlalchemy import delete

    ref = _open(uow, clock, policy)
    with db.session_factory() as session:
        session.execute(delete(ChannelIdentity))
        session.commit()
    cases.resolve(uow, clock, policy, ref, actor="staff:bo")
    assert _keys(db, ref, cases.KIND_RECOVERY_ASK) == []
    [autoclose] = _followups(db, ref, cases.KIND_RECOVERY_AUTOCLOSE)
    assert autoclose.payload["reason"] == "guest_unreachable"


def test_cases_events_trail_lists_who_did_what(uow, clock, policy):
    ref = _open(uow, clock, policy)
    cases.acknowledge(uow, clock, policy, ref, actor="staff:anna")
    trail = cases.case_events(uow, ref)
    assert [(kind, actor) for kind, actor, _, _ in trail] == [("opened", "guest"), ("acknowledged", "staff:anna")]
