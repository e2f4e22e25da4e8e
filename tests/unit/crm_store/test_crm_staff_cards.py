"""Test the staff desk's store: claimed hand-offs, idle hand-offs, case cards and the open-case list."""

from __future__ import annotations

from datetime import timedelta

from crm_store.model import HumanHandoff, StaffMember
from crm_store.services import cases, staff_cards
from crm_store.services.handoff import active_handoff, claim_handoff, idle_handoffs, request_human, touch_handoff


def test_claim_handoff_opens_claimed_owner_changes_only_once(uow, clock, db) -> None:
    first, changed = claim_handoff(uow, clock, "tg", "5", owner="tg:501")
    assert (first.status, first.owner, changed) == ("claimed", "tg:501", True)
    again, changed = claim_handoff(uow, clock, "tg", "5", owner="tg:501")
    assert (again.id, changed) == (first.id, False)
    other, changed = claim_handoff(uow, clock, "tg", "5", owner="tg:502")
    assert (other.id, other.owner, changed) == (first.id, "tg:502", True)
    assert db.count(HumanHandoff) == 1


def test_claim_handoff_takes_over_a_requested_handoff(uow, clock) -> None:
    requested = request_human(uow, clock, "tg", "5", reason="guest_asked")
    claimed, changed = claim_handoff(uow, clock, "tg", "5", owner="tg:501")
    assert (claimed.id, claimed.status, changed) == (requested.id, "claimed", True)
    assert active_handoff(uow, "tg", "5") == claimed


def test_idle_handoffs_by_last_activity(uow, clock) -> None:
    info, _ = claim_handoff(uow, clock, "tg", "5", owner="tg:501")
    clock.advance(timedelta(minutes=20))
    touch_handoff(uow, clock, info.id)
    clock.advance(timedelta(minutes=29))
    assert idle_handoffs(uow, clock, timedelta(minutes=30)) == []
    clock.advance(timedelta(minutes=1))
    assert [h.id for h in idle_handoffs(uow, clock, timedelta(minutes=30))] == [info.id]


def test_staff_member_only_active_rows(uow, session_factory) -> None:
    with session_factory() as session:
        session.add_all([StaffMember(telegram_user_id=1, name="Marco", role="front_desk", on_duty=True, active=True),
                         StaffMember(telegram_user_id=2, name="Old", role="front_desk", on_duty=False, active=False)])
        session.commit()
    assert staff_cards.staff_member(uow, 1).name == "Marco"
    assert staff_cards.staff_member(uow, 2) is None
    assert staff_cards.staff_member(uow, 3) is None


def test_case_card_saved_named_linked_and_owned_conversation(uow, clock, policy) -> None:
    ref = cases.open_case(uow, clock, policy, "tg", "5", category="noise", severity="low", room="12",
                          description="party next door").reference
    assert staff_cards.case_card(uow, policy, ref).card is None
    staff_cards.save_card(uow, clock, ref, -100, 7)
    staff_cards.note_name(uow, clock, ref, "tg:501", "Marco  Bianchi")
    info, _ = claim_handoff(uow, clock, "tg", "5", owner="tg:501")
    staff_cards.link_handoff(uow, clock, ref, info.id)
    card = staff_cards.case_card(uow, policy, ref)
    assert (card.card.chat_id, card.card.message_id, card.card.names) == (-100, 7, {"tg:501": "Marco Bianchi"})
    assert (card.contact, card.handoff_owner, card.guest_verified) == (("tg", "5"), "tg:501", False)
    owned = staff_cards.owned_conversation(uow, "tg", "5")
    assert (owned.reference, owned.chat_id, owned.message_id) == (ref, -100, 7)
    assert staff_cards.handoff_state(uow, info.id) == (True, ("tg", "5"))
    assert staff_cards.record_desk_event(uow, clock, ref, "staff_replied", "tg:501", handoff_id=info.id)
    assert cases.case_events(uow, ref)[-1][:2] == ("staff_replied", "tg:501")


def test_open_cases_by_next_deadline_resolved_left_out(uow, clock, policy) -> None:
    low = cases.open_case(uow, clock, policy, "tg", "5", category="noise", severity="low", room=None,
                          description="a").reference
    high = cases.open_case(uow, clock, policy, "tg", "6", category="safety", severity="low", room=None,
                           description="b").reference
    done = cases.open_case(uow, clock, policy, "tg", "7", category="noise", severity="medium", room=None,
                           description="c").reference
    cases.resolve(uow, clock, policy, done, actor="tg:1")
    assert [c.reference for c in staff_cards.open_cases(uow, policy)] == [high, low]
