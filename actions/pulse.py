"""Take the guest's answer to the in-stay pulse check ("How is everything so far?", 1–5)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, FollowupAction
from rasa_sdk.executor import CollectingDispatcher

from actions import names
from actions.base import CrmAction, call_service, clock, sender_of, sla_policy
from actions.parsing import parse_score
from crm_store.services import pulse


def pulse_score(tracker: Tracker) -> int | None:
    """Return the 1–5 score of the latest message: the button's ``score`` entity, else a number in the text."""
    for value in tracker.get_latest_entity_values(names.ENTITY_SCORE):
        score = parse_score(str(value), 1, 5)
        if score is not None:
            return score
    return parse_score(tracker.latest_message.get("text"), 1, 5)


class ActionRecordPulse(CrmAction):
    """Store the pulse score; a low score alerts staff while the guest is still in the hotel."""

    def name(self) -> str:
        """Return the action name."""
        return names.ACTION_RECORD_PULSE

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        """Record the score and answer; without a usable score, ask again."""
        score = pulse_score(tracker)
        if score is None:
            dispatcher.utter_message(response=names.UTTER_PULSE_INVALID)
            return [FollowupAction(names.UTTER_PULSE_ASK)]
        who = sender_of(tracker)
        result = await call_service(pulse.record_pulse, clock(), sla_policy(), who.channel, who.external_id, score=score)
        if result.score <= pulse.LOW_PULSE_MAX:
            dispatcher.utter_message(response=names.UTTER_PULSE_LOW)
        elif result.score == 3:
            dispatcher.utter_message(response=names.UTTER_PULSE_OKAY)
        else:
            dispatcher.utter_message(response=names.UTTER_PULSE_GOOD)
        return []
