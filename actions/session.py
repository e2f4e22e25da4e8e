"""Start sessions, greet guests (by name when known) and remember names."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import names
from actions.base import CrmAction, call_service, clock, sender_of
from actions.parsing import summarise
from crm_store.services import guests, preferences


class ActionSessionStart(Action):
    """Start a session, carry slots over and load who the guest is from the CRM."""

    def name(self) -> str:
        """Return the action name."""
        return names.ACTION_SESSION_START

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        """Emit SessionStarted, the carried-over slots, the guest's CRM facts and action_listen."""
        events: list[EventType] = [SessionStarted()]
        carried = {
            key: value
            for key, value in tracker.current_slot_values().items()
            if value is not None and key != names.SLOT_REQUESTED
        }
        events.extend(SlotSet(key, value) for key, value in carried.items())
        try:
            who = sender_of(tracker)
            guest = await call_service(guests.identify, clock(), who.channel, who.external_id)
            events.append(SlotSet(names.SLOT_GUEST_VERIFIED, guest.verified))
            if guest.first_name:
                events.append(SlotSet(names.SLOT_GUEST_NAME, guest.first_name))
            if guest.room and not carried.get(names.SLOT_ROOM_NUMBER):
                events.append(SlotSet(names.SLOT_ROOM_NUMBER, guest.room))
        except Exception:  # noqa: BLE001 - a CRM hiccup must not stop the conversation
            pass
        events.append(ActionExecuted("action_listen"))
        return events


class ActionGreetGuest(CrmAction):
    """Greet a returning guest by name with what is on file, or welcome a new one."""

    def name(self) -> str:
        """Return the action name."""
        return names.ACTION_GREET_GUEST

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        """Look the guest up and pick the greeting."""
        who = sender_of(tracker)
        guest = await call_service(guests.identify, clock(), who.channel, who.external_id)
        name = guest.first_name
        if not name:
            dispatcher.utter_message(response=names.UTTER_GREET_NEW)
            return []
        prefs = await call_service(preferences.list_preferences, who.channel, who.external_id)
        if guest.is_returning and prefs:
            dispatcher.utter_message(
                response=names.UTTER_GREET_RETURNING,
                guest_name=name,
                preference_summary=summarise((p.category, p.value) for p in prefs),
            )
        else:
            dispatcher.utter_message(response=names.UTTER_GREET_NAMED, guest_name=name)
        return [SlotSet(names.SLOT_GUEST_NAME, name)]


class ActionRememberName(CrmAction):
    """Store the name the guest told us and greet them with it."""

    def name(self) -> str:
        """Return the action name."""
        return names.ACTION_REMEMBER_NAME

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        """Save the name on the guest profile."""
        raw = next(tracker.get_latest_entity_values("guest_name"), None) or tracker.get_slot(
            names.SLOT_GUEST_NAME
        )
        if not raw:
            dispatcher.utter_message(response=names.UTTER_GREET_NEW)
            return []
        who = sender_of(tracker)
        guest = await call_service(guests.set_name, clock(), who.channel, who.external_id, raw)
        dispatcher.utter_message(response=names.UTTER_NICE_TO_MEET_YOU, guest_name=guest.first_name)
        return [SlotSet(names.SLOT_GUEST_NAME, guest.first_name)]
