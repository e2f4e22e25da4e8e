"""Test POST /pms/events through a real aiohttp server and a migrated SQLite database."""

from __future__ import annotations

import itertools
import json
from datetime import date, datetime, timedelta, timezone
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.ops_http import build_app
from bot.pms_webhook import PmsWebhook, sign
from crm_store.model import StayStatus
from crm_store.settings import load_settings

from pms_harness import SECRET, Pms  # type: ignore[import-not-found]


async def test_pms_event_good_signature_creates_the_stay(pms: Pms) -> None:
    status, body = await pms.post(pms.event())
    assert status == 200
    assert body == {
        "status": "ok",
        "type": "reservation",
        "reference": "R-1001",
        "outcome": "created",
        "stay_status": "booked",
        "survey_due_at": None,
    }
    assert pms.counts() == (1, 1, 0, 1)
    [stay] = pms.stays()
    assert (stay.reservation_ref, stay.room, stay.status) == ("R-1001", "412", StayStatus.BOOKED)


async def test_pms_event_same_reservation_with_new_event_id_updates_not_duplicates(pms: Pms) -> None:
    await pms.post(pms.event("evt-1"))
    status, body = await pms.post(pms.event("evt-2", room="415"))
    assert (status, body["outcome"]) == (200, "updated")
    assert pms.counts() == (1, 1, 0, 2)


async def test_pms_event_check_in_then_check_out_schedules_the_survey(pms: Pms) -> None:
    status, body = await pms.post(pms.event("evt-in", "check_in"))
    assert (status, body["stay_status"]) == (200, "in_house")
    status, body = await pms.post(pms.event("evt-out", "check_out"))
    assert (status, body["stay_status"]) == (200, "checked_out")
    assert body["survey_due_at"] == "2026-06-02T08:00:00+00:00"  # 10:00 Berlin time the next day
    [follow_up] = pms.follow_ups()
    assert (follow_up.kind, follow_up.idempotency_key) == ("survey_invite", "survey:R-1001")


async def test_pms_event_sent_at_with_z_suffix_is_accepted(pms: Pms) -> None:
    event = pms.event()
    event["sent_at"] = "2026-06-01T11:58:00Z"
    assert (await pms.post(event))[0] == 200


async def test_pms_event_bad_signature_is_401_and_writes_nothing(pms: Pms) -> None:
    raw = json.dumps(pms.event()).encode()
    for signature in (sign("wrong-secret", raw), None, "sha256=xyz", sign(SECRET, raw + b" ")):
        status, body = await pms.post(raw, signature=signature)
        assert status == 401
        assert "X-PMS-Signature" in body["error"]
    assert pms.counts() == (0, 0, 0, 0)


async def test_pms_event_signature_hex_is_case_insensitive(pms: Pms) -> None:
    raw = json.dumps(pms.event()).encode()
    status, _ = await pms.post(raw, signature="sha256=" + sign(SECRET, raw)[7:].upper())
    assert status == 200


async def test_pms_event_replay_is_409_and_writes_nothing(pms: Pms) -> None:
    raw = json.dumps(pms.event("evt-1", "check_out")).encode()
    assert (await pms.post(raw))[0] == 200
    before = pms.counts()
    status, body = await pms.post(raw)
    assert status == 409
    assert "already processed" in body["error"]
    assert pms.counts() == before


async def test_pms_event_stale_or_future_sent_at_is_400(pms: Pms) -> None:
    for delta in (timedelta(minutes=-5, seconds=-1), timedelta(minutes=1, seconds=1)):
        event = pms.event()
        event["sent_at"] = (pms.clock.now() + delta).isoformat()
        status, body = await pms.post(event)
        assert status == 400
        assert body["error"].startswith("stale")
    assert pms.counts() == (0, 0, 0, 0)


async def test_pms_event_sent_at_within_window_is_accepted(pms: Pms) -> None:
    event = pms.event()
    event["sent_at"] = (pms.clock.now() - timedelta(minutes=4, seconds=59)).astimezone(timezone(timedelta(hours=2))).isoformat()
    assert (await pms.post(event))[0] == 200


