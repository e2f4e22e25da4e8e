"""Serve ``POST /pms/events``: signed PMS reservation, check-in and check-out events (docs/pms-feed.md).

Checks run in this order, each with its own status: no secret configured 503, body over 256 KiB 413,
missing or wrong ``X-PMS-Signature`` 401, not JSON 400, a field missing or of the wrong type 422,
``sent_at`` outside the accepted window 400 ("stale"), an ``event_id`` already processed 409, database
unavailable 503. Success is 200. Every answer is JSON; errors are ``{"error": "..."}`` naming the field.
The event id is recorded in the same transaction as the stay, so a rejected event can be sent again.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from typing import Any

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import sessionmaker

from crm_store.clock import Clock
from crm_store.errors import ValidationError
from crm_store.services.stays import (
    EVENT_TYPES,
    SURVEY_DAY_OFFSET,
    SURVEY_TIME,
    DuplicateEvent,
    GuestData,
    Reservation,
    SurveyTiming,
    apply_pms_event,
    normalise_reservation,
)
from crm_store.settings import Settings
from crm_store.unit_of_work import SqlUnitOfWork

logger = logging.getLogger(__name__)

PATH = "/pms/events"
SIGNATURE_HEADER = "X-PMS-Signature"
MAX_BODY_BYTES = 256 * 1024
MAX_AGE = timedelta(minutes=5)
MAX_AHEAD = timedelta(minutes=1)
EVENT_ID_MAX_LENGTH = 128
_SIGNATURE = re.compile(r"^sha256=([0-9a-fA-F]{64})$")
_EVENT_ID = re.compile(r"^[\x21-\x7e]{1,128}$")
_GUEST_FIELDS = ("name", "first_name", "last_name", "email", "phone", "language")
_RESERVATION_FIELDS = ("reference", "room", "arrival", "departure")


class EventError(Exception):
    """Reject a request with an HTTP status and a message for the sender."""

    def __init__(self, status: int, message: str) -> None:
        """Remember the status and the message."""
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class PmsEvent:
    """Hold one parsed, validated webhook event."""

    event_id: str
    sent_at: datetime
    type: str
    reservation: Reservation


def sign(secret: str, body: bytes) -> str:
    """Return the ``X-PMS-Signature`` value of ``body``: ``sha256=<hex HMAC-SHA256>``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str | None) -> None:
    """Raise EventError(401) unless ``header`` carries the HMAC-SHA256 of ``body`` (constant-time compare)."""
    if not header:
        raise EventError(401, f"missing {SIGNATURE_HEADER} header")
    match = _SIGNATURE.match(header.strip())
    if match is None:
        raise EventError(401, f"{SIGNATURE_HEADER} must be sha256=<64 hex digits>")
    expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, match.group(1).lower()):
        raise EventError(401, f"{SIGNATURE_HEADER} does not match the body")


def _string(container: dict[str, Any], key: str, path: str, *, required: bool) -> str | None:
    value = container.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise EventError(422, f"{path}: missing")
        return None
    if not isinstance(value, str):
        raise EventError(422, f"{path}: expected a string")
    return value


def _object(container: dict[str, Any], key: str, path: str) -> dict[str, Any]:
    value = container.get(key)
    if value is None:
        raise EventError(422, f"{path}: missing")
    if not isinstance(value, dict):
        raise EventError(422, f"{path}: expected an object")
    return value


def parse_sent_at(text: str) -> datetime:
    """Return ``sent_at`` as aware UTC; raise EventError(422) unless it is ISO-8601 with an offset."""
    cleaned = text.strip()
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    try:
        value = datetime.fromisoformat(cleaned)
    except ValueError:
        raise EventError(422, "sent_at: expected an ISO-8601 timestamp such as 2026-06-01T12:00:00+02:00") from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise EventError(422, "sent_at: the timestamp needs a UTC offset (Z or +HH:MM)")
    return value.astimezone(timezone.utc)


def _split_name(name: str) -> tuple[str | None, str]:
    words = name.split()
    if len(words) == 1:
        return None, words[0]
    return " ".join(words[:-1]), words[-1]


def _unstorable_text(document: Any) -> str | None:
    """Say why a decoded JSON document holds text no database can store, or None when it holds none.

    JSON may escape an unpaired UTF-16 surrogate (``"\\ud800"``) or a NUL (``"\\u0000"``); neither is text a
    name or a reference can hold (PostgreSQL refuses NUL, and no driver can encode a lone surrogate).
    Iterative, so a deeply nested body cannot exhaust the stack.
    """
    pending = [document]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return "a string holds a NUL character"
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return "a string holds an unpaired surrogate escape"
        elif isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return None


