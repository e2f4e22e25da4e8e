"""Run the feedback survey: validate scores and store the answers."""

from __future__ import annotations

from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import names
from actions.base import CrmAction, call_service, clock, sender_of, sla_policy
from actions.deps import get_deps
from actions.parsing import parse_score
from crm_store.services import surveys

MAX_COMMENT_CHARS = 4000
SKIP_WORDS = frozenset({"skip", "no", "nope", "nothing", "none", "n/a", "na", "-", "no thanks", "no comment"})


def _aspect_validator(slot: str):
    """Build a validator method accepting a 1..5 score for one aspect slot."""

    def validate(
        self: FormValidationAction,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        score = parse_score(slot_value, 1, 5)
        if score is None:
            dispatcher.utter_message(response=names.UTTER_SURVEY_INVALID_ASPECT)
        return {slot: score}

    validate.__doc__ = f"Accept a score from 1 to 5 for {slot}."
    return validate


class ValidateSurveyForm(FormValidationAction):
    """Validate the survey answers as the guest gives them."""

    def name(self) -> str:
        """Return the action name."""
        return names.VALIDATE_SURVEY_FORM

    def validate_survey_nps(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        """Accept a likelihood-to-recommend score from 0 to 10."""
        score = parse_score(slot_value, 0, 10)
        if score is None:
            dispatcher.utter_message(response=names.UTTER_SURVEY_INVALID_NPS)
        return {names.SURVEY_NPS: score}

    validate_survey_service = _aspect_validator("survey_service")
    validate_survey_facilities = _aspect_validator("survey_facilities")
    validate_survey_cleanliness = _aspect_validator("survey_cleanliness")
    validate_survey_value = _aspect_validator("survey_value")

    def validate_survey_comment(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        """Keep the comment, or an empty one when the guest skips."""
        text = str(slot_value or "").strip()
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if intent == names.INTENT_DENY or text.lower().strip(".! ") in SKIP_WORDS or text.startswith("/"):
            return {names.SURVEY_COMMENT: ""}
        return {names.SURVEY_COMMENT: text[:MAX_COMMENT_CHARS]}


class ActionSubmitSurvey(CrmAction):
    """Store the survey, open a recovery case for a detractor and offer the review link."""

    def name(self) -> str:
        """Return the action name."""
        return names.ACTION_SUBMIT_SURVEY

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        """Record the answers and thank the guest."""
        who = sender_of(tracker)
        aspects = {slot.removeprefix("survey_"): tracker.get_slot(slot) for slot in names.SURVEY_ASPECTS}
        result = await call_service(
            surveys.record_survey,
            clock(),
            sla_policy(),
            who.channel,
            who.external_id,
            nps=int(tracker.get_slot(names.SURVEY_NPS)),
            comment=tracker.get_slot(names.SURVEY_COMMENT) or None,
            **{key: int(value) for key, value in aspects.items()},
        )
        dispatcher.utter_message(response=names.UTTER_SURVEY_THANKS)
        events: list[EventType] = [SlotSet(slot, None) for slot in names.SURVEY_SLOTS]
        if result.recovery_reference:
            dispatcher.utter_message(
                response=names.UTTER_SURVEY_RECOVERY, complaint_reference=result.recovery_reference
            )
            events.append(SlotSet(names.SLOT_COMPLAINT_REFERENCE, result.recovery_reference))
        review_link = get_deps().settings.review_link
        if review_link:
            dispatcher.utter_message(response=names.UTTER_SURVEY_REVIEW_LINK, review_link=review_link)
        return events
