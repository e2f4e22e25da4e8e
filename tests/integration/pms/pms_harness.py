"""Hold the PMS webhook test harness: send signed events to the running app and read the database."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from bot.pms_webhook import sign
from crm_store.clock import FixedClock
from crm_store.model import FollowUp, Guest, ProcessedUpdate, Stay

SECRET = "test-pms-secret"
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)


@dataclass
class Pms:
    """Send signed events to the running ops app and look at the database."""

    client: TestClient
    session_factory: sessionmaker
    clock: FixedClock

    def event(self, event_id: str = "evt-1", type: str = "reservation", **reservation: Any) -> dict[str, Any]:
        """Return a valid event document; ``reservation`` overrides fields of the reservation object."""
        body: dict[str, Any] = {
            "reference": "R-1001",
            "guest": {"name": "Ann Lee", "email": "ann@example.com", "phone": "+44 20 7946 0001", "language": "en"},
            "room": "412",
            "arrival": "2026-05-30",
            "departure": "2026-06-01",
        }
        body.update(reservation)
        return {"event_id": event_id, "sent_at": self.clock.now().isoformat(), "type": type, "reservation": body}

    async def post(self, body: bytes | dict[str, Any], signature: str | None = "sign", **headers: str) -> tuple[int, Any]:
        """POST ``body`` (dict → JSON) signed with the secret unless ``signature`` is given; return (status, JSON)."""
        raw = json.dumps(body).encode() if isinstance(body, dict) else body
        if signature == "sign":
            headers["X-PMS-Signature"] = sign(SECRET, raw)
        elif signature is not None:
            headers["X-PMS-Signature"] = signature
        response = await self.client.post("/pms/events", data=raw, headers={"Content-Type": "application/json", **headers})
        try:
            payload = await response.json(content_type=None)
        except ValueError:
            payload = None
        return response.status, payload

    def count(self, model: Any) -> int:
        """Count the rows of ``model``."""
        with self.session_factory() as session:
            return int(session.execute(select(func.count()).select_from(model)).scalar_one())

    def counts(self) -> tuple[int, int, int, int]:
        """Return the row counts of guest, stay, follow_up and processed_update (one query)."""
        models = (Guest, Stay, FollowUp, ProcessedUpdate)
        statement = select(*(select(func.count()).select_from(m).scalar_subquery() for m in models))
        with self.session_factory() as session:
            guest, stay, follow_up, processed = session.execute(statement).one()
        return int(guest), int(stay), int(follow_up), int(processed)

    def stays(self) -> list[Stay]:
        """Return all stays."""
        with self.session_factory() as session:
            return list(session.execute(select(Stay).order_by(Stay.id)).scalars())

    def follow_ups(self) -> list[FollowUp]:
        """Return all follow-ups."""
        with self.session_factory() as session:
            return list(session.execute(select(FollowUp).order_by(FollowUp.id)).scalars())
