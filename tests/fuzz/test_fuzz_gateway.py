"""Fuzz the Telegram gateway's update handling over its real webhook endpoint.

The real gateway (python-telegram-bot Application, our webhook receiver, dedupe, guest handlers and the staff
desk) runs in webhook mode on loopback with a migrated SQLite CRM database, the faithful Bot API fake for
everything it sends, and a small HTTP stand-in for Rasa's REST channel. Hypothesis generates batches of raw
webhook bodies: well-formed updates with odd Unicode and texts of 0 to 8,192 characters, commands, photos,
voice/stickers/locations, button presses with junk data, update types the gateway does not handle, updates in
groups and in the staff chat, redelivered updates, huge ids; and junk: raw bytes, non-JSON, JSON that is not an
object, updates with fields deleted or of the wrong type, unpaired surrogate escapes, ids out of range, a wrong
secret and bodies over the size limit.

Checked: no answer is 5xx and every refusal is a JSON error; each accepted guest text reaches Rasa exactly once
and in order and gets exactly one answer; redeliveries are not handled again; every accepted update id is
recorded once; the seeded guest, stay and complaint rows are unchanged; no log line carries a guest's text; and
a normal message after the fuzz still gets its reply. The flood limits are lifted for this run (they have their
own tests) so 10,000 updates fit in CI's budget.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import json
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select, text as sql_text

from bot.telegram.gateway import parse_typed_link
from crm_store.clock import SystemClock
from crm_store.db import make_engine, make_session_factory, migrate
from crm_store.model import Guest, ProcessedUpdate, Stay, StayStatus
from crm_store.policy import SlaPolicy
from crm_store.services.complaints import open_complaint
from crm_store.unit_of_work import SqlUnitOfWork
from tests.fakes.bot_api import FakeBotApi
from tests.fuzz.gateway_server import HOOK_PATH, SECRET, STAFF_CHAT, answer_key
from tests.fuzz.harness import BOOL, Poster, fuzz_settings, index, pick, record_run, target_inputs

HEADERS = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET}
SEED_CHAT = 709_999
SEED_REF = "SEEDREF77"
# The guests whose answers are checked exactly; one of them has an id far beyond 64 bits.
GUEST_CHATS = [710_001 + i for i in range(11)] + [2**70 + 7]
JUNK_CHATS = [720_001 + i for i in range(6)]
BOT_ID = FakeBotApi.bot_id
DATE = 1_780_000_000
CANARY = re.compile(r"cnry\d+x")


# ----------------------------------------------------------------------------------- strategies

# Update ids and canaries are filled in when a request is sent, not drawn: hypothesis needs draws that do not
# depend on state outside it. ID_MARK marks "a fresh update id here"; CANARY_MARK "a unique canary here".
_ids = itertools.count(6_000_000)
_message_ids = itertools.count(1)
_canaries = itertools.count(1)
ID_MARK = -777_000
CANARY_MARK = "\ue000canary\ue000"

ODD = [
    "\u200f", "\u202e", "\u202d", "\u200b", "\u200c", "\u200d", "\ufeff", "\u0000", "\n", "\r\n", "\t", "\x1f",
    "\U0001F600", "\U0001F468\u200D\U0001F469\u200D\U0001F467", "\U0001F1EE\U0001F1F9", "e\u0301", "\u0301",
    "\u05e9\u05dc\u05d5\u05dd", "\u0645\u0631\u062d\u0628\u0627", "\u6f22\u5b57", "\U0001D11E", "\u00a0", "\u2028",
    "\u2029", "\x7f", "\ufffd", "\\", '"', "<b>", "&amp;", "*_`[", "%s", "{0}", "%(x)s", "/", "~", "case:", " ",
    "\U000E0041", "\uFDD0", "\U0010FFFF",
]
REPLAY_INDEX = st.integers(0, 10**9)

_piece = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=24),
    st.sampled_from(ODD),
    st.text(alphabet="abcXYZ0189 -_'", max_size=12),
)
short_text = st.lists(_piece, max_size=6).map("".join)


def _stretch(seed: str, length: int) -> str:
    seed = seed or "x"
    return (seed * (length // len(seed) + 1))[:length]


long_text = st.builds(_stretch, short_text, st.sampled_from([4095, 4096, 4097, 5000, 8192]))
blank_text = st.sampled_from(["", " ", "\n", "\t \r\n", "\u00a0", "\u2028", "\u3000"])


@st.composite
def guest_text(draw: st.DrawFn) -> str:
    """Draw a guest text: blank, short and odd, or 4,096+ characters; most carry a canary for the log check."""
    kind = pick(draw, ["short"] * 14 + ["blank"] * 2 + ["long"] * 2 + ["typed_link"])
    if kind == "blank":
        return draw(blank_text)
    if kind == "typed_link":
        return pick(draw, ["AB12CD Rossi", "RES123456 rossi", "XYZ9 O'Neil", "BK-1 Lee"])
    body = draw(short_text if kind == "short" else long_text)
    if draw(BOOL) or kind == "long":
        cut = draw(index(len(body) + 1))
        return body[:cut] + f" {CANARY_MARK} " + body[cut:]
    return body


GUEST_TEXT = guest_text()
COMMAND_REST = st.one_of(
    st.sampled_from(["", " ", " NOPE1234", " NOPE1234 Rossi", " \u200b"]), short_text.map(lambda s: " " + s)
)
CALLBACK_DATA = st.one_of(
    st.text(max_size=70),
    st.sampled_from(["", " ", "~", "~unknownkey", "case:ack:NOPE", "case:", "/affirm", "/restart", "\u200b"]),
    st.none(),
)
RAW_BYTES = st.binary(max_size=200)
RAW_TEXT = st.text(max_size=100)


def _user(user_id: int, name: str = "G") -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": name or "G", "language_code": "en"}


def _chat(chat_id: int, name: str = "G") -> dict[str, Any]:
    if chat_id < 0:
        return {"id": chat_id, "type": "supergroup", "title": name or "group"}
    return {"id": chat_id, "type": "private", "first_name": name or "G"}


def _message(chat_id: int, user_id: int | None = None, name: str = "G", **content: Any) -> dict[str, Any]:
    return {
        "message_id": next(_message_ids),
        "date": DATE,
        "chat": _chat(chat_id, name),
        "from": _user(chat_id if user_id is None else user_id, name),
        **content,
    }


def _bot_message(chat_id: int) -> dict[str, Any]:
    return {"message_id": next(_message_ids), "date": DATE, "chat": _chat(chat_id),
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Hotel Assistant"}, "text": "question",
            "reply_markup": {"inline_keyboard": [[{"text": "Yes", "callback_data": "/affirm"}]]}}


@dataclasses.dataclass
class Item:
    """One generated webhook request and what the gateway must do with it."""

    kind: str
    body: bytes
    headers: dict[str, str] = dataclasses.field(default_factory=lambda: dict(HEADERS))
    update: Any = None  # the document to send (body is then empty), with ID_MARK and CANARY_MARK to fill in
    ascii_only: bool = True
    chat: int | None = None
    rule: str | None = None  # how Rasa's expected input follows from rule_text: "text", "start" or "callback"
    rule_text: str = ""
    expect: tuple[int, ...] = (200,)  # acceptable HTTP statuses
    replay_index: int | None = None  # "replay": which earlier accepted update to send again
    texts: list[str] = dataclasses.field(default_factory=list)  # guest texts that must never be logged
    rasa: list[str] = dataclasses.field(default_factory=list)  # filled by render(): what Rasa must receive


def _fill(value: Any, canary: str) -> Any:
    if isinstance(value, str):
        return value.replace(CANARY_MARK, canary)
    if isinstance(value, dict):
        return {_fill(k, canary): _fill(v, canary) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, canary) for v in value]
    return value


def render(item: Item) -> Item:
    """Fill in a fresh update id and canary, serialise the update and work out what Rasa must receive."""
    if item.update is None:
        return item
    canary = f"cnry{next(_canaries)}x"
    update = _fill(item.update, canary)
    if isinstance(update, dict) and update.get("update_id") == ID_MARK:
        update["update_id"] = next(_ids)
    text = _fill(item.rule_text, canary)
    rasa: list[str] = []
    if item.rule == "text":
        rasa = _to_rasa_text(text)
    elif item.rule == "start" and not text.split()[1:]:
        rasa = ["/greet"]  # a bare /start greets through Rasa
    elif item.rule == "callback" and not text.startswith(("case:", "~")) and text.strip():
        rasa = [text]  # a button's payload goes to Rasa; staff-desk and expired keys do not
    body = json.dumps(update, ensure_ascii=item.ascii_only).encode("utf-8")
    return dataclasses.replace(item, body=body, update=None, rasa=rasa, texts=[_fill(t, canary) for t in item.texts])


def _to_rasa_text(text: str) -> list[str]:
    """Say what Rasa receives for a private text message (the gateway's routing rules, as documented)."""
    if not text or not text.strip():
        return []  # not text at all, or blank: a polite "I can only read text"
    if parse_typed_link(text) is not None:
        return []  # "<booking ref> <surname>" links the chat instead
    return [text]


@st.composite
def modelled(draw: st.DrawFn) -> Item:
    """Draw a well-formed update whose handling is known exactly."""
    chat = pick(draw, GUEST_CHATS)
    kind = pick(draw, 
        ["text"] * 10 + ["command"] * 2 + ["photo", "other", "callback", "callback", "unhandled", "unhandled",
                                            "group", "staff", "replay", "replay"]
    )
    update_id = ID_MARK
    name = pick(draw, ["G", "Ann", "\u202eevil", "\U0001F600", "\u0000x", "A" * 64])
    ascii_only = draw(BOOL)  # True: non-ASCII as \\u escapes, astral characters as surrogate pairs
    rule: str | None = None
    rule_text = ""
    texts: list[str] = []
    if kind == "text":
        text = draw(GUEST_TEXT)
        update = {"update_id": update_id, "message": _message(chat, name=name, text=text)}
        if not text:
            del update["message"]["text"]  # Telegram never sends "", but an absent text is a non-text message
        rule, rule_text, texts = "text", text, [text]
    elif kind == "command":
        command = pick(draw, ["/start", "/help", "/privacy", "/stop", "/menu", "/START"])
        rest = draw(COMMAND_REST)
        text = command + rest
        entities = [{"type": "bot_command", "offset": 0, "length": len(command.encode("utf-16-le")) // 2}]
        update = {"update_id": update_id, "message": _message(chat, name=name, text=text, entities=entities)}
        if command.lower() == "/start":
            rule, rule_text = "start", text
    elif kind == "photo":
        caption = draw(short_text)
        sizes = [{"file_id": f"AgACw{w}", "file_unique_id": f"U{w}", "width": w, "height": w,
                  "file_size": w * 10} for w in (90, 320, 1280)]
        content: dict[str, Any] = {"photo": sizes}
        if caption:
            content["caption"] = caption
        update = {"update_id": update_id, "message": _message(chat, name=name, **content)}
        texts = [caption]
    elif kind == "other":
        content = pick(draw, [
            {"voice": {"file_id": "AwAC", "file_unique_id": "v1", "duration": 3}},
            {"sticker": {"file_id": "CAAC", "file_unique_id": "s1", "type": "regular", "width": 512, "height": 512,
                         "is_animated": False, "is_video": False}},
            {"location": {"latitude": 45.46, "longitude": 9.19}},
            {"document": {"file_id": "BQAC", "file_unique_id": "d1", "file_name": "\u202egpj.exe"}},
            {"contact": {"phone_number": "+390000", "first_name": "X"}},
            {"dice": {"emoji": "\U0001F3B2", "value": 6}},
            {"new_chat_title": "x"},
        ])
        update = {"update_id": update_id, "message": _message(chat, name=name, **content)}
    elif kind == "callback":
        data = draw(CALLBACK_DATA)
        query: dict[str, Any] = {"id": "q1", "from": _user(chat, name), "chat_instance": "ci"}
        with_message = pick(draw, ["message", "message", "inaccessible", "inline"])
        if with_message == "message":
            query["message"] = _bot_message(chat)
        elif with_message == "inaccessible":
            query["message"] = {"message_id": next(_message_ids), "date": 0, "chat": _chat(chat)}
        else:
            query["inline_message_id"] = "AAAA"
        if data is not None:
            query["data"] = data
        update = {"update_id": update_id, "callback_query": query}
        if with_message != "inline":
            rule, rule_text = "callback", data or ""
        texts = [data or ""]
    elif kind == "unhandled":
        kind_name = pick(draw, ["edited_message", "channel_post", "edited_channel_post", "my_chat_member",
                                          "poll", "poll_answer", "chat_join_request", "message_reaction",
                                          "inline_query", "future_update_type"])
        text = draw(GUEST_TEXT)
        texts = [text]
        if kind_name in ("edited_message", "channel_post", "edited_channel_post"):
            target = chat if kind_name == "edited_message" else -1001000000001
            message = _message(target, user_id=chat, name=name, text=text or "x", edit_date=DATE + 5)
            if kind_name != "edited_message":
                message["chat"] = {"id": target, "type": "channel", "title": "news"}
                message.pop("from")
            payload_obj: Any = message
        elif kind_name in ("my_chat_member", "chat_join_request"):
            member = {"status": "kicked", "user": {"id": BOT_ID, "is_bot": True, "first_name": "Bot"}, "until_date": 0}
            payload_obj = {"chat": _chat(chat), "from": _user(chat), "date": DATE}
            if kind_name == "my_chat_member":
                payload_obj.update(old_chat_member={"status": "member", "user": member["user"]},
                                   new_chat_member=member)
            else:
                payload_obj.update(user_chat_id=chat)
        elif kind_name == "poll":
            payload_obj = {"id": "p1", "question": text or "?", "options": [{"text": "a", "voter_count": 1, "persistent_id": "o1"}],
                           "total_voter_count": 1, "is_closed": False, "is_anonymous": True, "type": "regular",
                           "allows_multiple_answers": False, "allows_revoting": False, "members_only": False}
        elif kind_name == "poll_answer":
            payload_obj = {"poll_id": "p1", "user": _user(chat), "option_ids": [0], "option_persistent_ids": ["o1"]}
        elif kind_name == "message_reaction":
            payload_obj = {"chat": _chat(chat), "message_id": 1, "user": _user(chat), "date": DATE,
                           "old_reaction": [], "new_reaction": [{"type": "emoji", "emoji": "\U0001F44D"}]}
        elif kind_name == "inline_query":
            payload_obj = {"id": "iq", "from": _user(chat), "query": text, "offset": ""}
        else:
            payload_obj = {"text": text, "chat": _chat(chat), "weird": [1, {"x": None}]}
        update = {"update_id": update_id, kind_name: payload_obj}
    elif kind == "group":
        text = draw(GUEST_TEXT) or "x"
        update = {"update_id": update_id, "message": _message(-1002000000000 - chat % 1000, user_id=chat, text=text)}
        texts = [text]
    elif kind == "staff":
        text = pick(draw, ["/cases", "/handback", "/handback C-NOPE", "hello desk", "/cases@hotel_test_bot"])
        intruder = pick(draw, [chat, 999_999, 2**70])
        message = _message(STAFF_CHAT, user_id=intruder, text=text)
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        elif draw(BOOL):
            message["reply_to_message"] = _bot_message(STAFF_CHAT)
        if draw(BOOL):
            update = {"update_id": update_id, "message": message}
        else:
            update = {"update_id": update_id, "callback_query": {
                "id": "q2", "from": _user(intruder), "chat_instance": "ci", "message": _bot_message(STAFF_CHAT),
                "data": pick(draw, ["case:ack:C-NOPE", "case:resolve:", "case:x:y:z", "case:reassign:C-1"])}}
    else:  # replay an update accepted earlier
        return Item("replay", b"", replay_index=draw(REPLAY_INDEX))
    return Item(kind, b"", update=update, ascii_only=ascii_only, chat=chat, rule=rule, rule_text=rule_text,
                texts=texts)


_WRONG = [None, True, False, "", "x", "12", 1.5, -1, 0, 2**70, -(2**70), [], [1, "a"], {}, {"id": "x"},
          "\u202e", "\ud800"]


def _mutate(value: Any, draw: st.DrawFn, depth: int = 0) -> Any:
    if isinstance(value, dict) and value and depth < 4:
        key = pick(draw, sorted(value))
        action = pick(draw, ["delete", "wrong", "recurse", "recurse", "extra"])
        value = dict(value)
        if action == "delete":
            del value[key]
        elif action == "wrong":
            value[key] = pick(draw, _WRONG)
        elif action == "extra":
            value[pick(draw, ["zz_unknown", "", "\u0000", "message", "update_id"])] = pick(draw, _WRONG)
        else:
            value[key] = _mutate(value[key], draw, depth + 1)
        return value
    if isinstance(value, list) and value and depth < 4:
        value = list(value)
        at = draw(index(len(value)))
        value[at] = _mutate(value[at], draw, depth + 1)
        return value
    return pick(draw, _WRONG)


_json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=12))
_json = st.recursive(
    _json_leaf, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=10,
)
NOT_OBJECT = st.one_of(st.lists(_json, max_size=3), st.text(max_size=10), st.integers(), st.none(), st.booleans())
RANDOM_OBJECT = st.dictionaries(st.text(max_size=12), _json, max_size=5)


@st.composite
def junk(draw: st.DrawFn) -> Item:
    """Draw a request the gateway must refuse cleanly or survive: broken bytes, shapes, ids, secrets, sizes."""
    kind = pick(draw, 
        ["bytes", "not_json", "not_object", "random_object", "mutated", "mutated", "mutated", "mutated",
         "surrogate", "bad_id", "secret", "content_type", "huge", "deep"]
    )
    chat = pick(draw, JUNK_CHATS)
    update_id = ID_MARK
    if kind == "bytes":
        body = draw(RAW_BYTES)
        return Item(kind, body, expect=(200, 400))  # random bytes are almost never an Update
    if kind == "not_json":
        text = draw(RAW_TEXT)
        return Item(kind, text.encode("utf-8", "surrogatepass"), expect=(400,) if not _is_json(text) else (200, 400))
    if kind == "not_object":
        value = draw(NOT_OBJECT)
        return Item(kind, json.dumps(value).encode(), expect=(400,))
    if kind == "random_object":
        value = draw(RANDOM_OBJECT)
        if draw(BOOL):
            value["update_id"] = update_id
        return Item(kind, b"", update=value, expect=(200, 400))
    if kind == "deep":
        depth = pick(draw, [50, 1000, 100_000])
        return Item(kind, b'{"update_id": 5, "message": ' + b"[" * depth + b"]" * depth + b"}", expect=(400,))
    text = draw(GUEST_TEXT) or "x"
    base_kind = pick(draw, ["message", "callback_query", "edited_message"])
    if base_kind == "callback_query":
        inner: dict[str, Any] = {"id": "q", "from": _user(chat), "chat_instance": "ci", "message": _bot_message(chat),
                                 "data": text[:64]}
    else:
        inner = _message(chat, text=text, entities=[{"type": "bold", "offset": 0, "length": 1}])
    update: dict[str, Any] = {"update_id": update_id, base_kind: inner}
    expect: tuple[int, ...] = (200, 400)
    headers = dict(HEADERS)
    if kind == "mutated":
        for _ in range(1 + draw(index(3))):
            update = _mutate(update, draw)
            if not isinstance(update, dict):
                update = {"update_id": update_id, "junk": update}
    elif kind == "surrogate":
        where = draw(index(len(text) + 1))
        lone = pick(draw, ["\ud800", "\udfff", "\udc00x", "\ud83d"])
        inner_text = text[:where] + lone + text[where:]
        if base_kind == "callback_query":
            inner["data"] = inner_text
        else:
            inner["text"] = inner_text
        expect = (400,)
    elif kind == "bad_id":
        update["update_id"] = pick(draw, [-(2**63) - 1, 2**63, 2**70, "123", 1.5, True, None, [1]])
        if draw(BOOL):
            del update["update_id"]
        expect = (400,)
    elif kind == "secret":
        wrong = pick(draw, [None, "", "wrong", SECRET + "x", SECRET.upper(), "\u00e9" + SECRET])
        if wrong is None:
            del headers["X-Telegram-Bot-Api-Secret-Token"]
        else:
            headers["X-Telegram-Bot-Api-Secret-Token"] = wrong.encode("utf-8").decode("latin-1")
        expect = (403,)
    elif kind == "content_type":
        headers["Content-Type"] = pick(draw, ["text/plain", "application/x-www-form-urlencoded", ""])
        expect = (200, 400)
    elif kind == "huge":
        inner["text"] = "y" * (1024 * 1024 + 1 + draw(index(1000)))
        expect = (413,)
    return Item(kind, b"", update=update, headers=headers, chat=chat, expect=expect, texts=[text])


def _update_id_of(body: bytes) -> int | None:
    """Return the update id a body really carries (mutations may have changed it), if it is usable."""
    try:
        document = json.loads(body)
    except ValueError:
        return None
    value = document.get("update_id") if isinstance(document, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63 else None


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


JUNK = junk()
MODELLED = modelled()


@st.composite
def one_input(draw: st.DrawFn) -> Item:
    """Draw junk three times in ten, else a modelled update."""
    return draw(JUNK if draw(index(10)) < 3 else MODELLED)


BATCH = 20
inputs = st.lists(one_input(), min_size=BATCH, max_size=BATCH)


# ----------------------------------------------------------------------------------- the stack


@dataclasses.dataclass
class Stack:
    """The fakes' process and the gateway's process (see gateway_server.py), and the database the gateway uses."""

    processes: list[subprocess.Popen[bytes]]
    port: int
    fakes_control: int
    gateway_control: int
    engine: Any

    def _get(self, port: int, name: str) -> Any:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/{name}", timeout=120) as response:
            return json.loads(response.read())

    def state(self) -> dict[str, Any]:
        """Return what Rasa received and what the bot sent."""
        return self._get(self.fakes_control, "state")

    def logs(self) -> str:
        """Return the gateway's captured log text."""
        return self._get(self.gateway_control, "logs")["logs"]

    def rasa_texts(self, state: dict[str, Any], chat: int) -> list[str]:
        return [text for sender, text in state["rasa"] if sender == f"tg:{chat}"]

    def answers(self, state: dict[str, Any], chat: int) -> list[str]:
        return [text for to, text in state["sent"] if to == chat and (text or "").startswith("echo: ")]

    def scalar(self, statement: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(statement).scalar_one()

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Return every row of the seeded tables (guest, stay, complaint), by id."""
        with self.engine.connect() as conn:
            return {table: [tuple(row) for row in conn.execute(sql_text(f"SELECT * FROM {table} ORDER BY id"))]
                    for table in ("guest", "stay", "complaint")}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _seed(engine: Any) -> None:
    """Put a guest with a stay and an open complaint in the database before the fuzz."""
    session_factory = make_session_factory(engine)
    now = SystemClock().now()
    with session_factory() as session:
        guest = Guest(first_name="Anna", last_name="Rossi", verified=True)
        session.add(guest)
        session.flush()
        session.add(Stay(reservation_ref=SEED_REF, guest_id=guest.id, room="412", arrival=now - timedelta(days=1),
                         departure=now + timedelta(days=2), status=StayStatus.IN_HOUSE))
        session.commit()
    open_complaint(SqlUnitOfWork(session_factory), SystemClock(), SlaPolicy(), "tg", str(SEED_CHAT),
                   category="maintenance", severity="medium", room="412", description="the shower is broken")


def _spawn(args: list[str], errors: Path) -> subprocess.Popen[bytes]:
    root = Path(__file__).resolve().parents[2]
    with open(errors, "wb") as sink:
        return subprocess.Popen([sys.executable, "-m", "tests.fuzz.gateway_server", *args], cwd=root,
                                stdout=subprocess.PIPE, stderr=sink, env={**os.environ, "PYTHONPATH": str(root)})


def _read_line(process: subprocess.Popen[bytes], timeout: float) -> bytes:
    """Read a process's first stdout line, or give up after ``timeout`` seconds."""
    result: list[bytes] = []
    reader = threading.Thread(target=lambda: result.append(process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout)
    return result[0] if result else b""


def _ready(process: subprocess.Popen[bytes], errors: Path) -> list[str]:
    line = _read_line(process, 180)
    assert line.startswith(b"READY"), (line, errors.read_text()[-3000:])
    return line.decode().split()[1:]


@pytest.fixture
def stack(tmp_path: Path) -> Any:
    """Start the fakes and the gateway, each in its own process, on a fresh, migrated and seeded SQLite database."""
    db_path = tmp_path / "hotel.db"
    migrate(f"sqlite:///{db_path}")
    engine = make_engine(f"sqlite:///{db_path}")
    _seed(engine)
    port, fakes_control, gateway_control = _free_port(), _free_port(), _free_port()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        processes.append(_spawn(["--role", "fakes", "--control", str(fakes_control)], tmp_path / "fakes.err"))
        bot_api_url, rasa_url = _ready(processes[0], tmp_path / "fakes.err")
        processes.append(_spawn(["--role", "gateway", "--control", str(gateway_control), "--db", str(db_path),
                                 "--port", str(port), "--bot-api", bot_api_url, "--rasa", rasa_url],
                                tmp_path / "gateway.err"))
        _ready(processes[1], tmp_path / "gateway.err")
        yield Stack(processes, port, fakes_control, gateway_control, engine)
    finally:
        for process, control in reversed(list(zip(processes, (fakes_control, gateway_control)))):
            if process.poll() is None:
                try:
                    urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{control}/stop", method="POST"),
                                           timeout=10).read()
                    process.wait(30)
                except Exception:  # noqa: BLE001 - stop it the hard way
                    process.kill()
                    process.wait(10)
        engine.dispose()


def _wait(progress: Any, target: int, what: str, stall_s: float = 60.0) -> None:
    """Wait until ``progress()`` reaches ``target``; fail when it stops moving for ``stall_s`` seconds."""
    last, last_change = -1, time.monotonic()
    while True:
        value = progress()
        if value >= target:
            return
        if value != last:
            last, last_change = value, time.monotonic()
        elif time.monotonic() - last_change > stall_s:
            raise AssertionError(f"{what}: stuck at {value} of {target}")
        time.sleep(0.5)


# ----------------------------------------------------------------------------------- the test


def test_gateway_fuzz_webhook_updates_no_5xx_exactly_once_no_corruption(stack: Stack) -> None:
    poster = Poster(stack.port)
    before = stack.snapshot()
    accepted: list[Item] = []  # modelled updates answered 200, for replays
    expected_rasa: dict[int, list[str]] = defaultdict(list)
    accepted_ids: dict[int, bytes] = {}  # update id -> the first body accepted with it
    statuses: Counter[int] = Counter()
    kinds: Counter[str] = Counter()
    logged_texts: list[str] = []
    inputs_run = 0

    @fuzz_settings(mean_batch=BATCH)
    @given(batch=inputs)
    def run(batch: list[Item]) -> None:
        nonlocal inputs_run
        for item in batch:
            if item.kind == "replay":
                if not accepted:
                    continue
                original = accepted[item.replay_index % len(accepted)]  # type: ignore[operator]
                item = dataclasses.replace(original, kind="replay", rasa=[])
            else:
                item = render(item)
            answer = poster.post(HOOK_PATH, item.body, item.headers, one_shot=item.kind == "huge")
            inputs_run += 1
            statuses[answer.status] += 1
            kinds[item.kind] += 1
            assert answer.status < 500, (item.kind, answer.status, answer.body[:300])
            assert answer.status in item.expect, (item.kind, answer.status, answer.body[:300], item.body[:300])
            assert isinstance(answer.json, dict), answer.body[:200]
            if answer.status != 200:
                assert isinstance(answer.json.get("error"), str) and answer.json["error"], answer.json
                continue
            assert answer.json == {"ok": True}
            sent_id = _update_id_of(item.body)
            if sent_id is not None:
                accepted_ids.setdefault(sent_id, item.body)
            if item.chat in GUEST_CHATS and item.kind != "replay":
                accepted.append(item)
                expected_rasa[item.chat].extend(item.rasa)
            logged_texts.extend(t for t in item.texts if len(t.strip()) >= 12)

    started = time.monotonic()
    run()
    posted_s = time.monotonic() - started

    # Everything accepted is processed: each guest's texts reach Rasa exactly once, in order...
    total = sum(len(v) for v in expected_rasa.values())

    def progress() -> int:
        state = stack.state()
        return (sum(min(len(stack.rasa_texts(state, c)), len(expected_rasa[c])) for c in GUEST_CHATS)
                + sum(min(len(stack.answers(state, c)), len(expected_rasa[c])) for c in GUEST_CHATS))

    _wait(progress, 2 * total, "guest texts reaching Rasa and answered")
    try:
        _wait(lambda: stack.scalar(select(func.count()).select_from(ProcessedUpdate)), len(accepted_ids),
              "accepted update ids recorded")
    except AssertionError:
        with stack.engine.connect() as conn:
            recorded = set(conn.execute(select(ProcessedUpdate.update_id)).scalars())
        missing = [accepted_ids[i][:300] for i in accepted_ids if i not in recorded]
        raise AssertionError(f"accepted but never recorded: {missing[:5]}\n{stack.logs()[-3000:]}") from None
    time.sleep(1.0)  # let anything extra arrive before counting exactly
    state = stack.state()
    for chat in GUEST_CHATS:
        assert stack.rasa_texts(state, chat) == expected_rasa[chat], f"chat {chat}: Rasa got other texts"
        # ...and each gets exactly one answer.
        assert stack.answers(state, chat) == [answer_key(t) for t in expected_rasa[chat]], f"chat {chat}: answers"

    # Every accepted update id is recorded once; redeliveries added nothing.
    assert stack.scalar(select(func.count()).select_from(ProcessedUpdate)) == len(accepted_ids)

    # The gateway still serves: a normal message gets its reply.
    fresh = {"update_id": next(_ids), "message": _message(730_001, text="hello after the fuzz")}
    assert poster.post(HOOK_PATH, json.dumps(fresh).encode(), HEADERS).status == 200
    _wait(lambda: len(stack.answers(stack.state(), 730_001)), 1, "the reply after the fuzz")
    state = stack.state()
    assert stack.answers(state, 730_001) == [answer_key("hello after the fuzz")]
    assert stack.rasa_texts(state, 730_001) == ["hello after the fuzz"]

    # The seeded rows were not touched.
    after = stack.snapshot()
    for table in ("guest", "stay", "complaint"):
        seeded = {row[0]: row for row in before[table]}
        assert {row[0]: row for row in after[table] if row[0] in seeded} == seeded, f"{table} rows changed"

    # No handler failed (the gateway's error handler logs "handler failed" for any exception).
    log_text = stack.logs()
    failures = [line for line in log_text.splitlines() if "handler failed" in line or "Traceback" in line]
    assert not failures, "\n".join(failures[:5]) + "\n" + log_text[log_text.find("Traceback"):][:3000]

    # No guest text and no bot token in the logs.
    assert not CANARY.search(log_text), CANARY.search(log_text)
    assert state["token"].split(":")[1] not in log_text, "the bot token is in the logs"
    leaked = [t for t in logged_texts if t in log_text]
    assert not leaked, leaked[:3]

    poster.close()
    record_run("gateway", inputs=inputs_run, accepted=statuses[200], refused=inputs_run - statuses[200],
               rasa_texts=total, seconds=round(posted_s))
    print("gateway statuses", dict(statuses), "kinds", dict(kinds))
    assert inputs_run >= target_inputs() * 0.9, inputs_run
