"""Link a chat to the guest of a reservation (``/start <booking-ref>`` or "reference + surname")."""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from crm_store.clock import Clock
from crm_store.model import Guest, Preference, PreferenceStatus, Stay
from crm_store.services.guests import _check_identity
from crm_store.services.preferences import MULTI_VALUED_CATEGORIES
from crm_store.unit_of_work import SqlUnitOfWork

log = logging.getLogger(__name__)

REFERENCE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{2,63}$")
GUEST_FIELDS: tuple[str, ...] = ("first_name", "last_name", "email", "phone", "language")


@dataclass(frozen=True)
class LinkResult:
    """Say whether a chat was linked to a reservation's guest, and why not if it was not.

    ``reason`` is one of ``linked``, ``already_linked``, ``invalid_reference``, ``unknown_reference``
    and ``surname_mismatch`` (callers should answer the last two alike, so references cannot be probed).
    """

    linked: bool
    reason: str
    guest_id: int | None = None
    first_name: str | None = None
    room: str | None = None
    merged: bool = False


def is_reservation_reference(text: str) -> bool:
    """Tell whether ``text`` looks like a reservation reference (3–64 letters, digits, '-' or '_')."""
    return bool(REFERENCE_PATTERN.match(text.strip())) if isinstance(text, str) else False


def _fold(name: str | None) -> str:
    decomposed = unicodedata.normalize("NFKD", name or "")
    return "".join(ch for ch in decomposed if ch.isalpha()).casefold()


def same_surname(typed: str, stored: str | None) -> bool:
    """Compare surnames ignoring case, accents, spaces, hyphens and apostrophes."""
    folded = _fold(typed)
    return bool(folded) and folded == _fold(stored)


def _find_stay(uow: SqlUnitOfWork, reference: str) -> Stay | None:
    stay = uow.stays.get_by_reference(reference)
    if stay is None and reference.upper() != reference:
        stay = uow.stays.get_by_reference(reference.upper())
    return stay


def _dedupe_preferences(uow: SqlUnitOfWork, guest_id: int, now: datetime) -> None:
    """After a merge keep the newest value of a single-valued category, and no repeated values."""
    by_category: dict[str, list[Preference]] = {}
    for row in uow.preferences.active(guest_id):  # oldest first
        by_category.setdefault(row.category, []).append(row)
    for category, rows in by_category.items():
        newest = rows[-1]
        seen: dict[str, Preference] = {}
        for row in reversed(rows):
            if category in MULTI_VALUED_CATEGORIES:
                winner = seen.setdefault(row.value, row)
            else:
                winner = newest
            if winner is not row:
                row.status = PreferenceStatus.SUPERSEDED
                row.superseded_by = winner.id
                row.updated_at = now


def _merge(uow: SqlUnitOfWork, source: Guest, target: Guest, now: datetime) -> None:
    """Fold the unverified guest ``source`` into ``target`` and delete ``source``."""
    for name in GUEST_FIELDS:
        if getattr(target, name) is None and getattr(source, name) is not None:
            setattr(target, name, getattr(source, name))
    uow.guests.reassign_rows(source.id, target.id, now)
    uow.session.flush()
    _dedupe_preferences(uow, target.id, now)
    uow.guests.delete(source)


def link_by_reservation(
    uow: SqlUnitOfWork,
    clock: Clock,
    channel: str,
    external_id: str,
    reference: str,
    surname: str | None = None,
) -> LinkResult:
    """Link (channel, external_id) to the guest of reservation ``reference`` and mark that guest verified.

    The chat's own unverified guest (created on first contact) is merged into the reservation's
    guest; a chat already linked to another verified guest is re-pointed without merging.
    With ``surname`` the reservation guest's last name must match.
    """
    channel, external_id = _check_identity(channel, external_id)
    reference = reference.strip() if isinstance(reference, str) else ""
    if not is_reservation_reference(reference):
        return LinkResult(False, "invalid_reference")
    now = clock.now()
    with uow:
        stay = _find_stay(uow, reference)
        if stay is None:
            log.info("link attempt on %s: unknown reservation reference", channel)
            return LinkResult(False, "unknown_reference")
        target = uow.guests.get(stay.guest_id)
        assert target is not None
        if surname is not None and not same_surname(surname, target.last_name):
            log.info("link attempt on %s: surname does not match reservation", channel)
            return LinkResult(False, "surname_mismatch")
        uow.guests.lock(target.id, now)
        identity = uow.identities.find(channel, external_id)
        if identity is None:
            uow.identities.link_if_absent(channel, external_id, target.id, now)
            identity = uow.identities.find(channel, external_id)
            assert identity is not None
        merged = False
        already = identity.guest_id == target.id and bool(target.verified)
        if identity.guest_id != target.id:
            current = uow.guests.get(identity.guest_id)
            if current is not None and not current.verified:
                _merge(uow, current, target, now)
                merged = True
            else:
                identity.guest_id = target.id
            identity.linked_at = now
            identity.updated_at = now
        target.verified = True
        target.updated_at = now
        for complaint in uow.complaints.unresolved_for(target.id):
            complaint.guest_verified = True
            complaint.updated_at = now
        uow.session.flush()
        current_stay = uow.stays.current_for(target.id, now)
        result = LinkResult(
            linked=True,
            reason="already_linked" if already else "linked",
            guest_id=target.id,
            first_name=target.first_name,
            room=(current_stay or stay).room,
            merged=merged,
        )
        uow.commit()
    log.info("identity on %s linked to guest %s (merged=%s)", channel, result.guest_id, merged)
    return result
