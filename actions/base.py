"""Share the plumbing every CRM-backed action needs: identity, retries and a graceful error."""

from __future__ import annotations

import abc
import asyncio
import hashlib
import logging
from typing import Any, Callable, TypeVar

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import OperationalError, DBAPIError

from actions import names
from actions.deps import Deps, get_deps
from actions.parsing import SenderRef, split_sender_id
from crm_store.clock import Clock
from crm_store.policy import SlaPolicy
from crm_store.unit_of_work import SqlUnitOfWork

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Ride out a database restart (about 10 s): about 16 s in all, well inside the gateway's 30-s Rasa time-out.
RETRY_DELAYS_S = (0.2, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0)


async def call_service(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run one crm_store use case in a worker thread, retrying while the database is briefly down."""
    deps = get_deps()
    attempt = 0
    while True:
        try:
            return await asyncio.to_thread(_run_in_uow, deps, fn, *args, **kwargs)
        except (OperationalError, DBAPIError) as exc:
            if attempt >= len(RETRY_DELAYS_S) or not _is_transient(exc):
                raise
            logger.warning("database unavailable, retrying (attempt %d)", attempt + 1)
            await asyncio.sleep(RETRY_DELAYS_S[attempt])
            attempt += 1


def _is_transient(exc: DBAPIError) -> bool:
    """Tell whether a database error is worth retrying (connection lost, locked)."""
    return bool(getattr(exc, "connection_invalidated", False)) or isinstance(exc, OperationalError)


def _run_in_uow(deps: Deps, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call a service with a fresh unit of work (services own the transaction)."""
    uow: SqlUnitOfWork = deps.uow()
    return fn(uow, *args, **kwargs)


def clock() -> Clock:
    """Return the injected clock."""
    return get_deps().clock


def sla_policy() -> SlaPolicy:
    """Return the injected service-level policy."""
    return get_deps().policy


def sender_of(tracker: Tracker) -> SenderRef:
    """Return the channel identity of the guest in this conversation."""
    return split_sender_id(tracker.sender_id)


class CrmAction(Action, abc.ABC):
    """Run an action's work and answer the guest gracefully if the backend fails (abstract)."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Run `act`, turning an unexpected failure into an apology rather than silence."""
        try:
            return await self.act(dispatcher, tracker, domain)
        except Exception as exc:  # noqa: BLE001 - the guest must never be left in silence
            logger.error(
                "action %s failed for conversation %s: %s",
                self.name(),
                _conversation_tag(tracker.sender_id),
                type(exc).__name__,
            )
            dispatcher.utter_message(response=names.UTTER_ERROR)
            return []

    @abc.abstractmethod
    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Do the action's work; subclasses implement this."""


def _conversation_tag(sender_id: str) -> str:
    """Return a short non-reversible tag of a sender id for logs (no PII in logs)."""
    return hashlib.sha256(sender_id.encode("utf-8")).hexdigest()[:10]
