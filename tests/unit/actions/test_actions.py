"""Run every action with a CollectingDispatcher against a real SQLite CRM and assert rows and responses."""

from __future__ import annotations

from sqlalchemy import func, select

import actions.base

from actions import names
from actions.complaints import ActionOpenComplaint, ValidateComplaintForm
from actions.fallback import ActionHandleFallback, ActionRequestHuman
from actions.preferences import ActionDeletePreference, ActionListProfile, ActionSavePreferences
from actions.session import ActionGreetGuest, ActionRememberName, ActionSessionStart
from actions.surveys import ActionSubmitSurvey, ValidateSurveyForm
from crm_store import model
from crm_store.db import make_engine, make_session_factory
from crm_store.unit_of_work import SqlUnitOfWork
from rasa_sdk.executor import CollectingDispatcher

from .conftest import DOMAIN, make_tracker, message, responses


def pref(entity: str, value: str) -> dict:
    """Build a Rasa entity dict as hotel_nlu produces it."""
    return {"entity": entity, "value": value, "start": 0, "end": 1, "confidence": 1.0}


async def run(action, tracker):
    """Run an action and return (dispatcher, events)."""
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, DOMAIN)
    return dispatcher, events


def active_prefs(engine, sender_external: str = "anna") -> list[tuple[str, str, str]]:
    """Return (category, value, source_text) of the guest's active preferences."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(model.Preference.category, model.Preference.value, model.Preference.source_text)
            .join(model.ChannelIdentity, model.ChannelIdentity.guest_id == model.Preference.guest_id)
            .where(model.ChannelIdentity.external_id == sender_external)
            .where(model.Preference.status == model.PreferenceStatus.ACTIVE)
            .order_by(model.Preference.id)
        ).all()
    return [tuple(r) for r in rows]


async def test_save_preferences_typed_entities_stores_rows_and_confirms(crm):
    _, engine = crm
    text = "I'd like hypoallergenic pillows and a high floor please"
    tracker = make_tracker(text=text, intent="share_preference",
                           entities=[pref("pillow", "hypoallergenic"), pref("floor", "high")])
    dispatcher, _ = await run(ActionSavePreferences(), tracker)
    assert active_prefs(engine) == [("pillow", "hypoallergenic", text), ("floor", "high", text)]
    saved = message(dispatcher, names.UTTER_PREFERENCE_SAVED)
    assert saved["preference_summary"] == "pillow: hypoallergenic, floor: high"


async def test_save_preferences_same_category_supersedes_and_says_updated(crm):
    _, engine = crm
    await run(ActionSavePreferences(), make_tracker(text="high floor", intent="share_preference",
                                                    entities=[pref("floor", "high")]))
    dispatcher, _ = await run(ActionSavePreferences(), make_tracker(
        text="actually a low floor", intent="share_preference", entities=[pref("floor", "low")]))
    assert [(c, v) for c, v, _ in active_prefs(engine)] == [("floor", "low")]
    updated = message(dispatcher, names.UTTER_PREFERENCE_UPDATED)
    assert updated["replaced_summary"] == "floor: high"


async def test_save_preferences_nothing_typed_keeps_a_note(crm):
    _, engine = crm
    text = "please make sure there are extra towels in the bathroom every day"
    dispatcher, _ = await run(ActionSavePreferences(), make_tracker(text=text, intent="share_preference"))
    assert responses(dispatcher) == [names.UTTER_PREFERENCE_NOTE_SAVED]
    assert active_prefs(engine) == [("note", text[:120], text)]


async def test_save_preferences_button_payload_asks_for_detail_and_stores_nothing(crm):
    _, engine = crm
    dispatcher, _ = await run(ActionSavePreferences(), make_tracker(text="/share_preference",
                                                                    intent="share_preference"))
    assert responses(dispatcher) == [names.UTTER_ASK_PREFERENCE_DETAIL]
    assert active_prefs(engine) == []


async def test_list_profile_empty_then_lists_each_preference(crm):
    dispatcher, _ = await run(ActionListProfile(), make_tracker(intent="ask_profile"))
    assert responses(dispatcher) == [names.UTTER_PROFILE_EMPTY]
    await run(ActionSavePreferences(), make_tracker(text="vegan and a crib", intent="share_preference",
                                                    entities=[pref("dietary", "vegan"), pref("bed_type", "crib")]))
    dispatcher, _ = await run(ActionListProfile(), make_tracker(intent="ask_profile"))
    listed = message(dispatcher, names.UTTER_PROFILE_LIST)
    assert listed["profile_lines"] == "• dietary: vegan\n• bed type: crib"


async def test_profile_of_one_guest_is_invisible_to_another(crm):
    await run(ActionSavePreferences(), make_tracker(sender_id="cli:anna", text="feather free pillows",
                                                    intent="share_preference",
                                                    entities=[pref("pillow", "hypoallergenic")]))
    dispatcher, _ = await run(ActionListProfile(), make_tracker(sender_id="cli:bob", intent="ask_profile"))
    assert responses(dispatcher) == [names.UTTER_PROFILE_EMPTY]


async def test_delete_preference_by_category_removes_it(crm):
    _, engine = crm
    await run(ActionSavePreferences(), make_tracker(text="ft and high floor", intent="share_preference",
                                                    entities=[pref("newspaper", "financial_times"),
                                                              pref("floor", "high")]))
    dispatcher, _ = await run(ActionDeletePreference(), make_tracker(
        text="forget the newspaper", intent="delete_preference",
        entities=[pref("preference_category", "newspaper")]))
    assert message(dispatcher, names.UTTER_PREFERENCE_DELETED)["preference_summary"] == "newspaper: all"
    assert [(c, v) for c, v, _ in active_prefs(engine)] == [("floor", "high")]


async def test_delete_preference_unclear_offers_buttons_per_category(crm):
    await run(ActionSavePreferences(), make_tracker(text="high floor", intent="share_preference",
                                                    entities=[pref("floor", "high")]))
    dispatcher, _ = await run(ActionDeletePreference(), make_tracker(text="delete one", intent="delete_preference"))
    which = message(dispatcher, names.UTTER_PREFERENCE_DELETE_WHICH)
    assert which["buttons"] == [{"title": "floor", "payload": '/delete_preference{"preference_category": "floor"}'}]


async def test_validate_complaint_description_generic_is_rejected_specific_kept():
    form = ValidateComplaintForm()
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(intent="complain")
    assert form.validate_complaint_description("I want to make a complaint", dispatcher, tracker, DOMAIN) == {
        "complaint_description": None}
    assert form.validate_complaint_description("the shower is broken", dispatcher, tracker, DOMAIN) == {
        "complaint_description": "the shower is broken"}


async def test_validate_room_number_accepts_digits_and_rejects_words():
    form = ValidateComplaintForm()
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(intent="inform")
    assert form.validate_room_number("we're in room 412", dispatcher, tracker, DOMAIN) == {"room_number": "412"}
    assert form.validate_room_number("the blue one", dispatcher, tracker, DOMAIN) == {"room_number": None}
    assert responses(dispatcher) == [names.UTTER_ROOM_NUMBER_INVALID]


async def test_open_complaint_writes_case_event_and_sla_followup(crm):
    deps, engine = crm
    tracker = make_tracker(intent="complain", slots={
        "complaint_description": "the shower in my room is broken",
        "complaint_category": "maintenance", "complaint_severity": "medium", "room_number": "412"})
    dispatcher, events = await run(ActionOpenComplaint(), tracker)
    with engine.connect() as conn:
        complaint = conn.execute(select(model.Complaint)).one()
        followup = conn.execute(select(model.FollowUp).where(model.FollowUp.kind == "sla_ack")).one()
        alerts = conn.execute(select(model.FollowUp).where(model.FollowUp.kind == "staff_alert")).all()
        n_events = conn.execute(select(func.count()).select_from(model.ComplaintEvent)).scalar_one()
    assert (complaint.category, complaint.severity, complaint.room) == ("maintenance", "medium", "412")
    assert followup.idempotency_key.startswith(f"sla-ack:{complaint.reference}")
    assert len(alerts) == 1
    assert n_events == 1
    logged = message(dispatcher, names.UTTER_COMPLAINT_LOGGED)
    assert logged["complaint_reference"] == complaint.reference
    assert logged["ack_minutes"] == 15
    assert {"event": "slot", "name": "complaint_reference", "value": complaint.reference} in [
        {k: e.get(k) for k in ("event", "name", "value")} for e in events]


async def test_open_complaint_safety_uses_urgent_reply(crm):
    tracker = make_tracker(intent="complain", slots={
        "complaint_description": "I smell gas in the corridor", "complaint_category": "safety",
        "complaint_severity": "medium", "room_number": "210"})
    dispatcher, _ = await run(ActionOpenComplaint(), tracker)
    assert message(dispatcher, names.UTTER_COMPLAINT_LOGGED_URGENT)["ack_minutes"] == 5


async def test_validate_survey_scores_parse_and_reject_out_of_range():
    form = ValidateSurveyForm()
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(intent="inform")
    assert form.validate_survey_nps("9", dispatcher, tracker, DOMAIN) == {"survey_nps": 9}
    assert form.validate_survey_nps("eleven", dispatcher, tracker, DOMAIN) == {"survey_nps": None}
    assert form.validate_survey_service("4 out of 5", dispatcher, tracker, DOMAIN) == {"survey_service": 4}
    assert form.validate_survey_value("7", dispatcher, tracker, DOMAIN) == {"survey_value": None}
    assert responses(dispatcher) == [names.UTTER_SURVEY_INVALID_NPS, names.UTTER_SURVEY_INVALID_ASPECT]


async def test_validate_survey_comment_skip_is_empty():
    form = ValidateSurveyForm()
    dispatcher = CollectingDispatcher()
    assert form.validate_survey_comment("/deny", dispatcher, make_tracker(intent="deny"), DOMAIN) == {
        "survey_comment": ""}
    assert form.validate_survey_comment("Lovely spa", dispatcher, make_tracker(intent="praise"), DOMAIN) == {
        "survey_comment": "Lovely spa"}


def survey_slots(nps: int, aspects=(4, 4, 4, 4), comment: str = "") -> dict:
    """Build the filled survey slots."""
    return {"survey_nps": nps, "survey_service": aspects[0], "survey_facilities": aspects[1],
            "survey_cleanliness": aspects[2], "survey_value": aspects[3], "survey_comment": comment}


async def test_submit_survey_detractor_opens_recovery_case_and_offers_review(crm):
    _, engine = crm
    tracker = make_tracker(slots=survey_slots(3, (2, 4, 1, 3), "bathroom was dirty"))
    dispatcher, _ = await run(ActionSubmitSurvey(), tracker)
    with engine.connect() as conn:
        response = conn.execute(select(model.SurveyResponse)).one()
        complaint = conn.execute(select(model.Complaint)).one()
    assert (response.nps, response.cleanliness, response.comment) == (3, 1, "bathroom was dirty")
    assert complaint.category == "cleanliness"
    assert responses(dispatcher) == [names.UTTER_SURVEY_THANKS, names.UTTER_SURVEY_RECOVERY,
                                     names.UTTER_SURVEY_REVIEW_LINK]
    assert message(dispatcher, names.UTTER_SURVEY_RECOVERY)["complaint_reference"] == complaint.reference


async def test_submit_survey_promoter_gets_review_link_and_no_case(crm):
    _, engine = crm
    dispatcher, _ = await run(ActionSubmitSurvey(), make_tracker(slots=survey_slots(10, (5, 5, 5, 5))))
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(model.Complaint)).scalar_one() == 0
        assert conn.execute(select(model.SurveyResponse.comment)).scalar_one() is None
    assert responses(dispatcher) == [names.UTTER_SURVEY_THANKS, names.UTTER_SURVEY_REVIEW_LINK]


def user_event(intent: str) -> dict:
    """Build a user event with the given intent."""
    return {"event": "user", "text": "x", "parse_data": {"intent": {"name": intent}}}


async def test_fallback_first_miss_clarifies_second_offers_human():
    one = make_tracker(intent="nlu_fallback", events=[user_event("greet"), user_event("nlu_fallback")])
    two = make_tracker(intent="nlu_fallback", events=[user_event("nlu_fallback"), user_event("nlu_fallback")])
    dispatcher, _ = await run(ActionHandleFallback(), one)
    assert responses(dispatcher) == [names.UTTER_CLARIFY]
    dispatcher, _ = await run(ActionHandleFallback(), two)
    assert responses(dispatcher) == [names.UTTER_OFFER_HUMAN]


async def test_request_human_records_handoff(crm):
    _, engine = crm
    dispatcher, _ = await run(ActionRequestHuman(), make_tracker(intent="request_human"))
    with engine.connect() as conn:
        handoff = conn.execute(select(model.HumanHandoff)).one()
    assert handoff.reason == "guest_request"
    assert responses(dispatcher) == [names.UTTER_HUMAN_REQUESTED]


async def test_remember_name_then_returning_greeting_mentions_preferences(crm):
    await run(ActionRememberName(), make_tracker(text="my name is anna", intent="introduce",
                                                 entities=[pref("guest_name", "Anna")]))
    await run(ActionSavePreferences(), make_tracker(text="quiet room please", intent="share_preference",
                                                    entities=[pref("quiet_room", "quiet")]))
    dispatcher, events = await run(ActionGreetGuest(), make_tracker(intent="greet"))
    greeting = message(dispatcher, names.UTTER_GREET_RETURNING)
    assert greeting["guest_name"] == "Anna"
    assert greeting["preference_summary"] == "quiet room"


async def test_greet_unknown_guest_gets_the_new_guest_welcome(crm):
    dispatcher, _ = await run(ActionGreetGuest(), make_tracker(sender_id="cli:newcomer", intent="greet"))
    assert responses(dispatcher) == [names.UTTER_GREET_NEW]


async def test_session_start_loads_known_name_into_slot(crm):
    await run(ActionRememberName(), make_tracker(text="I'm Bob", intent="introduce",
                                                 sender_id="cli:bob", entities=[pref("guest_name", "bob")]))
    dispatcher, events = await run(ActionSessionStart(), make_tracker(sender_id="cli:bob"))
    assert events[0]["event"] == "session_started"
    assert {"event": "slot", "name": "guest_name", "value": "Bob"} in [
        {k: e.get(k) for k in ("event", "name", "value")} for e in events]
    assert events[-1]["event"] == "action" and events[-1]["name"] == "action_listen"


async def test_action_reports_error_gracefully_when_database_is_broken(crm, tmp_path, monkeypatch):
    deps, _ = crm
    unmigrated = make_session_factory(make_engine(f"sqlite:///{tmp_path}/unmigrated.db"))
    monkeypatch.setattr(deps, "uow", lambda: SqlUnitOfWork(unmigrated))
    monkeypatch.setattr(actions.base, "RETRY_DELAYS_S", ())
    dispatcher, events = await run(ActionListProfile(), make_tracker(intent="ask_profile"))
    assert responses(dispatcher) == [names.UTTER_ERROR]
    assert events == []
