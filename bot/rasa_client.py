"""Talk to the Rasa server (one or several replicas) over its REST channel and HTTP API.

With several replicas, each conversation goes to the replica that rendezvous hashing picks for its sender
id (highest ``hash(replica, sender)`` wins), so a conversation stays on one replica while the set of
replicas is stable, and only the conversations of a replica that leaves move. When the chosen replica
does not answer (connection refused, a 5xx answer, a time-out) the message goes to the next one in that
conversation's order. That is safe because every replica reads and writes the same tracker store and
takes the conversation's lock in the same (Redis) lock store. A replica that failed is tried last for a
few seconds, so a dead replica costs one refused connection, not one per message.

A time-out after the request was sent is ambiguous (the replica may still process the message); the
message is then sent to the next replica anyway, which favours answering the guest over the small risk
of one message being processed twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import aiohttp

logger = logging.getLogger(__name__)

REST_WEBHOOK = "/webhooks/rest/webhook"
CONNECT_TIMEOUT_S = 3.0
COOLDOWN_S = 5.0


class RasaUnavailable(RuntimeError):
    """Raised when no Rasa replica can be reached or Rasa answers with an error."""


class _ReplicaFailed(Exception):
    """One replica failed in a way another replica may not (down, 5xx, time-out)."""


def rendezvous_order(replicas: Sequence[str], key: str) -> list[str]:
    """Return ``replicas`` ordered by rendezvous (highest random weight) hashing of ``key``; stable across processes."""

    def weight(replica: str) -> int:
        digest = hashlib.blake2b(f"{replica}\x00{key}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big")

    return sorted(replicas, key=lambda replica: (-weight(replica), replica))


class RasaClient:
    """Send guest messages and external intents to Rasa; one aiohttp session per client."""

    def __init__(
        self,
        base_url: str | Sequence[str],
        token: str | None = None,
        timeout_s: float = 30.0,
        *,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        cooldown_s: float = COOLDOWN_S,
    ) -> None:
        """Remember the replicas (one URL or several); the HTTP session is opened lazily inside the event loop."""
        urls = [base_url] if isinstance(base_url, str) else list(base_url)
        if not urls:
            raise ValueError("RasaClient needs at least one Rasa URL")
        self._replicas = tuple(dict.fromkeys(url.rstrip("/") for url in urls))
        self._token = token or None
        self._timeout = aiohttp.ClientTimeout(total=timeout_s, sock_connect=connect_timeout_s)
        self._cooldown_s = cooldown_s
        self._down_until: dict[str, float] = {}
        self._session: aiohttp.ClientSession | None = None
        self.served: Counter[str] = Counter()  # answers per replica URL (ops figures, tests)
        self.failovers = 0

    @property
    def replicas(self) -> tuple[str, ...]:
        """Return the replica URLs."""
        return self._replicas

    @property
    def _base(self) -> str:
        """Return the first replica (kept for callers of the single-server client)."""
        return self._replicas[0]

    async def __aenter__(self) -> RasaClient:
        """Open the HTTP session."""
        self._ensure_session()
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Close the HTTP session."""
        await self.close()

    def _ensure_session(self) -> aiohttp.ClientSession:
        """Return the open HTTP session, creating it on first use."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def close(self) -> None:
        """Close the HTTP session if it is open."""
        if self._session is not None and not self._session.closed:
            await self._session.close()

    def replica_for(self, sender_id: str) -> str:
        """Return the replica a conversation goes to while every replica is up."""
        return rendezvous_order(self._replicas, sender_id)[0]

    def attempt_order(self, key: str) -> list[str]:
        """Return the replicas to try for ``key``: rendezvous order, replicas that failed recently last."""
        order = rendezvous_order(self._replicas, key)
        now = time.monotonic()
        fresh = [r for r in order if self._down_until.get(r, 0.0) <= now]
        cooling = [r for r in order if self._down_until.get(r, 0.0) > now]
        return fresh + cooling

    async def send_message(self, sender_id: str, text: str) -> list[dict[str, Any]]:
        """Post one guest message to the REST channel and return Rasa's replies."""
        body = {"sender": sender_id, "message": text}
        return await self._post(REST_WEBHOOK, body, with_token=False, key=sender_id)

    async def trigger_intent(
        self, sender_id: str, intent: str, entities: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Trigger an (EXTERNAL_) intent in a conversation and return the bot's messages."""
        body: dict[str, Any] = {"name": intent}
        if entities:
            body["entities"] = entities
        path = f"/conversations/{sender_id}/trigger_intent"
        result = await self._post(path, body, with_token=True, key=sender_id)
        return list(result.get("messages", [])) if isinstance(result, dict) else []

    async def parse(self, text: str) -> dict[str, Any]:
        """Run NLU only and return the parse result."""
        return await self._post("/model/parse", {"text": text}, with_token=True, key=text)

    async def is_ready(self) -> bool:
        """Tell whether every replica answers and has a model loaded."""
        return all((await self.replica_status()).values())

    async def replica_status(self) -> dict[str, bool]:
        """Tell, per replica, whether it answers and has a model loaded."""
        return {replica: await self.replica_ready(replica) for replica in self._replicas}

    async def replica_ready(self, replica: str) -> bool:
        """Tell whether one replica answers ``/`` and reports a loaded model on ``/status``."""
        session = self._ensure_session()
        quick = aiohttp.ClientTimeout(total=3)
        try:
            async with session.get(f"{replica}/", timeout=quick) as resp:
                if resp.status != 200:
                    return False
            async with session.get(f"{replica}/status", params=self._params(True), timeout=quick) as resp:
                if resp.status != 200:
                    return False
                status = await resp.json()
                return bool(status.get("model_file") or status.get("model_id"))
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError):
            return False

    def _params(self, with_token: bool) -> dict[str, str]:
        """Return the query parameters that authenticate an API call."""
        return {"token": self._token} if with_token and self._token else {}

    async def _post(self, path: str, body: dict[str, Any], *, with_token: bool, key: str) -> Any:
        """Post JSON to the conversation's replica, failing over to the next; return the decoded answer."""
        what = path.split("/")[1]
        reasons: list[str] = []
        for attempt, replica in enumerate(self.attempt_order(key)):
            try:
                result = await self._post_to(replica, path, body, with_token)
            except _ReplicaFailed as failure:
                self._down_until[replica] = time.monotonic() + self._cooldown_s
                reasons.append(str(failure))
                logger.warning("Rasa replica %s failed on %s (%s); trying the next one", replica, what, failure)
                continue
            self._down_until.pop(replica, None)
            self.served[replica] += 1
            if attempt:
                self.failovers += 1
            return result
        raise RasaUnavailable(f"Rasa is unreachable: {'; '.join(reasons)}")

    async def _post_to(self, replica: str, path: str, body: dict[str, Any], with_token: bool) -> Any:
        """Post to one replica; raise _ReplicaFailed when another replica may do better, RasaUnavailable if not."""
        session = self._ensure_session()
        try:
            async with session.post(f"{replica}{path}", json=body, params=self._params(with_token)) as resp:
                if resp.status >= 500:
                    raise _ReplicaFailed(f"HTTP {resp.status}")
                if resp.status >= 400:
                    raise RasaUnavailable(f"Rasa answered HTTP {resp.status} on {path.split('/')[1]}")
                return await resp.json(content_type=None)
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            raise _ReplicaFailed(type(exc).__name__) from exc
