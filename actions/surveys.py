"""Run the feedback survey: validate scores, keep answers as they come, resume, store the survey.

Every validated answer is saved in the guest's unfinished survey (``surveys.save_survey_answers``), so
a guest who stops half-way keeps their answers; when the form starts again, the answers already given
are filled in from that draft and only the missing questions are asked. The comment is tagged with
topics and a sentiment (``hotel_nlu.survey_tagging``) before the survey is stored.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any, Callable

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import names
from actions.base import CrmAction, call_service, clock, sender_of, sla_policy
from actions.deps import get_deps
from actions.parsing import parse_score
from crm_store.services import surveys

logger = logging.getLogger(__name__)

MAX_COMMENT_CHARS = 4000
SKIP_WORDS = frozenset({"skip", "no", "nope", "nothing", "none", "n/a", "na", "-", "no thanks", "no comment"})

_tagger_lock = threading.Lock()
_tagger: Callable[[str], Any] | None = None


def comment_tagger() -> Callable[[str], Any]:
    """Return hotel_nlu's comment tagger, imported on first use (spaCy is slow to import)."""
    global _tagger
    with _tagger_lock:
        if _tagger is None:
            from hotel_nlu.survey_tagging import tag_comment

            _tagger = tag_comment
        return _tagger


def warm_up_tagger() -> None:
    """Import the tagger in the background, so the comment at the end of the survey is tagged at once."""
    if _tagger is None:
        threading.Thread(target=comment_tagger, name="survey-tagger-import", daemon=True).start()


def tag(comment: str | None) -> tuple[list[str] | None, str | None]:
    """Return (topics, sentiment) of a comment; (None, None) without one or when tagging fails."""
    if not comment:
        return None, None
    try:
        tags = comment_tagger()(comment)
    except Exception as exc:  # noqa: BLE001 - tagging is a nicety; the answers must be stored anyway
        logger.warning("survey comment not tagged: %s", type(exc).__name__)
        return None, None
    return list(tags.topics), str(tags.sentiment)


def _slot_answer(slot: str, value: Any) -> tuple[str, Any]:
    """Map a survey slot and its validated value to the service's answer name and value."""
    key = slot.removeprefix("survey_")
    if key == "comment":
        return key, (str(value) or None) if value is not None else None
    return key, int(value)


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
    """Validate the survey answers as the guest gives them, keep them, and resume an unfinished survey."""

    def name(self) -> str:
        """Return the action name."""
        return names.VALIDATE_SURVEY_FORM

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Pre-fill answers from the draft when the form starts; validate; save what was answered."""
        starting = (tracker.active_loop or {}).get("name") != names.FORM_SURVEY
        if starting:
            warm_up_tagger()
            await self._prefill(tracker)
            if any(tracker.get_slot(slot) is not None for slot in names.SURVEY_PREFILLABLE):
                dispatcher.utter_message(response=names.UTTER_SURVEY_RESUMED)
        events = await super().run(dispatcher, tracker, domain)
        answers = dict(
            _slot_answer(e["name"], e["value"])
            for e in events
            if e.get("event") == "slot" and e.get("name") in names.SURVEY_SLOTS and e.get("value") is not None
        )
        if answers:
            who = sender_of(tracker)
            try:
                await call_service(surveys.save_survey_answers, clock(), who.channel, who.external_id, answers=answers)
            except Exception as exc:  # noqa: BLE001 - the survey goes on; the form still has the answer
                logger.error("survey answer not saved: %s", type(exc).__name__)
        return events

    async def _prefill(self, tracker: Tracker) -> None:
        """Add the draft's answers for questions the conversation has not answered (as if just extracted)."""
        who = sender_of(tracker)
        try:
            draft = await call_service(surveys.get_survey_draft, clock(), who.channel, who.external_id)
        except Exception as exc:  # noqa: BLE001 - without the draft the guest is simply asked again
            logger.error("survey draft not loaded: %s", type(exc).__name__)
            return
        if draft is None:
            return
        fill = [
            SlotSet(slot, draft.answers[slot.removeprefix("survey_")])
            for slot in names.SURVEY_PREFILLABLE
            if tracker.get_slot(slot) is None and slot.removeprefix("survey_") in draft.answers
        ]
        if fill:
            tracker.add_slots(fill)

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
    """Store the survey, open a recovery case for a bad score and offer the review link to everyone."""

    def name(self) -> str:
        """Return the action name."""
        return names.ACTION_SUBMIT_SURVEY

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        """Tag the comment, record the answers and thank the guest."""
        who = sender_of(tracker)
        aspects = {slot.removeprefix("survey_"): tracker.get_slot(slot) for slot in names.SURVEY_ASPECTS}
        comment = tracker.get_slot(names.SURVEY_COMMENT) or None
        topics, sentiment = await _tag_in_thread(comment)
        result = await call_service(
            surveys.record_survey,
            clock(),
            sla_policy(),
            who.channel,
            who.external_id,
            nps=int(tracker.get_slot(names.SURVEY_NPS)),
            comment=comment,
            topics=topics,
            sentiment=sentiment,
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
        if review_link:  # offered to everyone who finishes, whatever the score (review sites forbid gating)
            dispatcher.utter_message(response=names.UTTER_SURVEY_REVIEW_LINK, review_link=review_link)
        return events


async def _tag_in_thread(comment: str | None) -> tuple[list[str] | None, str | None]:
    """Tag the comment in a worker thread (the first call imports spaCy)."""
    return await asyncio.to_thread(tag, comment)