async def test_pms_event_malformed_json_is_400(pms: Pms) -> None:
    for raw in (b"{not json", b"", "{\"a\": \"\udcff\"}".encode("utf-8", "surrogatepass"), b"[" * 100_000):
        status, body = await pms.post(raw)
        assert status == 400, raw[:20]
        assert body["error"].startswith("body is not")


def _without(event: dict[str, Any], *path: str) -> dict[str, Any]:
    target = event
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return event


async def test_pms_event_wrong_types_and_missing_fields_are_422_naming_the_field(pms: Pms) -> None:
    event = pms.event
    cases: list[tuple[Any, str]] = [
        ([1, 2], "body: expected a JSON object"),
        ({**event(), "event_id": 7}, "event_id: expected a string"),
        (_without(event(), "event_id"), "event_id: missing"),
        ({**event(), "event_id": "has space"}, "event_id:"),
        ({**event(), "sent_at": "yesterday"}, "sent_at: expected an ISO-8601"),
        ({**event(), "sent_at": "2026-06-01T12:00:00"}, "sent_at: the timestamp needs a UTC offset"),
        ({**event(), "type": "checkout"}, "type: expected one of reservation, check_in, check_out"),
        ({**event(), "reservation": "R-1"}, "reservation: expected an object"),
        (_without(event(), "reservation"), "reservation: missing"),
        (_without(event(), "reservation", "reference"), "reservation.reference: missing"),
        (event(guest="Ann"), "reservation.guest: expected an object"),
        (event(guest={"email": "ann@example.com"}), "reservation.guest.name: missing"),
        (event(guest={"name": "Ann", "email": 5}), "reservation.guest.email: expected a string"),
        (event(guest={"name": "Ann", "email": "ann@"}), "reservation.guest.email: not an e-mail address"),
        (event(arrival="2026-06-31"), "reservation.arrival: not a valid calendar date"),
        (event(departure="2026-05-01"), "reservation.departure: before arrival"),
        (event(room=412), "reservation.room: expected a string"),
    ]
    for document, message in cases:
        raw = json.dumps(document).encode()
        status, body = await pms.post(raw)
        assert status == 422, message
        assert body["error"].startswith(message), (body, message)
    assert pms.counts() == (0, 0, 0, 0)


async def test_pms_event_first_and_last_name_fields_are_accepted(pms: Pms) -> None:
    status, _ = await pms.post(pms.event(guest={"first_name": "Ann Marie", "last_name": "Lee"}))
    assert status == 200


async def test_pms_event_huge_body_is_413(pms: Pms) -> None:
    event = pms.event()
    event["padding"] = "x" * (300 * 1024)
    status, body = await pms.post(event)
    assert status == 413
    assert "256 KiB" in body["error"]


async def test_pms_event_huge_chunked_body_without_length_is_413(pms: Pms) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(40):
            yield b"x" * 8192

    response = await pms.client.post("/pms/events", data=chunks(), headers={"X-PMS-Signature": "sha256=" + "0" * 64})
    assert response.status == 413
    assert pms.counts() == (0, 0, 0, 0)


async def test_pms_event_without_secret_configured_is_503(session_factory, clock, db_url) -> None:
    settings = load_settings({"DATABASE_URL": db_url})
    client = TestClient(TestServer(build_app([], pms=PmsWebhook(session_factory, clock, settings))))
    await client.start_server()
    try:
        response = await client.post("/pms/events", data=b"{}")
        assert response.status == 503
        assert "PMS_WEBHOOK_SECRET" in (await response.json())["error"]
    finally:
        await client.close()


async def test_ops_app_without_pms_has_no_pms_route() -> None:
    client = TestClient(TestServer(build_app([])))
    await client.start_server()
    try:
        assert (await client.post("/pms/events", data=b"{}")).status == 404
        assert (await client.get("/live")).status == 200
    finally:
        await client.close()


