"""Attach evidence a guest sends (a photo) to the complaint they are making."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from crm_store.clock import Clock
from crm_store.errors import ValidationError
from crm_store.model import ComplaintAttachment, ComplaintEvent
from crm_store.services.guests import find_guest
from crm_store.unit_of_work import SqlUnitOfWork

log = logging.getLogger(__name__)

EVIDENCE_WINDOW = timedelta(minutes=30)
KINDS: frozenset[str] = frozenset({"photo", "document", "video"})
CAPTION_MAX_LENGTH = 1024


@dataclass(frozen=True)
class AttachmentInfo:
    """Describe evidence attached to a complaint."""

    attachment_id: int
    complaint_reference: str
    kind: str


def attach_to_recent_complaint(
    uow: SqlUnitOfWork,
    clock: Clock,
    channel: str,
    external_id: str,
    *,
    kind: str,
    file_ref: str,
    caption: str | None = None,
    window: timedelta = EVIDENCE_WINDOW,
) -> AttachmentInfo | None:
    """Attach a file to the guest's newest unresolved complaint opened within ``window``; None if there is none."""
    if kind not in KINDS:
        raise ValidationError("kind", f"expected one of {', '.join(sorted(KINDS))}")
    if not isinstance(file_ref, str) or not file_ref.strip() or len(file_ref) > 512:
        raise ValidationError("file_ref", "expected 1 to 512 characters")
    caption = caption.strip()[:CAPTION_MAX_LENGTH] or None if caption else None
    now = clock.now()
    with uow:
        guest = find_guest(uow, channel, external_id)
        if guest is None:
            return None
        complaint = uow.complaints.latest_unresolved_since(guest.id, now - window)
        if complaint is None:
            return None
        row = uow.complaints.add_attachment(
            ComplaintAttachment(
                complaint_id=complaint.id,
                kind=kind,
                file_ref=file_ref.strip(),
                caption=caption,
                created_at=now,
                updated_at=now,
            )
        )
        uow.complaints.add_event(
            ComplaintEvent(
                complaint_id=complaint.id,
                kind="evidence_added",
                actor="guest",
                detail={"attachment_id": row.id, "kind": kind},
                at=now,
                created_at=now,
                updated_at=now,
            )
        )
        info = AttachmentInfo(row.id, complaint.reference, kind)
        uow.commit()
    log.info("%s attached to complaint %s", kind, info.complaint_reference)
    return info
