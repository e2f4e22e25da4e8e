"""Consent opt-out/in, processed update ids, kept inbound messages, outbox failures, photo evidence."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crm_store.errors import ValidationError
from crm_store.model import ComplaintAttachment, ComplaintEvent, OutboundMessage, OutboundStatus
from crm_store.services.attachments import attach_to_recent_complaint
from crm_store.services.complaints import open_complaint
from crm_store.services.consent import is_opted_out, opt_in, opt_out
from crm_store.services.messaging import (
    claim_update,
    has_pending_inbound,
    keep_inbound,
    mark_inbound_answered,
    pending_inbound,
    record_outbound,
)


def test_consent_unknown_guest_not_opted_out_stop_then_start(uow, clock) -> None:
    assert is_opted_out(uow, "tg", "1") is False
    opt_out(uow, clock, "tg", "1", source="telegram:/stop")
    assert is_opted_out(uow, "tg", "1") is True
    clock.advance(timedelta(seconds=1))
    opt_in(uow, clock, "tg", "1", source="telegram:/start")
    assert is_opted_out(uow, "tg", "1") is False


def test_claim_update_first_true_redelivery_false(uow, clock) -> None:
    assert claim_update(uow, clock, "telegram", 10) is True
    assert claim_update(uow, clock, "telegram", 10) is False
    assert claim_update(uow, clock, "other", 10) is True
    with pytest.raises(ValidationError):
        claim_update(uow, clock, "telegram", "10")  # type: ignore[arg-type]


def test_inbound_kept_listed_oldest_first_until_answered(uow, clock) -> None:
    first = keep_inbound(uow, clock, "tg", "1", "first")
    clock.advance(timedelta(seconds=1))
    keep_inbound(uow, clock, "tg", "2", "second")
    assert [m.text for m in pending_inbound(uow)] == ["first", "second"]
    assert has_pending_inbound(uow, "tg", "1") is True
    mark_inbound_answered(uow, clock, first.id)
    assert has_pending_inbound(uow, "tg", "1") is False
    assert [m.text for m in pending_inbound(uow)] == ["second"]


def test_record_outbound_failed_row(uow, clock, db) -> None:
    record_outbound(uow, clock, "tg", "1", {"text": "hi"}, status="failed", attempts=4, error="NetworkError")
    row = db.all(OutboundMessage)[0]
    assert (row.status, row.attempts, row.last_error, row.sent_at) == (OutboundStatus.FAILED, 4, "NetworkError", None)
    with pytest.raises(ValidationError):
        record_outbound(uow, clock, "tg", "1", {}, status="lost", attempts=1)


def test_attach_photo_recent_complaint_attached_with_event(uow, clock, db, policy) -> None:
    info = open_complaint(uow, clock, policy, "tg", "1", category="noise", severity="low", room="412",
                          description="loud")
    result = attach_to_recent_complaint(uow, clock, "tg", "1", kind="photo", file_ref="AgAC", caption=" door ")
    assert result is not None and result.complaint_reference == info.reference
    assert db.all(ComplaintAttachment)[0].caption == "door"
    assert [e.kind for e in db.all(ComplaintEvent)] == ["opened", "evidence_added"]


def test_attach_photo_no_recent_complaint_returns_none(uow, clock, db, policy) -> None:
    assert attach_to_recent_complaint(uow, clock, "tg", "1", kind="photo", file_ref="AgAC") is None
    open_complaint(uow, clock, policy, "tg", "1", category="noise", severity="low", room="412", description="loud")
    clock.advance(timedelta(minutes=31))
    assert attach_to_recent_complaint(uow, clock, "tg", "1", kind="photo", file_ref="AgAC") is None
    assert db.count(ComplaintAttachment) == 0
