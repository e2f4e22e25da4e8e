"""Test the survey form's kept and resumed answers, comment tagging and the pulse-check answer."""

from __future__ import annotations

from typing import Any

from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions import names
from actions.pulse import ActionRecordPulse
from actions.surveys import ActionSubmitSurvey, ValidateSurveyForm
from crm_store import model
from crm_store.services.surveys import save_survey_answers

from .conftest import make_tracker, responses

FORM_DOMAIN: dict[str, Any] = {
    "responses": {},
    "slots": {slot: {"type": "any", "mappings": [{"type": "from_text", "conditions": [{"active_loop": "survey_form"}]}]}
              for slot in names.SURVEY_SLOTS},
    "forms": {"survey_form": {"required_slots": list(names.SURVEY_SLOTS)}},
}


def _slot_events(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def _drafts(engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(model.SurveyResponse)).all())


async def test_validate_survey_form_answer_is_kept_as_a_draft(crm):
    deps, engine = crm
    tracker = make_tracker(
        sender_id="tg:77", text="3", intent="inform", active_loop="survey_form",
        slots={"survey_nps": "3", "requested_slot": "survey_nps"},
        events=[{"event": "action", "name": "survey_form"}, {"event": "slot", "name": "survey_nps", "value": "3"}],
    )
    dispatcher = CollectingDispatcher()
    events = await ValidateSurveyForm().run(dispatcher, tracker, FORM_DOMAIN)
    assert _slot_events(events)["survey_nps"] == 3
    [draft] = _drafts(engine)
    assert (draft.nps, draft.completed) == (3, False)


async def test_validate_survey_form_resuming_fills_answers_already_given(crm):
    deps, engine = crm
    save_survey_answers(deps.uow(), deps.clock, "tg", "77", answers={"nps": 6, "service": 2})
    tracker = make_tracker(sender_id="tg:77", text="feedback", intent="give_feedback",
                           events=[{"event": "action", "name": "survey_form"}])
    dispatcher = CollectingDispatcher()
    events = await ValidateSurveyForm().run(dispatcher, tracker, FORM_DOMAIN)
    filled = _slot_events(events)
    assert (filled["survey_nps"], filled["survey_service"]) == (6, 2)
    assert "survey_facilities" not in filled
    assert responses(dispatcher) == [names.UTTER_SURVEY_RESUMED]
    assert len(_drafts(engine)) == 1


async def test_validate_survey_form_fresh_start_says_nothing(crm):
    tracker = make_tracker(sender_id="tg:78", text="feedback", intent="give_feedback",
                           events=[{"event": "action", "name": "survey_form"}])
    dispatcher = CollectingDispatcher()
    events = await ValidateSurveyForm().run(dispatcher, tracker, FORM_DOMAIN)
    assert _slot_events(events) == {} and responses(dispatcher) == []


async def test_submit_survey_tags_the_comment_with_topics_and_sentiment(crm):
    deps, engine = crm
    slots = {"survey_nps": 8, "survey_service": 4, "survey_facilities": 4, "survey_cleanliness": 3,
             "survey_value": 4, "survey_comment": "The room was dirty but the staff were lovely"}
    dispatcher = CollectingDispatcher()
    await ActionSubmitSurvey().run(dispatcher, make_tracker(sender_id="tg:79", slots=slots), {"responses": {}})
    [response] = _drafts(engine)
    assert response.completed is True
    assert set(response.topics) == {"cleanliness", "staff"}
    assert response.sentiment == "mixed"


async def test_record_pulse_low_button_score_alerts_staff(crm):
    deps, engine = crm
    tracker = make_tracker(sender_id="tg:80", text='/inform{"score":"2"}', intent="inform",
                           entities=[{"entity": "score", "value": "2"}])
    dispatcher = CollectingDispatcher()
    assert await ActionRecordPulse().run(dispatcher, tracker, {"responses": {}}) == []
    assert responses(dispatcher) == [names.UTTER_PULSE_LOW]
    with engine.connect() as conn:
        [alert] = conn.execute(select(model.FollowUp).where(model.FollowUp.kind == "feedback_alert")).all()
    assert (alert.payload["source"], alert.payload["score"]) == ("pulse", 2)


async def test_record_pulse_typed_good_score_thanks(crm):
    dispatcher = CollectingDispatcher()
    await ActionRecordPulse().run(dispatcher, make_tracker(sender_id="tg:81", text="4, all good", intent="inform"),
                                  {"responses": {}})
    assert responses(dispatcher) == [names.UTTER_PULSE_GOOD]


async def test_record_pulse_without_a_score_asks_again(crm):
    dispatcher = CollectingDispatcher()
    events = await ActionRecordPulse().run(dispatcher, make_tracker(sender_id="tg:82", text="412", intent="inform"),
                                           {"responses": {}})
    assert responses(dispatcher) == [names.UTTER_PULSE_INVALID]
    assert events == [{"event": "followup", "name": names.UTTER_PULSE_ASK, "timestamp": None}]
