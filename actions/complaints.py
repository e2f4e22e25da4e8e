"""Take a complaint: validate the intake form and open the case in the CRM."""

from __future__ import annotations

from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import names
from actions.base import CrmAction, call_service, clock, sender_of, sla_policy
from actions.parsing import is_generic_complaint, parse_room_number
from crm_store.services import cases

MAX_DESCRIPTION_CHARS = 4000
DEFAULT_CATEGORY = "other"
DEFAULT_SEVERITY = "medium"


class ValidateComplaintForm(FormValidationAction):
    """Validate what the guest tells us during complaint intake."""

    def name(self) -> str:
        """Return the action name."""
        return names.VALIDATE_COMPLAINT_FORM

    def validate_complaint_description(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        """Accept a description that says what is wrong; ask again for a bare "I have a complaint"."""
        text = str(slot_value or "").strip()
        if is_generic_complaint(text):
            return {names.SLOT_COMPLAINT_DESCRIPTION: None}
        return {names.SLOT_COMPLAINT_DESCRIPTION: text[:MAX_DESCRIPTION_CHARS]}

    def validate_room_number(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        """Accept a room number written in digits (with an optional letter)."""
        room = parse_room_number(str(slot_value or ""))
        if room is None:
            dispatcher.utter_message(response=names.UTTER_ROOM_NUMBER_INVALID)
        return {names.SLOT_ROOM_NUMBER: room}


class ActionOpenComplaint(CrmAction):
    """Open the complaint in the CRM (SLA follow-up and staff alert included) and tell the guest what happens next."""

    def name(self) -> str:
        """Return the action name."""
        return names.ACTION_OPEN_COMPLAINT

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        """Store the case, answer with its reference and reset the intake slots."""
        who = sender_of(tracker)
        now = clock().now()
        info = await call_service(
            cases.open_case,
            clock(),
            sla_policy(),
            who.channel,
            who.external_id,
            category=tracker.get_slot(names.SLOT_COMPLAINT_CATEGORY) or DEFAULT_CATEGORY,
            severity=tracker.get_slot(names.SLOT_COMPLAINT_SEVERITY) or DEFAULT_SEVERITY,
            room=tracker.get_slot(names.SLOT_ROOM_NUMBER),
            description=tracker.get_slot(names.SLOT_COMPLAINT_DESCRIPTION) or "",
        )
        ack_minutes = max(1, round((info.ack_due_at - now).total_seconds() / 60))
        urgent = info.severity == "high" or info.category == "safety"
        dispatcher.utter_message(
            response=names.UTTER_COMPLAINT_LOGGED_URGENT if urgent else names.UTTER_COMPLAINT_LOGGED,
            complaint_reference=info.reference,
            room_number=info.room or "-",
            ack_minutes=ack_minutes,
        )
        dispatcher.utter_message(response=names.UTTER_COMPLAINT_NEXT_STEPS)
        return [
            SlotSet(names.SLOT_COMPLAINT_REFERENCE, info.reference),
            SlotSet(names.SLOT_COMPLAINT_DESCRIPTION, None),
            SlotSet(names.SLOT_COMPLAINT_CATEGORY, None),
            SlotSet(names.SLOT_COMPLAINT_SEVERITY, None),
            SlotSet(names.SLOT_ROOM_NUMBER, info.room),
        ]
