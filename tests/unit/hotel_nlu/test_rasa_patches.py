"""The cached validator accepts what Rasa's own validation accepts and rejects what it rejects."""

from __future__ import annotations

import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction

import hotel_nlu.rasa_component  # noqa: F401 - importing it installs the patch, as when Rasa loads the model
from hotel_nlu import rasa_patches

GOOD = {
    "events": [{"event": "slot", "name": "room", "value": "412", "timestamp": None},
               {"event": "followup", "name": "action_listen"}],
    "responses": [{"response": "utter_complaint_logged", "reference": "C-1"}],
}
BAD_EVENTS = {"events": [{"event": "slot", "name": 7}], "responses": []}
BAD_RESPONSES = {"events": [], "responses": ["not an object"]}


def test_patch_is_installed_when_rasa_loads_the_component() -> None:
    assert rasa_patches.install() is True
    assert RemoteAction._validate_action_result.__module__ == rasa_patches.__name__


@pytest.mark.parametrize("result", [GOOD, {"events": [], "responses": []}, {}])
def test_valid_answers_pass_as_with_jsonschema_validate(result) -> None:
    jsonschema.validate(result, RemoteAction.action_response_format_spec())  # Rasa's own check accepts it
    assert RemoteAction._validate_action_result(None, result) is True


@pytest.mark.parametrize("result", [BAD_EVENTS, BAD_RESPONSES, {"events": "nope"}])
def test_invalid_answers_raise_the_same_error_as_jsonschema_validate(result) -> None:
    with pytest.raises(jsonschema.ValidationError) as expected:
        jsonschema.validate(result, RemoteAction.action_response_format_spec())
    with pytest.raises(jsonschema.ValidationError) as raised:
        RemoteAction._validate_action_result(None, result)
    assert raised.value.message.startswith(expected.value.message)
    assert "Failed to validate Action server response" in raised.value.message
