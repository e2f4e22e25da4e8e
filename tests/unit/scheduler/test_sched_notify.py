"""Test the default staff notifier and guest messenger: outbox rows on the right channel, once."""

from __future__ import annotations

from datetime import timezone

from bot.notify import CaseAlert, FollowUpFailure
from crm_store.model import OutboundMessage, OutboundStatus


def _alert(h, **kw):
    base = dict(
        event="escalated", reference="C-AAAAAA", rung="duty_manager", level=1, category="noise",
        severity="medium", room="412", status="open", ack_due_at=h.clock.now(), resolve_due_at=None,
        suggested_gestures=("room_move",), reason="ack_overdue", from_rung="front_desk",
    )
    base.update(kw)
    return CaseAlert(**base)


def test_outbox_staff_notifier_stages_card_for_the_rung(h):
    with h.uow() as tx:
        h.notifier.escalated(tx, _alert(h))
        tx.commit()
    [row] = h.all(OutboundMessage)
    assert (row.channel, row.recipient, row.status) == ("staff", "duty_manager", OutboundStatus.PENDING)
    assert row.body["event"] == "escalated" and row.body["suggested_gestures"] == ["room_move"]
    assert row.body["ack_due_at"] == h.clock.now().astimezone(timezone.utc).isoformat()


def test_outbox_staff_notifier_rolls_back_with_the_transaction(h):
    with h.uow() as tx:
        h.notifier.reopened(tx, _alert(h, event="reopened"))
    assert h.count(OutboundMessage) == 0


def test_outbox_staff_notifier_followup_failed_goes_to_failure_recipient(h):
    with h.uow() as tx:
        h.notifier.followup_failed(tx, FollowUpFailure("recovery_ask", "C-AAAAAA", 5, "RetryableError"))
        tx.commit()
    [row] = h.all(OutboundMessage)
    assert (row.recipient, row.body["type"], row.body["attempts"]) == ("duty_manager", "followup_failed", 5)


def test_outbox_guest_messenger_splits_sender_and_keeps_buttons(h):
    with h.uow() as tx:
        staged = h.messenger.deliver(
            tx, "tg:42", [{"recipient_id": "tg:42", "text": "Is it fixed?", "buttons": [{"title": "Yes"}]},
                          {"text": "second"}], source="recovery-ask:C-AAAAAA:0")
        tx.commit()
    assert staged == 2
    rows = h.all(OutboundMessage)
    assert [(r.channel, r.recipient) for r in rows] == [("tg", "42"), ("tg", "42")]
    assert rows[0].body == {"text": "Is it fixed?", "buttons": [{"title": "Yes"}], "source": "recovery-ask:C-AAAAAA:0"}


def test_outbox_guest_messenger_unnamespaced_sender_uses_rest(h):
    with h.uow() as tx:
        h.messenger.deliver(tx, "plain-id", [{"text": "hi"}], source="s")
        tx.commit()
    [row] = h.all(OutboundMessage)
    assert (row.channel, row.recipient) == ("rest", "plain-id")
