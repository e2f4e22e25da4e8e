"""Press buttons from the terminal chat without confusing typed scores with button numbers."""

from __future__ import annotations

from bot.chat import press_button, render_reply

SCORES = [{"title": str(n), "payload": f'/inform{{"score":"{n}"}}'} for n in range(0, 11)]


def test_press_button_typed_score_matches_title_not_position():
    assert press_button("9", SCORES) == '/inform{"score":"9"}'


def test_press_button_hash_number_presses_by_position():
    buttons = [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]
    assert press_button("#2", buttons) == "/deny"
    assert press_button("no", buttons) == "/deny"


def test_press_button_free_text_is_sent_as_is():
    assert press_button("the shower is broken", SCORES) == "the shower is broken"
    assert press_button("#99", SCORES) == "#99"


def test_render_reply_lists_buttons_and_images():
    lines, buttons = render_reply({"text": "Pick", "image": "http://x/y.png", "buttons": SCORES[:2]})
    assert lines == ["bot> Pick", "bot> [image] http://x/y.png", "     #1 0", "     #2 1"]
    assert buttons == SCORES[:2]
