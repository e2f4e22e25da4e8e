"""Speed fixes for Rasa 3.6 internals, installed when Rasa loads our components (see rasa_component.py).

Rasa 3.6 validates every action-server answer with ``jsonschema.validate(result, spec)``
(``RemoteAction._validate_action_result``). That call first checks the large events schema against the
JSON-Schema meta-schema and builds a new validator, every time: about 90 ms of CPU per custom action on this
project's machines, and 57 % of a Rasa replica's busy time in the `make bench` profile. The schema never
changes, so we check it once and keep the compiled validator; each answer is still validated in full against
the same schema, and an invalid answer raises the same ``ValidationError`` with the same message.
"""

from __future__ import annotations

import logging
from typing import Any, Dict

log = logging.getLogger(__name__)

_INSTALLED = False


def install() -> bool:
    """Replace RemoteAction's answer validation with a cached validator; return whether it is installed."""
    global _INSTALLED
    if _INSTALLED:
        return True
    try:
        from jsonschema.exceptions import best_match
        from jsonschema.validators import validator_for
        from rasa.core.actions.action import RemoteAction
        from rasa.shared.constants import DOCS_BASE_URL
    except ImportError:  # not inside Rasa (e.g. the action server): nothing to patch
        return False
    spec = RemoteAction.action_response_format_spec()
    validator_class = validator_for(spec)
    validator_class.check_schema(spec)
    validator = validator_class(spec)

    def _validate_action_result(self: RemoteAction, result: Dict[str, Any]) -> bool:
        error = best_match(validator.iter_errors(result))
        if error is not None:
            error.message += (
                ". Failed to validate Action server response from API, make sure your response from the Action "
                f"endpoint is valid. For more information about the format visit {DOCS_BASE_URL}/custom-actions"
            )
            raise error
        return True

    RemoteAction._validate_action_result = _validate_action_result
    _INSTALLED = True
    log.debug("RemoteAction answers are validated with a cached schema validator")
    return True
