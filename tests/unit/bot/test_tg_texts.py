"""Load the gateway's guest-facing texts from domain/*.yml."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.telegram import texts as t
from bot.telegram.texts import MissingText, fill, load_texts


def test_load_texts_domain_has_every_required_response() -> None:
    texts = load_texts()
    for name in t.REQUIRED:
        assert texts.text(name)


def test_texts_fill_variables_unknown_left_as_is() -> None:
    assert fill("Hi {first_name}, {unknown}", {"first_name": "Anna"}) == "Hi Anna, {unknown}"
    assert "C-7KQ4ZP" in load_texts().text(t.PHOTO_ATTACHED, complaint_reference="C-7KQ4ZP")


def test_load_texts_missing_response_fails_at_start(tmp_path: Path) -> None:
    (tmp_path / "x.yml").write_text('version: "3.1"\nresponses:\n  utter_gw_help:\n    - text: "help"\n')
    with pytest.raises(MissingText, match="utter_gw_privacy"):
        load_texts(tmp_path)


def test_texts_commands_menu_parsed_from_domain() -> None:
    assert [name for name, _ in load_texts().commands()] == ["start", "help", "privacy", "stop"]


def test_texts_message_with_buttons_keeps_payloads(tmp_path: Path) -> None:
    (tmp_path / "x.yml").write_text(
        'responses:\n  utter_a:\n    - text: "Hi {n}"\n      buttons:\n        - title: "Yes {n}"\n          payload: "/affirm"\n'
    )
    message = load_texts(tmp_path, required=("utter_a",)).message("utter_a", n="A")
    assert message == {"text": "Hi A", "buttons": [{"title": "Yes A", "payload": "/affirm"}]}
