"""Send signed PMS events to the bot's webhook, retrying like a PMS would while the bot or the database is down."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import date, datetime, timezone

import aiohttp

from bot.pms_webhook import sign

RETRY_FOR_S = 240.0


class PmsClient:
    """Post reservation, check-in and check-out events for the chaos guests."""

    def __init__(self, ops_url: str, secret: str) -> None:
        """Remember where the webhook is and the shared secret."""
        self.url = f"{ops_url}/pms/events"
        self.secret = secret
        self.sent = 0
        self.retries = 0
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()

    async def send(self, event_type: str, reference: str, arrival: date, departure: date, name: str, room: str,
                   stop: asyncio.Event | None = None) -> bool:
        """Deliver one event (same event id on every retry; a replay answer means an earlier try landed)."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        event_id = f"{reference}-{event_type}"
        deadline = time.monotonic() + RETRY_FOR_S
        pause = 1.0
        while True:
            body = json.dumps({
                "event_id": event_id,
                "sent_at": datetime.now(timezone.utc).isoformat(),
                "type": event_type,
                "reservation": {"reference": reference, "guest": {"name": name, "language": "en"}, "room": room,
                                "arrival": str(arrival), "departure": str(departure)},
            }).encode()
            headers = {"Content-Type": "application/json", "X-PMS-Signature": sign(self.secret, body)}
            try:
                async with self._session.post(self.url, data=body, headers=headers) as response:
                    if response.status in (200, 409):
                        self.sent += 1
                        return True
                    if response.status < 500:
                        return False
            except (aiohttp.ClientError, OSError, asyncio.TimeoutError):
                pass
            self.retries += 1
            if time.monotonic() > deadline or (stop is not None and stop.is_set() and event_type != "check_out"):
                return False
            await asyncio.sleep(pause)
            pause = min(5.0, pause * 1.5)
