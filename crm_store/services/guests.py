"""Identify guests by channel identity, name them, and describe them to the dialogue."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime

from crm_store.clock import Clock
from crm_store.errors import ValidationError
from crm_store.model import Guest
from crm_store.unit_of_work import SqlUnitOfWork

log = logging.getLogger(__name__)

NAME_MAX_LENGTH = 80
_CHANNEL = re.compile(r"^[a-z][a-z0-9_]{0,15}$")
_NAME_ALLOWED = re.compile(r"^[^\W\d_][\w'’.\- ]*$", re.UNICODE)


@dataclass(frozen=True)
class GuestInfo:
    """Describe a guest to the dialogue layer."""

    guest_id: int
    first_name: str | None
    full_name: str | None
    verified: bool
    room: str | None
    is_returning: bool


def split_sender_id(sender_id: str) -> tuple[str, str]:
    """Split a Rasa sender id ``<channel>:<external id>``; un-namespaced ids count as ``rest``."""
    channel, sep, external_id = sender_id.partition(":")
    if sep and _CHANNEL.match(channel) and external_id:
        return channel, external_id
    return "rest", sender_id


def _check_identity(channel: str, external_id: str) -> tuple[str, str]:
    channel = channel.strip().lower()
    external_id = external_id.strip()
    if not _CHANNEL.match(channel):
        raise ValidationError("channel", "expected a short lower-case channel name")
    if not external_id or len(external_id) > 128:
        raise ValidationError("external_id", "expected 1 to 128 characters")
    return channel, external_id


def find_guest(uow: SqlUnitOfWork, channel: str, external_id: str) -> Guest | None:
    """Return the guest behind a channel identity inside ``uow``, without creating one."""
    channel, external_id = _check_identity(channel, external_id)
    return uow.identities.find_guest(channel, external_id)


def resolve_guest(uow: SqlUnitOfWork, now: datetime, channel: str, external_id: str) -> Guest:
    """Return the guest behind a channel identity inside ``uow``, creating an unverified one on first contact."""
    channel, external_id = _check_identity(channel, external_id)
    guest = uow.identities.find_guest(channel, external_id)
    if guest is not None:
        return guest
    guest = uow.guests.add(Guest(verified=False, created_at=now, updated_at=now))
    if uow.identities.link_if_absent(channel, external_id, guest.id, now):
        log.info("new guest %s on channel %s", guest.id, channel)
        return guest
    # Another transaction linked this identity first: drop ours and use theirs.
    uow.guests.delete(guest)
    existing = uow.identities.find_guest(channel, external_id)
    assert existing is not None
    return existing


def full_name(guest: Guest) -> str | None:
    """Return "First Last", or whichever part is known."""
    parts = [part for part in (guest.first_name, guest.last_name) if part]
    return " ".join(parts) or None


def guest_info(uow: SqlUnitOfWork, guest: Guest, now: datetime) -> GuestInfo:
    """Build the GuestInfo of ``guest`` as of ``now`` inside ``uow``."""
    current = uow.stays.current_for(guest.id, now)
    returning = (
        uow.stays.count_earlier(guest.id, now, exclude_id=current.id if current else None) > 0
        or uow.preferences.count_active(guest.id) > 0
        or uow.complaints.count_for_guest(guest.id) > 0
        or uow.surveys.count_responses(guest.id) > 0
    )
    return GuestInfo(
        guest_id=guest.id,
        first_name=guest.first_name,
        full_name=full_name(guest),
        verified=bool(guest.verified),
        room=current.room if current else None,
        is_returning=returning,
    )


def identify(uow: SqlUnitOfWork, clock: Clock, channel: str, external_id: str) -> GuestInfo:
    """Return the guest behind (channel, external_id), creating an unverified guest on first contact."""
    now = clock.now()
    with uow:
        guest = resolve_guest(uow, now, channel, external_id)
        info = guest_info(uow, guest, now)
        uow.commit()
    return info


def normalise_name(name: str) -> tuple[str, str | None]:
    """Return (first, last) from a typed name, title-cased; raise ValidationError if it is not a name."""
    cleaned = " ".join(name.split()) if isinstance(name, str) else ""
    if not cleaned:
        raise ValidationError("name", "empty")
    if len(cleaned) > NAME_MAX_LENGTH:
        raise ValidationError("name", f"longer than {NAME_MAX_LENGTH} characters")
    if not _NAME_ALLOWED.match(cleaned):
        raise ValidationError("name", "must start with a letter and contain no digits or symbols")
    if any(ch.isdigit() for ch in cleaned):
        raise ValidationError("name", "contains digits")
    words = [_title(word) for word in cleaned.split(" ")]
    if len(words) == 2:
        return words[0], words[1]
    return " ".join(words), None


def _title(word: str) -> str:
    # "o'neil" -> "O'Neil", "jean-luc" -> "Jean-Luc", "MCDONALD" -> "Mcdonald"
    return re.sub(r"[^\W\d_]+", lambda m: m.group(0)[:1].upper() + m.group(0)[1:].lower(), word)


def set_name(uow: SqlUnitOfWork, clock: Clock, channel: str, external_id: str, name: str) -> GuestInfo:
    """Store the guest's name: one word is the first name, two words are first and last name."""
    first, last = normalise_name(name)
    now = clock.now()
    with uow:
        guest = resolve_guest(uow, now, channel, external_id)
        guest.first_name = first
        if last is not None:
            guest.last_name = last
        guest.updated_at = now
        uow.session.flush()
        info = guest_info(uow, guest, now)
        uow.commit()
    log.info("guest %s set a name", guest.id)
    return info
