"""Ask whether a resolved complaint is really fixed, and close or reopen it from the guest's answer."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import names
from actions.base import CrmAction, call_service, clock, sender_of, sla_policy
from crm_store.errors import NotFound, ValidationError
from crm_store.services import cases


class ActionRecoveryCheck(Action):
    """Take the complaint reference the scheduler sent with EXTERNAL_recovery_check into the slot."""

    def name(self) -> str:
        """Return the action name."""
        return names.ACTION_RECOVERY_CHECK

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        """Set complaint_reference from the trigger's recovery_reference entity."""
        reference = next(tracker.get_latest_entity_values(names.ENTITY_RECOVERY_REFERENCE), None)
        if not reference:
            return []
        return [SlotSet(names.SLOT_COMPLAINT_REFERENCE, str(reference).strip().upper())]


class _GuestAnswer(CrmAction):
    """Share the reference lookup and the graceful answer when the case cannot be updated."""

    def reference(self, tracker: Tracker) -> str | None:
        """Return the reference of the case the guest was asked about."""
        value = tracker.get_slot(names.SLOT_COMPLAINT_REFERENCE)
        return str(value) if value else None


class ActionConfirmFixed(_GuestAnswer):
    """The guest says it is fixed: close the case as confirmed."""

    def name(self) -> str:
        """Return the action name."""
        return names.ACTION_CONFIRM_FIXED

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        """Confirm the fix in the CRM and thank the guest."""
        reference = self.reference(tracker)
        who = sender_of(tracker)
        try:
            if reference is None:
                raise NotFound("complaint", "-")
            info = await call_service(
                cases.confirm_fixed, clock(), sla_policy(), reference,
                actor="guest", sender=(who.channel, who.external_id),
            )
        except (NotFound, ValidationError):
            dispatcher.utter_message(response=names.UTTER_RECOVERY_UNKNOWN)
            return []
        dispatcher.utter_message(response=names.UTTER_RECOVERY_CONFIRMED, complaint_reference=info.reference)
        return []


class ActionReopenCase(_GuestAnswer):
    """The guest says it is still broken: reopen the case one rung up and tell staff."""

    def name(self) -> str:
        """Return the action name."""
        return names.ACTION_REOPEN_CASE

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        """Reopen the case in the CRM and reassure the guest."""
        reference = self.reference(tracker)
        who = sender_of(tracker)
        reset = [SlotSet(names.SLOT_COMPLAINT_DESCRIPTION, None)]
        try:
            if reference is None:
                raise NotFound("complaint", "-")
            info = await call_service(
                cases.reopen, clock(), sla_policy(), reference,
                actor="guest", reason="guest_not_fixed", sender=(who.channel, who.external_id),
            )
        except (NotFound, ValidationError):
            dispatcher.utter_message(response=names.UTTER_RECOVERY_UNKNOWN)
            return reset
        dispatcher.utter_message(response=names.UTTER_RECOVERY_REOPENED, complaint_reference=info.reference)
        return reset
