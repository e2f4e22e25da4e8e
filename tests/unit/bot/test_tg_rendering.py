"""Render Rasa replies as Telegram sends: text, keyboards, long payloads, images, long texts."""

from __future__ import annotations

from bot.telegram.delivery import inline_markup
from bot.telegram.rendering import (
    CALLBACK_DATA_MAX_BYTES,
    CallbackStore,
    keyboard_rows,
    render_replies,
    split_text,
    Button,
)


def test_render_text_reply_one_text_message() -> None:
    out = render_replies([{"recipient_id": "tg:1", "text": "Hello"}], CallbackStore())
    assert [(o.text, o.photo, o.keyboard) for o in out] == [("Hello", None, ())]


def test_render_buttons_become_inline_keyboard_with_payload_as_callback_data() -> None:
    out = render_replies([{"text": "Fixed?", "buttons": [{"title": "Yes", "payload": "/affirm"},
                                                         {"title": "No", "payload": "/deny"}]}], CallbackStore())
    markup = inline_markup(out[0])
    assert markup is not None
    assert [[(b.text, b.callback_data) for b in row] for row in markup.inline_keyboard] == [
        [("Yes", "/affirm"), ("No", "/deny")]
    ]


def test_render_long_payload_short_key_that_decodes_back() -> None:
    store = CallbackStore()
    payload = '/inform{"note": "' + "é" * 40 + '"}'
    out = render_replies([{"text": "q", "buttons": [{"title": "Go", "payload": payload}]}], store)
    data = out[0].keyboard[0][0].data
    assert data is not None and len(data.encode()) <= CALLBACK_DATA_MAX_BYTES
    assert store.decode(data) == payload
    assert store.encode(payload) == data


def test_callback_store_unknown_key_decodes_none_plain_payload_decodes_itself() -> None:
    store = CallbackStore()
    assert store.decode("~doesnotexist") is None
    assert store.decode("/affirm") == "/affirm"


def test_callback_store_capacity_evicts_oldest() -> None:
    store = CallbackStore(capacity=2)
    keys = [store.encode("x" * 70 + str(i)) for i in range(3)]
    assert store.decode(keys[0]) is None
    assert store.decode(keys[2]) == "x" * 70 + "2"


def test_render_image_reply_photo_with_caption() -> None:
    out = render_replies([{"text": "Map", "image": "https://example.com/m.png"}], CallbackStore())
    assert [(o.text, o.photo) for o in out] == [("Map", "https://example.com/m.png")]


def test_render_buttons_only_message_attaches_to_previous_text() -> None:
    out = render_replies([{"text": "Score?"}, {"buttons": [{"title": "5", "payload": "/inform{\"score\": 5}"}]}],
                         CallbackStore())
    assert len(out) == 1 and out[0].text == "Score?" and out[0].keyboard


def test_render_empty_and_unknown_replies_skipped() -> None:
    assert render_replies([{"text": "  "}, {"custom": {"foo": 1}}, "junk"], CallbackStore()) == []  # type: ignore[list-item]


def test_render_long_text_split_keyboard_on_last_chunk() -> None:
    text = ("word " * 1000).strip()
    out = render_replies([{"text": text, "buttons": [{"title": "OK", "payload": "/affirm"}]}], CallbackStore())
    assert len(out) == 2 and all(len(o.text or "") <= 4096 for o in out)
    assert not out[0].keyboard and out[1].keyboard


def test_keyboard_rows_scores_share_rows_long_titles_alone() -> None:
    scores = [Button(str(n), data=str(n)) for n in range(11)]
    rows = keyboard_rows(scores)
    assert all(len(row) <= 8 for row in rows) and sum(len(r) for r in rows) == 11 and len(rows) >= 2
    long = keyboard_rows([Button("I'd like to talk to a person", data="/request_human"), Button("No", data="/deny")])
    assert [len(r) for r in long] == [1, 1]


def test_render_url_button_becomes_link() -> None:
    out = render_replies([{"text": "Review", "buttons": [{"title": "Review us", "url": "https://r.example"}]}],
                         CallbackStore())
    markup = inline_markup(out[0])
    assert markup is not None and markup.inline_keyboard[0][0].url == "https://r.example"


def test_split_text_short_text_single_chunk() -> None:
    assert split_text("hi") == ["hi"]
