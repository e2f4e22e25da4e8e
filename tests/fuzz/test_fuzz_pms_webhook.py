"""Fuzz POST /pms/events through the real ops HTTP app on loopback, over a migrated PostgreSQL database.

The ops app (bot.ops_http with bot.pms_webhook) runs in its own process (pms_server.py) with the real clock.
Hypothesis generates batches of requests: valid events (odd Unicode names, longest allowed values, every event
type), events with fields deleted, of the wrong type, invalid, huge or with NUL and unpaired surrogate escapes;
bodies that are not JSON, not UTF-8 or not objects; bodies over 256 KiB with and without Content-Length;
missing, malformed, wrong and valid-but-for-another-body signatures; stale and future ``sent_at``; replays of
accepted events and new events reusing an accepted ``event_id``.

Checked for every request: never 5xx, always a JSON answer, every refusal a JSON ``{"error": ...}``, and the
exact status where the input decides it (401 for a bad signature, 413 over the limit, 200 for a valid fresh
event, 400 "stale" for an old one, 409 for a replay). After each batch: exactly one processed event id per 200
and one new stay per "created" answer. At the end, every stay holds exactly what the last accepted event for its
reference said (dates, room, status, guest), so no refused request changed a reservation, and the server's logs
carry no name, e-mail or reference.
(tests/integration/pms/test_pms_webhook.py keeps its smaller in-process property test; this one is the
high-volume run over real HTTP and PostgreSQL.)
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.pms_webhook import PATH, parse_event, sign
from crm_store.db import make_engine, make_session_factory
from crm_store.model import ProcessedUpdate, Stay
from crm_store.services.stays import stay_bounds
from tests.fuzz.harness import BOOL, Poster, fuzz_settings, index, pick, record_run, target_inputs
from tests.fuzz.pms_server import SECRET, TIMEZONE

BATCH = 20
ID_MARK = "\ue000id\ue000"
CANARY_MARK = "\ue000canary\ue000"
CANARY = re.compile(r"cnry\d+x")
_event_ids = itertools.count(1)
_canaries = itertools.count(1)

REFS = ["R-1001", "r-1001", "R-2002", "bk_77", "Z" + "9" * 63, "AB1", "R-3003"]
NAMES = [
    {"name": "Ann Lee"}, {"name": "Bo"}, {"name": "Jean-Luc Picard"}, {"name": f"Ann {CANARY_MARK}"},
    {"name": "\u0645\u0631\u062d\u0628\u0627 \u05e9\u05dc\u05d5\u05dd"}, {"name": "Zo\u00eb \u200bO'Neil"},
    {"name": "\U0001F600 \u202eevil"}, {"first_name": "A" * 80, "last_name": "B" * 80},
    {"first_name": "Ann Marie", "last_name": f"Lee-{CANARY_MARK}"}, {"last_name": "\u6f22\u5b57"},
]
EMAILS = ["ann@example.com", "ANN@EXAMPLE.COM", None, "x" * 240 + "@example.com", "\u00fcn\u00ef@ex\u00e4mple.de",
          f"{CANARY_MARK}@example.com", ""]
PHONES = ["+44 20 7946 0001", "0044 20 7946 0001", "030 1234567", None, "+" + "1" * 15, "12345", "(030) 12.34/56-7"]
LANGUAGES = ["en", "pt-BR", "de", None, "IT"]
ROOMS = ["412", "12b", None, "A-1", "0123456789", " 7 ", ""]
TYPES = ["reservation", "check_in", "check_out"]
BAD = ["", "  ", "x", "bad@", "12", "2026-02-30", "28/05/2026", "room with a view", "english please", 412, 4.5,
       True, None, [], {}, ["R-1"], {"a": 1}, "x" * 10_000, "a\u0000b", "\ud800", "\udfff x", "-1", "2026-13-01",
       "2026-06-01T10:00:00", "\u202e", "\U0001F600" * 50, "+" + "1" * 30, "@", "a@b", "R 1001"]
PATHS = [
    ("event_id",), ("sent_at",), ("type",), ("reservation",), ("reservation", "reference"),
    ("reservation", "guest"), ("reservation", "room"), ("reservation", "arrival"), ("reservation", "departure"),
    ("reservation", "guest", "name"), ("reservation", "guest", "first_name"), ("reservation", "guest", "email"),
    ("reservation", "guest", "phone"), ("reservation", "guest", "language"),
]
FRESH = list(range(-240, 31, 15))  # seconds from now: accepted
STALE = [-100_000, -3600, -400, -330, 90, 600, 86_400]  # refused as stale


@dataclasses.dataclass
class Request:
    """One generated request and what it must lead to."""

    kind: str
    document: Any = None  # JSON to send (with ID_MARK and CANARY_MARK to fill in), or None with ``raw``
    raw: bytes = b""
    offset: int = 0  # sent_at = now + offset seconds (when the document has a sent_at)
    signature: str = "sign"  # sign | missing | garbage | wrong_secret | other_body | upper | spaced
    garbage: str = ""
    chunked: bool = False
    padding: int = 0  # bytes of padding added when rendering (kept out of the drawn example: it is huge)
    expect: tuple[int, ...] = (200,)
    replay_index: int = 0
    stay_status: str = ""  # an accepted request: the stay status the server answered
    body: bytes = b""  # filled by render()
    headers: dict[str, str] = dataclasses.field(default_factory=dict)


def _fill(value: Any, event_id: str, canary: str) -> Any:
    if isinstance(value, str):
        return value.replace(ID_MARK, event_id).replace(CANARY_MARK, canary)
    if isinstance(value, dict):
        return {_fill(k, event_id, canary): _fill(v, event_id, canary) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, event_id, canary) for v in value]
    return value


def render(request: Request) -> Request:
    """Fill in a fresh event id, a canary and sent_at; serialise and sign."""
    body = request.raw
    if request.document is not None:
        document = _fill(request.document, f"fz-{next(_event_ids)}", f"cnry{next(_canaries)}x")
        if isinstance(document, dict) and document.get("sent_at") == "NOW":
            document["sent_at"] = (datetime.now(timezone.utc) + timedelta(seconds=request.offset)).isoformat()
        if request.padding:
            document["padding"] = "x" * request.padding
        body = json.dumps(document, ensure_ascii=True).encode("utf-8")
    return dataclasses.replace(request, document=None, body=body, headers=_headers(request, body))


def _headers(request: Request, body: bytes) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    mode = request.signature
    if mode == "missing":
        return headers
    value = {
        "sign": lambda: sign(SECRET, body),
        "upper": lambda: "sha256=" + sign(SECRET, body)[7:].upper(),
        "spaced": lambda: "  " + sign(SECRET, body) + " ",
        "garbage": lambda: request.garbage,
        "wrong_secret": lambda: sign("not-the-secret", body),
        "other_body": lambda: sign(SECRET, body + b" "),
    }[mode]()
    headers["X-PMS-Signature"] = value
    return headers


@st.composite
def valid_event(draw: st.DrawFn) -> dict[str, Any]:
    """Draw an event the webhook must accept when signed and fresh."""
    arrival = date(2026, 1, 1) + timedelta(days=draw(index(730)))
    guest = dict(pick(draw, NAMES))
    for key, pool in (("email", EMAILS), ("phone", PHONES), ("language", LANGUAGES)):
        value = pick(draw, pool)
        if value is not None or draw(BOOL):
            guest[key] = value
    reservation: dict[str, Any] = {
        "reference": pick(draw, REFS),
        "guest": guest,
        "arrival": arrival.isoformat(),
        "departure": (arrival + timedelta(days=draw(index(15)))).isoformat(),
    }
    room = pick(draw, ROOMS)
    if room is not None or draw(BOOL):
        reservation["room"] = room
    event = {"event_id": ID_MARK, "sent_at": "NOW", "type": pick(draw, TYPES), "reservation": reservation}
    if draw(index(5)) == 0:
        event["extra_field"] = {"ignored": [1, 2, 3]}
    return event


_json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=12))
_json = st.recursive(
    _json_leaf, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)
VALID = valid_event()
RAW_BYTES = st.binary(max_size=300)
RAW_TEXT = st.text(max_size=200).map(lambda text: text.encode("utf-8", "surrogatepass"))
GARBAGE = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=100)
REPLAY_INDEX = st.integers(0, 10**9)


@st.composite
def request(draw: st.DrawFn) -> Request:
    """Draw one request of one of the kinds listed in the module docstring."""
    kind = pick(draw, ["valid"] * 8 + ["mutated"] * 5 + ["stale", "badsig", "badsig", "raw", "raw", "json",
                                                          "huge", "replay", "dup_id"])
    if kind == "replay":
        return Request(kind, replay_index=draw(REPLAY_INDEX), expect=(409, 400))
    if kind == "raw":
        return Request(kind, raw=draw(RAW_BYTES if draw(BOOL) else RAW_TEXT), expect=(400, 422))
    if kind == "json":
        return Request(kind, raw=json.dumps(draw(_json)).encode(), expect=(400, 422))
    event = draw(VALID)
    offset = pick(draw, FRESH)
    signature = pick(draw, ["sign"] * 6 + ["upper", "spaced"])
    if kind == "valid":
        return Request(kind, event, offset=offset, signature=signature, expect=(200,))
    if kind == "stale":
        return Request(kind, event, offset=pick(draw, STALE), signature=signature, expect=(400,))
    if kind == "badsig":
        mode = pick(draw, ["missing", "garbage", "wrong_secret", "other_body"])
        return Request(kind, event, offset=offset, signature=mode, garbage=draw(GARBAGE), expect=(401,))
    if kind == "huge":
        signature = pick(draw, ["sign", "missing", "garbage"])
        return Request(kind, event, offset=offset, signature=signature, garbage="x", chunked=draw(BOOL),
                       padding=256 * 1024 + draw(index(200_000)), expect=(413,))
    if kind == "dup_id":
        return Request(kind, event, offset=offset, signature=signature, replay_index=draw(REPLAY_INDEX),
                       expect=(409,))
    for _ in range(1 + draw(index(2))):  # mutated: break one or two fields
        path = pick(draw, PATHS)
        target: Any = event
        for key in path[:-1]:
            target = target.get(key) if isinstance(target, dict) else None
        if isinstance(target, dict):
            if draw(index(3)) == 0:
                target.pop(path[-1], None)
            else:
                target[path[-1]] = draw(_json) if draw(index(4)) == 0 else pick(draw, BAD)
    return Request(kind, event, offset=offset, signature=signature, expect=(200, 400, 409, 422))


batches = st.lists(request(), min_size=BATCH, max_size=BATCH)


# ----------------------------------------------------------------------------------- the server


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(pg_url: str, tmp_path: Path) -> Any:
    """Start pms_server.py on ``pg_url``; yield (port, process); stop it and keep its captured logs."""
    port = _free_port()
    root = Path(__file__).resolve().parents[2]
    errors = open(tmp_path / "server.err", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fuzz.pms_server", "--db", pg_url, "--port", str(port)],
        cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    try:
        ready = process.stdout.readline()  # type: ignore[union-attr]
        assert ready == b"READY\n", (ready, (tmp_path / "server.err").read_text()[-3000:])
        yield port, process
    finally:
        if process.poll() is None:
            process.stdin.close()  # type: ignore[union-attr]
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        errors.close()


def _stop_and_read_logs(process: subprocess.Popen[bytes]) -> str:
    process.stdin.close()  # type: ignore[union-attr]
    output = process.stdout.read()  # type: ignore[union-attr]
    process.wait(30)
    return output.decode("utf-8", "replace")


# ----------------------------------------------------------------------------------- the test


def test_pms_webhook_fuzz_no_5xx_clear_errors_valid_events_land_exactly(server: Any, pg_url: str) -> None:
    port, process = server
    poster = Poster(port)
    engine = make_engine(pg_url)
    session_factory = make_session_factory(engine)

    def counts() -> tuple[int, int]:
        with engine.connect() as conn:
            return (conn.execute(select(func.count()).select_from(ProcessedUpdate)).scalar_one(),
                    conn.execute(select(func.count()).select_from(Stay)).scalar_one())

    accepted: list[Request] = []  # requests answered 200, in order
    statuses: Counter[int] = Counter()
    kinds: Counter[str] = Counter()
    inputs_run = 0

    def post(request: Request) -> Any:
        answer = poster.post(PATH, request.body, request.headers, chunked=request.chunked,
                             one_shot=request.kind == "huge")
        assert answer.status < 500, (request.kind, answer.status, answer.body[:300], request.body[:300])
        assert isinstance(answer.json, dict), (request.kind, answer.status, answer.body[:300])
        assert answer.status in request.expect, (request.kind, answer.status, answer.json, request.body[:400])
        if answer.status != 200:
            assert set(answer.json) == {"error"} and isinstance(answer.json["error"], str) and answer.json["error"]
            if request.kind == "stale":
                assert answer.json["error"].startswith("stale event"), answer.json
        return answer

    # Reservations that exist before the fuzz (the fuzz's references overlap them).
    for ref in ("R-1001", "R-2002"):
        seed = render(Request("valid", {"event_id": ID_MARK, "sent_at": "NOW", "type": "check_in", "reservation": {
            "reference": ref, "guest": {"name": "Seed Guest", "email": f"{ref.lower()}@example.com"}, "room": "101",
            "arrival": "2026-05-30", "departure": "2026-06-02"}}))
        answer = post(seed)
        assert answer.status == 200
        accepted.append(dataclasses.replace(seed, kind="seed", stay_status=answer.json["stay_status"]))
    with session_factory() as session:
        guest_of = {stay.reservation_ref: stay.guest_id for stay in session.execute(select(Stay)).scalars()}

    @fuzz_settings(mean_batch=BATCH)
    @given(batch=batches)
    def run(batch: list[Request]) -> None:
        nonlocal inputs_run
        processed_before, stays_before = counts()
        oks = created = 0
        for request in batch:
            if request.kind in ("replay", "dup_id") and len(accepted) == 0:
                continue
            if request.kind == "replay":
                request = dataclasses.replace(accepted[request.replay_index % len(accepted)], kind="replay",
                                              expect=(409, 400))
            else:
                request = render(request)
                if request.kind == "dup_id":  # a new event carrying an accepted event's id
                    reused = json.loads(accepted[request.replay_index % len(accepted)].body)["event_id"]
                    document = json.loads(request.body)
                    document["event_id"] = reused
                    request = dataclasses.replace(request, body=json.dumps(document).encode())
                    request = dataclasses.replace(request, headers=_headers(request, request.body))
            answer = post(request)
            inputs_run += 1
            statuses[answer.status] += 1
            kinds[request.kind] += 1
            if answer.status == 200:
                event = parse_event(request.body)
                assert answer.json["reference"] == event.reservation.reference
                assert answer.json["type"] == event.type
                oks += 1
                created += answer.json["outcome"] == "created"
                accepted.append(dataclasses.replace(request, stay_status=answer.json["stay_status"]))
        # Exactly one processed event id per accepted event, one new stay per "created", nothing else.
        assert counts() == (processed_before + oks, stays_before + created)

    started = time.monotonic()
    run()
    seconds = time.monotonic() - started

    # Every stay holds what the last accepted event for its reference said.
    expected: dict[str, dict[str, Any]] = {}
    tz = ZoneInfo(TIMEZONE)
    for request in accepted:
        reservation = parse_event(request.body).reservation
        arrival, departure = stay_bounds(reservation.arrival, reservation.departure, tz)
        state = expected.setdefault(reservation.reference, {"room": None})
        state.update(arrival=arrival, departure=departure, status=request.stay_status)
        if reservation.room is not None:
            state["room"] = reservation.room
    with session_factory() as session:
        stays = {stay.reservation_ref: stay for stay in session.execute(select(Stay)).scalars()}
    assert set(stays) == set(expected)
    for ref, state in expected.items():
        stay = stays[ref]
        actual = {"arrival": stay.arrival, "departure": stay.departure, "status": str(getattr(stay.status, "value",
                  stay.status)), "room": stay.room}
        assert actual == state, ref
    for ref, guest_id in guest_of.items():
        assert stays[ref].guest_id == guest_id, f"{ref} changed guest"
    engine.dispose()

    # The server never logged a name, an e-mail or a reference.
    poster.close()
    logs = _stop_and_read_logs(process)
    assert "PMS" in logs  # the capture works: applied events are logged (by stay id)
    assert not CANARY.search(logs), CANARY.search(logs)
    for secret_text in ("Seed Guest", "r-1001@example.com", "R-1001", "R-2002", "Jean-Luc"):
        assert secret_text not in logs, secret_text

    record_run("pms_webhook", inputs=inputs_run, accepted=statuses[200], refused=inputs_run - statuses[200],
               seconds=round(seconds))
    print("pms statuses", dict(statuses), "kinds", dict(kinds))
    assert inputs_run >= target_inputs() * 0.9, inputs_run
