"""Capture, list and remove the guest's preferences."""

from __future__ import annotations

import json
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions import names
from actions.base import CrmAction, call_service, clock, sender_of
from actions.parsing import humanise, profile_lines, summarise
from crm_store.services import preferences

MIN_NOTE_WORDS = 3
MAX_NOTE_CHARS = 120


def preference_entities(tracker: Tracker) -> list[dict[str, Any]]:
    """Return the preference entities of the latest message, without duplicates."""
    seen: set[tuple[str, str]] = set()
    found: list[dict[str, Any]] = []
    for entity in tracker.latest_message.get("entities", []) or []:
        key = (entity.get("entity"), str(entity.get("value")))
        if key[0] in names.PREFERENCE_ENTITIES and key not in seen:
            seen.add(key)
            found.append(entity)
    return found


class ActionSavePreferences(CrmAction):
    """Store every preference stated in the latest message and confirm it back."""

    def name(self) -> str:
        """Return the action name."""
        return names.ACTION_SAVE_PREFERENCES

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        """Record typed preferences, or keep a free-text note when nothing typed was found."""
        text = (tracker.latest_message.get("text") or "").strip()
        who = sender_of(tracker)
        entities = preference_entities(tracker)
        if not entities:
            if text.startswith("/") or len(text.split()) < MIN_NOTE_WORDS:
                dispatcher.utter_message(response=names.UTTER_ASK_PREFERENCE_DETAIL)
                return []
            await call_service(
                preferences.record_preference,
                clock(),
                who.channel,
                who.external_id,
                category=names.PREFERENCE_NOTE,
                value=text[:MAX_NOTE_CHARS],
                source_text=text,
                confidence=float(tracker.latest_message.get("intent", {}).get("confidence") or 0.0),
            )
            dispatcher.utter_message(response=names.UTTER_PREFERENCE_NOTE_SAVED)
            return []

        saved: list[tuple[str, str]] = []
        replaced: list[tuple[str, str]] = []
        for entity in entities:
            info = await call_service(
                preferences.record_preference,
                clock(),
                who.channel,
                who.external_id,
                category=entity["entity"],
                value=str(entity["value"]),
                source_text=text,
                confidence=float(entity.get("confidence_entity") or entity.get("confidence") or 1.0),
            )
            saved.append((info.category, info.value))
            if info.replaced_value is not None and info.replaced_value != info.value:
                replaced.append((info.category, info.replaced_value))
        if replaced:
            dispatcher.utter_message(
                response=names.UTTER_PREFERENCE_UPDATED,
                preference_summary=summarise(saved),
                replaced_summary=summarise(replaced),
            )
        else:
            dispatcher.utter_message(
                response=names.UTTER_PREFERENCE_SAVED, preference_summary=summarise(saved)
            )
        return []


class ActionListProfile(CrmAction):
    """Tell the guest everything that is on their profile."""

    def name(self) -> str:
        """Return the action name."""
        return names.ACTION_LIST_PROFILE

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        """List active preferences, one per line."""
        who = sender_of(tracker)
        prefs = await call_service(preferences.list_preferences, who.channel, who.external_id)
        if not prefs:
            dispatcher.utter_message(response=names.UTTER_PROFILE_EMPTY)
        else:
            dispatcher.utter_message(
                response=names.UTTER_PROFILE_LIST,
                profile_lines=profile_lines([(p.category, p.value) for p in prefs]),
            )
        return []


class ActionDeletePreference(CrmAction):
    """Remove the preference the guest names, or ask which one."""

    def name(self) -> str:
        """Return the action name."""
        return names.ACTION_DELETE_PREFERENCE

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        """Delete by category (or by the exact value named); offer buttons when unclear."""
        who = sender_of(tracker)
        targets: list[tuple[str, str | None]] = [
            (str(value), None)
            for value in tracker.get_latest_entity_values(names.ENTITY_PREFERENCE_CATEGORY)
        ]
        targets += [(e["entity"], str(e["value"])) for e in preference_entities(tracker)]
        if not targets:
            prefs = await call_service(preferences.list_preferences, who.channel, who.external_id)
            if not prefs:
                dispatcher.utter_message(response=names.UTTER_PROFILE_EMPTY)
                return []
            categories = sorted({p.category for p in prefs})
            dispatcher.utter_message(
                response=names.UTTER_PREFERENCE_DELETE_WHICH,
                buttons=[
                    {
                        "title": humanise(category),
                        "payload": "/delete_preference"
                        + json.dumps({names.ENTITY_PREFERENCE_CATEGORY: category}),
                    }
                    for category in categories
                ],
            )
            return []

        removed: list[tuple[str, str]] = []
        for category, value in targets:
            count = await call_service(
                preferences.delete_preferences,
                clock(),
                who.channel,
                who.external_id,
                category=category,
                value=value,
            )
            if not count and value is not None and category not in names.MULTI_VALUED_PREFERENCES:
                count = await call_service(
                    preferences.delete_preferences,
                    clock(),
                    who.channel,
                    who.external_id,
                    category=category,
                    value=None,
                )
            if count:
                removed.append((category, value or "all"))
        if removed:
            dispatcher.utter_message(
                response=names.UTTER_PREFERENCE_DELETED, preference_summary=summarise(removed)
            )
        else:
            dispatcher.utter_message(response=names.UTTER_PREFERENCE_DELETE_NOTHING)
        return []
