"""Talk to the Rasa server over its REST channel and HTTP API."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp

logger = logging.getLogger(__name__)

REST_WEBHOOK = "/webhooks/rest/webhook"


class RasaUnavailable(RuntimeError):
    """Raised when the Rasa server cannot be reached or answers with an error."""


class RasaClient:
    """Send guest messages and external intents to Rasa; one aiohttp session per client."""

    def __init__(self, base_url: str, token: str | None = None, timeout_s: float = 30.0) -> None:
        """Remember where Rasa is; the HTTP session is opened lazily inside the event loop."""
        self._base = base_url.rstrip("/")
        self._token = token or None
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

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

    async def send_message(self, sender_id: str, text: str) -> list[dict[str, Any]]:
        """Post one guest message to the REST channel and return Rasa's replies."""
        body = {"sender": sender_id, "message": text}
        return await self._post(REST_WEBHOOK, body, with_token=False)

    async def trigger_intent(
        self, sender_id: str, intent: str, entities: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Trigger an (EXTERNAL_) intent in a conversation and return the bot's messages."""
        body: dict[str, Any] = {"name": intent}
        if entities:
            body["entities"] = entities
        path = f"/conversations/{sender_id}/trigger_intent"
        result = await self._post(path, body, with_token=True)
        return list(result.get("messages", [])) if isinstance(result, dict) else []

    async def parse(self, text: str) -> dict[str, Any]:
        """Run NLU only and return the parse result."""
        return await self._post("/model/parse", {"text": text}, with_token=True)

    async def is_ready(self) -> bool:
        """Tell whether Rasa answers and has a model loaded."""
        session = self._ensure_session()
        try:
            async with session.get(f"{self._base}/", timeout=aiohttp.ClientTimeout(total=3)) as resp:
                if resp.status != 200:
                    return False
            async with session.get(
                f"{self._base}/status", params=self._params(True), timeout=aiohttp.ClientTimeout(total=3)
            ) as resp:
                if resp.status != 200:
                    return False
                status = await resp.json()
                return bool(status.get("model_file") or status.get("model_id"))
        except (aiohttp.ClientError, OSError, TimeoutError):
            return False

    def _params(self, with_token: bool) -> dict[str, str]:
        """Return the query parameters that authenticate an API call."""
        return {"token": self._token} if with_token and self._token else {}

    async def _post(self, path: str, body: dict[str, Any], *, with_token: bool) -> Any:
        """Post JSON and return the decoded answer, or raise RasaUnavailable."""
        session = self._ensure_session()
        try:
            async with session.post(
                f"{self._base}{path}", json=body, params=self._params(with_token)
            ) as resp:
                if resp.status >= 400:
                    raise RasaUnavailable(f"Rasa answered HTTP {resp.status} on {path.split('/')[1]}")
                return await resp.json(content_type=None)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise RasaUnavailable(f"Rasa is unreachable: {type(exc).__name__}") from exc