# ---------------------------------------------------------------------------- property test

_json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20)
)
_json = st.recursive(_json_leaf, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)


_EVENT_IDS = itertools.count()
_BAD_VALUES = st.sampled_from(["", "  ", "x", "bad@", "12", "2026-02-30", "28/05/2026", "room with a view", "english please"])
_guest = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["Ann Lee", "Bo", "Jean-Luc Picard"]),
        "email": st.sampled_from(["ann@example.com", "ANN@EXAMPLE.COM", "bo@example.se", None]),
        "phone": st.sampled_from(["+44 20 7946 0001", "0044 20 7946 0001", "030 1234567", None]),
        "language": st.sampled_from(["en", "pt-BR", "de", None]),
    }
)
_PATHS = [
    ("event_id",), ("sent_at",), ("type",), ("reservation",), ("reservation", "reference"), ("reservation", "guest"),
    ("reservation", "room"), ("reservation", "arrival"), ("reservation", "departure"), ("reservation", "guest", "name"),
    ("reservation", "guest", "email"), ("reservation", "guest", "phone"), ("reservation", "guest", "language"),
]


@st.composite
def _events(draw: st.DrawFn, now: datetime) -> Any:
    """Draw a valid event, then break 0 to 2 of its fields (delete, random JSON or a bad string)."""
    arrival = draw(st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 12, 31)))
    event = {
        "event_id": draw(st.sampled_from([f"evt-{next(_EVENT_IDS)}"] * 9 + ["evt-replayed"])),
        "sent_at": (now + timedelta(seconds=draw(st.integers(min_value=-400, max_value=100)))).isoformat(),
        "type": draw(st.sampled_from(["reservation", "check_in", "check_out"])),
        "reservation": {
            "reference": draw(st.sampled_from(["R-1001", "r-1001", "R-2002", "R-3003"])),
            "guest": draw(_guest),
            "room": draw(st.sampled_from(["412", "12B", None])),
            "arrival": str(arrival),
            "departure": str(arrival + timedelta(days=draw(st.integers(min_value=-1, max_value=9)))),
        },
    }
    mutations = [0, 0, 0, 0, 0, 0, 1, 1, 1, 2][draw(st.sampled_from(range(10)))]
    for path in draw(st.lists(st.sampled_from(_PATHS), min_size=mutations, max_size=mutations)):
        target: Any = event
        for key in path[:-1]:
            target = target.get(key) if isinstance(target, dict) else None
        if isinstance(target, dict):
            how = draw(st.sampled_from(["delete", "json", "bad"]))
            if how == "delete":
                target.pop(path[-1], None)
            else:
                target[path[-1]] = draw(_json if how == "json" else _BAD_VALUES)
    return draw(_json) if draw(st.sampled_from([False] * 19 + [True])) else event


_NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
_bodies = st.sampled_from(range(6)).flatmap(
    lambda n: _events(_NOW).map(lambda document: json.dumps(document).encode())
    if n < 4
    else st.binary(max_size=300)
    if n == 4
    else st.text(max_size=200).map(lambda text: text.encode("utf-8", "surrogatepass"))
)
_signature_modes = st.sampled_from(["sign"] * 7 + ["missing", "garbage", "wrong"])


@settings(max_examples=320, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=_bodies, mode=_signature_modes, garbage=st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=80))
async def test_pms_event_random_bodies_and_headers_never_5xx_nor_partial_rows(pms: Pms, body: bytes, mode: str, garbage: str) -> None:
    signature = {"sign": "sign", "missing": None, "garbage": garbage or "x", "wrong": sign("other", body)}[mode]
    before = pms.counts()
    status, payload = await pms.post(body, signature=signature)
    after = pms.counts()
    assert status < 500, payload
    assert isinstance(payload, dict)
    if status == 200:
        assert after[3] == before[3] + 1  # the event id is recorded with the stay
        assert after[1] >= max(before[1], 1)
    else:
        assert "error" in payload
        assert after == before
