"""Never leave a guest at a dead end: clarify, then offer a person."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions import names
from actions.base import CrmAction, call_service, clock, sender_of
from crm_store.services import handoff

HUMAN_AFTER_MISSES = 2


def consecutive_misses(tracker: Tracker) -> int:
    """Count the guest's latest messages in a row that the NLU did not understand."""
    misses = 0
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if intent != names.INTENT_NLU_FALLBACK:
            break
        misses += 1
    return misses


class ActionHandleFallback(CrmAction):
    """Ask a clarifying question on the first miss and offer a person on the second."""

    def name(self) -> str:
        """Return the action name."""
        return names.ACTION_HANDLE_FALLBACK

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        """Pick the clarification or the human offer."""
        if consecutive_misses(tracker) >= HUMAN_AFTER_MISSES:
            dispatcher.utter_message(response=names.UTTER_OFFER_HUMAN)
        else:
            dispatcher.utter_message(response=names.UTTER_CLARIFY)
        return []


class ActionRequestHuman(CrmAction):
    """Record that the guest wants a person and tell them one is coming."""

    def name(self) -> str:
        """Return the action name."""
        return names.ACTION_REQUEST_HUMAN

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        """Open a hand-off request in the CRM."""
        who = sender_of(tracker)
        await call_service(handoff.request_human, clock(), who.channel, who.external_id, reason="guest_request")
        dispatcher.utter_message(response=names.UTTER_HUMAN_REQUESTED)
        return []
