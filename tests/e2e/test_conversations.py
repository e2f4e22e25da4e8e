"""Talk to the real Rasa server and action server over REST as two guests, and check the CRM rows."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.rasa_client import RasaClient
from crm_store import model

from .conftest import http_get
from .domain_text import names_of

pytestmark = pytest.mark.e2e

ANNA = "cli:e2e-anna"
BOB = "cli:e2e-bob"


@pytest.fixture()
async def rasa(stack):
    """Yield a REST client for the running Rasa server."""
    async with RasaClient(stack.settings.rasa_url, stack.settings.rasa_token) as client:
        yield client


async def say(rasa: RasaClient, sender: str, text: str) -> list[dict]:
    """Send one message and return the replies."""
    return await rasa.send_message(sender, text)


def texts(replies: list[dict]) -> str:
    """Join reply texts for assertions on content."""
    return "\n".join(r.get("text") or "" for r in replies)


def rows(stack, stmt):
    """Run a select against the CRM database."""
    with stack.crm.connect() as conn:
        return conn.execute(stmt).all()


def guest_rows(stack, sender: str, entity):
    """Return the rows of `entity` that belong to the guest behind `sender`."""
    external = sender.split(":", 1)[1]
    stmt = (
        select(entity)
        .join(model.ChannelIdentity, model.ChannelIdentity.guest_id == entity.guest_id)
        .where(model.ChannelIdentity.external_id == external)
    )
    return rows(stack, stmt)


async def test_health_is_green_when_everything_answers(stack):
    assert http_get(stack.health_url) == 200


async def test_parse_shower_broken_is_a_maintenance_complaint(rasa):
    result = await rasa.parse("the shower in my room is broken")
    assert result["intent"]["name"] == "complain"
    categories = [e["value"] for e in result["entities"] if e["entity"] == "complaint_category"]
    assert categories == ["maintenance"]


async def test_guest_anna_preferences_complaint_and_detractor_survey(stack, rasa):
    assert names_of(await say(rasa, ANNA, "hi there")) == ["utter_greet_new"]
    assert names_of(await say(rasa, ANNA, "my name is Anna")) == ["utter_nice_to_meet_you"]

    replies = await say(rasa, ANNA, "I'd like hypoallergenic pillows and a room on a high floor")
    assert names_of(replies) == ["utter_preference_saved"]
    prefs = {(p.category, p.value) for p in guest_rows(stack, ANNA, model.Preference)
             if p.status == model.PreferenceStatus.ACTIVE}
    assert {("pillow", "hypoallergenic"), ("floor", "high")} <= prefs

    replies = await say(rasa, ANNA, "what do you know about me?")
    assert names_of(replies) == ["utter_profile_list"]
    assert "pillow: hypoallergenic" in texts(replies)

    replies = await say(rasa, ANNA, "the shower in my room is broken")
    assert names_of(replies) == ["utter_ask_room_number"]
    replies = await say(rasa, ANNA, "412")
    assert names_of(replies) == ["utter_complaint_logged", "utter_complaint_next_steps"]
    [complaint] = guest_rows(stack, ANNA, model.Complaint)
    assert (complaint.category, complaint.room, complaint.status) == (
        "maintenance", "412", model.ComplaintStatus.OPEN)
    assert complaint.reference in texts(replies)
    followups = rows(stack, select(model.FollowUp).where(
        model.FollowUp.idempotency_key == f"sla-ack:{complaint.reference}"))
    assert len(followups) == 1
    alerts = rows(stack, select(model.FollowUp).where(
        model.FollowUp.kind == "staff_alert", model.FollowUp.subject == complaint.reference))
    assert len(alerts) == 1

    replies = await say(rasa, ANNA, "I'd like to give feedback")
    assert names_of(replies) == ["utter_survey_intro", "utter_ask_survey_nps"]
    assert len(replies[-1]["buttons"]) == 11
    for payload, expected in [
        ('/inform{"score":"3"}', "utter_ask_survey_service"),
        ('/inform{"score":"2"}', "utter_ask_survey_facilities"),
        ("4", "utter_ask_survey_cleanliness"),
        ("1", "utter_ask_survey_value"),
        ('/inform{"score":"3"}', "utter_ask_survey_comment"),
    ]:
        assert names_of(await say(rasa, ANNA, payload)) == [expected]
    replies = await say(rasa, ANNA, "the bathroom was dirty and nobody answered the phone")
    assert names_of(replies) == ["utter_survey_thanks", "utter_survey_recovery", "utter_survey_review_link"]
    [survey] = guest_rows(stack, ANNA, model.SurveyResponse)
    assert (survey.nps, survey.service, survey.facilities, survey.cleanliness, survey.value) == (3, 2, 4, 1, 3)
    assert survey.comment == "the bathroom was dirty and nobody answered the phone"
    complaints = guest_rows(stack, ANNA, model.Complaint)
    assert len(complaints) == 2
    recovery = next(c for c in complaints if c.reference != complaint.reference)
    assert recovery.reference in texts(replies)

    replies = await say(rasa, ANNA, "hello again")
    assert names_of(replies) == ["utter_greet_returning"]
    assert "Anna" in texts(replies) and "pillow: hypoallergenic" in texts(replies)


async def test_guest_bob_sees_nothing_of_anna_and_runs_the_external_survey(stack, rasa):
    assert names_of(await say(rasa, BOB, "hello")) == ["utter_greet_new"]
    assert names_of(await say(rasa, BOB, "what do you know about me")) == ["utter_profile_empty"]

    replies = await rasa.trigger_intent(BOB, "EXTERNAL_survey_invite")
    assert names_of(replies) == ["utter_survey_intro", "utter_ask_survey_nps"]
    for answer in ["10", "5", "5", "4", "5"]:
        await say(rasa, BOB, answer)
    replies = await say(rasa, BOB, "/deny")
    assert names_of(replies) == ["utter_survey_thanks", "utter_survey_review_link"]
    [survey] = guest_rows(stack, BOB, model.SurveyResponse)
    assert (survey.nps, survey.service, survey.value, survey.comment) == (10, 5, 5, None)
    assert guest_rows(stack, BOB, model.Complaint) == []
    assert "Anna" not in texts(await say(rasa, BOB, "hi"))


async def test_complaint_cancelled_midway_stores_nothing(stack, rasa):
    sender = "cli:e2e-carla"
    replies = await say(rasa, sender, "it's way too noisy, people are shouting in the corridor")
    assert names_of(replies) == ["utter_ask_room_number"]
    replies = await say(rasa, sender, "cancel")
    assert names_of(replies) == ["utter_complaint_cancelled"]
    assert guest_rows(stack, sender, model.Complaint) == []


async def test_preference_during_complaint_is_saved_and_intake_continues(stack, rasa):
    sender = "cli:e2e-dan"
    assert names_of(await say(rasa, sender, "the tv remote doesn't work")) == ["utter_ask_room_number"]
    replies = await say(rasa, sender, "by the way I'm vegetarian")
    assert names_of(replies) == ["utter_preference_saved", "utter_ask_room_number"]
    replies = await say(rasa, sender, "room 207")
    assert names_of(replies)[0] == "utter_complaint_logged"
    [complaint] = guest_rows(stack, sender, model.Complaint)
    assert complaint.room == "207"
    assert [(p.category, p.value) for p in guest_rows(stack, sender, model.Preference)] == [
        ("dietary", "vegetarian")]


async def test_gibberish_twice_offers_a_human(stack, rasa):
    sender = "cli:e2e-erin"
    assert names_of(await say(rasa, sender, "qwxz plorb fnnn")) == ["utter_clarify"]
    assert names_of(await say(rasa, sender, "zzkv vvq blargh")) == ["utter_offer_human"]
    assert names_of(await say(rasa, sender, "/request_human")) == ["utter_human_requested"]
    assert len(guest_rows(stack, sender, model.HumanHandoff)) == 1


async def test_health_turns_red_when_rasa_stops(stack):
    import bot.supervisor as sup

    rasa_child = next(c for c in stack.children if c.name == "rasa")
    assert http_get(stack.health_url) == 200
    sup.stop_all([rasa_child])
    assert http_get(stack.health_url) == 503
