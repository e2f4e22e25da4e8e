"""Record, list and delete a guest's typed preferences."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from crm_store.clock import Clock
from crm_store.errors import ValidationError
from crm_store.model import Preference, PreferenceStatus
from crm_store.services.guests import find_guest, resolve_guest
from crm_store.unit_of_work import SqlUnitOfWork

log = logging.getLogger(__name__)

PREFERENCE_CATEGORIES: frozenset[str] = frozenset(
    {
        "bed_type",
        "pillow",
        "floor",
        "quiet_room",
        "smoking",
        "temperature",
        "dietary",
        "allergy",
        "newspaper",
        "early_checkin",
        "late_checkout",
        "accessibility",
        "interest",
        "note",  # free-text request that matched no typed category (kept verbatim, never superseded)
    }
)
MULTI_VALUED_CATEGORIES: frozenset[str] = frozenset(
    {"allergy", "dietary", "interest", "accessibility", "note"}
)
VALUE_MAX_LENGTH = 128
SOURCE_TEXT_MAX_LENGTH = 4000


@dataclass(frozen=True)
class PreferenceInfo:
    """Describe one stored preference; ``replaced_value`` is the value it superseded, if any."""

    id: int
    category: str
    value: str
    source_text: str | None
    captured_at: datetime
    confidence: float
    replaced_value: str | None = None


def _info(row: Preference, replaced_value: str | None = None) -> PreferenceInfo:
    return PreferenceInfo(
        id=row.id,
        category=row.category,
        value=row.value,
        source_text=row.source_text,
        captured_at=row.captured_at,
        confidence=row.confidence,
        replaced_value=replaced_value,
    )


def _check_category(category: str) -> str:
    category = category.strip().lower() if isinstance(category, str) else ""
    if category not in PREFERENCE_CATEGORIES:
        raise ValidationError("category", f"unknown preference category {category!r}")
    return category


def _check_value(value: str) -> str:
    value = value.strip() if isinstance(value, str) else ""
    if not value:
        raise ValidationError("value", "empty")
    if len(value) > VALUE_MAX_LENGTH:
        raise ValidationError("value", f"longer than {VALUE_MAX_LENGTH} characters")
    return value


def record_preference(
    uow: SqlUnitOfWork,
    clock: Clock,
    channel: str,
    external_id: str,
    *,
    category: str,
    value: str,
    source_text: str | None,
    confidence: float = 1.0,
) -> PreferenceInfo:
    """Store a preference; a new value supersedes the old one unless the category is multi-valued."""
    category = _check_category(category)
    value = _check_value(value)
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0.0 <= confidence <= 1.0:
        raise ValidationError("confidence", "expected a number between 0 and 1")
    if source_text is not None:
        source_text = source_text.strip()[:SOURCE_TEXT_MAX_LENGTH] or None
    now = clock.now()
    with uow:
        guest = resolve_guest(uow, now, channel, external_id)
        uow.guests.lock(guest.id, now)
        active = uow.preferences.active(guest.id, category)
        for existing in active:
            if existing.value == value:
                info = _info(existing)
                uow.commit()
                return info
        row = uow.preferences.add(
            Preference(
                guest_id=guest.id,
                category=category,
                value=value,
                source_text=source_text,
                captured_at=now,
                confidence=float(confidence),
                status=PreferenceStatus.ACTIVE,
                created_at=now,
                updated_at=now,
            )
        )
        replaced: str | None = None
        if category not in MULTI_VALUED_CATEGORIES:
            for old in active:
                old.status = PreferenceStatus.SUPERSEDED
                old.superseded_by = row.id
                old.updated_at = now
                replaced = old.value
        uow.session.flush()
        info = _info(row, replaced)
        uow.commit()
    log.info(
        "guest %s preference %s recorded (supersedes: %s)", guest.id, category, replaced is not None
    )
    return info


def list_preferences(uow: SqlUnitOfWork, channel: str, external_id: str) -> list[PreferenceInfo]:
    """Return the guest's active preferences, oldest first (empty for an unknown guest)."""
    with uow:
        guest = find_guest(uow, channel, external_id)
        if guest is None:
            return []
        return [_info(row) for row in uow.preferences.active(guest.id)]


def delete_preferences(
    uow: SqlUnitOfWork,
    clock: Clock,
    channel: str,
    external_id: str,
    *,
    category: str,
    value: str | None = None,
) -> int:
    """Mark the guest's active preferences of ``category`` (and ``value`` if given) deleted; return how many."""
    category = _check_category(category)
    wanted = _check_value(value) if value is not None else None
    now = clock.now()
    with uow:
        guest = find_guest(uow, channel, external_id)
        if guest is None:
            return 0
        count = 0
        for row in uow.preferences.active(guest.id, category):
            if wanted is not None and row.value != wanted:
                continue
            row.status = PreferenceStatus.DELETED
            row.updated_at = now
            count += 1
        uow.commit()
    log.info("guest %s deleted %d preference(s) of %s", guest.id, count, category)
    return count