def parse_event(body: bytes) -> PmsEvent:
    """Parse and validate the JSON body; raise EventError(400/422) naming the first bad field."""
    try:
        document = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise EventError(400, "body is not UTF-8 text") from None
    except (json.JSONDecodeError, RecursionError) as exc:
        message = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
        raise EventError(400, f"body is not valid JSON ({message})") from None
    if not isinstance(document, dict):
        raise EventError(422, "body: expected a JSON object")
    bad_text = _unstorable_text(document)
    if bad_text is not None:
        raise EventError(400, f"body is not valid JSON text ({bad_text})")
    event_id = _string(document, "event_id", "event_id", required=True)
    assert event_id is not None
    if not _EVENT_ID.match(event_id):
        raise EventError(422, f"event_id: expected 1 to {EVENT_ID_MAX_LENGTH} printable characters without spaces")
    sent_at_text = _string(document, "sent_at", "sent_at", required=True)
    assert sent_at_text is not None
    sent_at = parse_sent_at(sent_at_text)
    event_type = _string(document, "type", "type", required=True)
    if event_type not in EVENT_TYPES:
        raise EventError(422, f"type: expected one of {', '.join(EVENT_TYPES)}")
    reservation = _object(document, "reservation", "reservation")
    guest = _object(reservation, "guest", "reservation.guest")
    fields = {key: _string(reservation, key, f"reservation.{key}", required=False) for key in _RESERVATION_FIELDS}
    people = {key: _string(guest, key, f"reservation.guest.{key}", required=False) for key in _GUEST_FIELDS}
    first, last = people["first_name"], people["last_name"]
    if first is None and last is None:
        if people["name"] is None:
            raise EventError(422, "reservation.guest.name: missing (give name, or first_name and last_name)")
        first, last = _split_name(people["name"])
    try:
        parsed = normalise_reservation(
            reference=fields["reference"],
            guest=GuestData(
                first_name=first,
                last_name=last,
                email=people["email"],
                phone=people["phone"],
                language=people["language"],
            ),
            room=fields["room"],
            arrival=fields["arrival"],
            departure=fields["departure"],
        )
    except ValidationError as exc:
        raise EventError(422, f"{_field_path(exc.field)}: {exc.message}") from None
    return PmsEvent(event_id=event_id, sent_at=sent_at, type=event_type, reservation=parsed)


def _field_path(name: str) -> str:
    if name in ("first_name", "last_name", "email", "phone", "language"):
        return f"reservation.guest.{name}"
    return f"reservation.{name}"


def check_fresh(sent_at: datetime, now: datetime) -> None:
    """Raise EventError(400, "stale ...") when ``sent_at`` is over 5 minutes old or over 1 minute ahead."""
    if sent_at < now - MAX_AGE:
        raise EventError(400, "stale event: sent_at is more than 5 minutes in the past")
    if sent_at > now + MAX_AHEAD:
        raise EventError(400, "stale event: sent_at is more than 1 minute in the future (check the PMS clock)")


async def read_body(request: web.Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """Return the raw body, or raise EventError(413) as soon as it exceeds ``limit`` bytes."""
    if request.content_length is not None and request.content_length > limit:
        raise EventError(413, f"body larger than {limit // 1024} KiB")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise EventError(413, f"body larger than {limit // 1024} KiB")
        chunks.append(chunk)
    return b"".join(chunks)


@dataclass(frozen=True)
class PmsWebhook:
    """Hold what the PMS webhook needs and register its route on the ops app."""

    session_factory: sessionmaker
    clock: Clock
    settings: Settings
    survey_day_offset: int = SURVEY_DAY_OFFSET
    survey_time: time = SURVEY_TIME
    timing: SurveyTiming | None = None  # the policy file's survey timing; replaces the two fields above

    def register(self, app: web.Application) -> None:
        """Add ``POST /pms/events`` to ``app``."""
        app.router.add_post(PATH, self.handle)

    def _apply(self, event: PmsEvent) -> dict[str, Any]:
        result = apply_pms_event(
            SqlUnitOfWork(self.session_factory),
            self.clock,
            event_id=event.event_id,
            event_type=event.type,
            reservation=event.reservation,
            tz=self.settings.tz,
            survey_day_offset=self.survey_day_offset,
            survey_time=self.survey_time,
            timing=self.timing,
        )
        return {
            "status": "ok",
            "type": event.type,
            "reference": event.reservation.reference,
            "outcome": result.outcome,
            "stay_status": result.status,
            "survey_due_at": result.survey_due_at.isoformat() if result.survey_due_at else None,
        }

    async def handle(self, request: web.Request) -> web.Response:
        """Authenticate, validate and apply one PMS event; answer JSON."""
        try:
            secret = self.settings.pms_webhook_secret
            if not secret:
                raise EventError(503, "PMS webhook disabled: PMS_WEBHOOK_SECRET is not configured")
            body = await read_body(request)
            verify_signature(secret, body, request.headers.get(SIGNATURE_HEADER))
            event = parse_event(body)
            check_fresh(event.sent_at, self.clock.now())
            loop = asyncio.get_running_loop()
            answer = await loop.run_in_executor(None, self._apply, event)
        except EventError as exc:
            if exc.status >= 500 or exc.status == 401:
                logger.warning("PMS event refused: %d %s", exc.status, exc.message)
            else:
                logger.info("PMS event refused: %d %s", exc.status, exc.message)
            return web.json_response({"error": exc.message}, status=exc.status)
        except DuplicateEvent:
            logger.info("PMS event replayed; refused")
            return web.json_response({"error": "event_id already processed (replay)"}, status=409)
        except ValidationError as exc:
            return web.json_response({"error": f"{_field_path(exc.field)}: {exc.message}"}, status=422)
        except SQLAlchemyError as exc:
            logger.error("PMS event not stored: database error %s", type(exc).__name__)
            return web.json_response({"error": "database unavailable; retry later"}, status=503)
        return web.json_response(answer)
