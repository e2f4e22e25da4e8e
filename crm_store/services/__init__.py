"""Expose the crm_store use cases that actions and the bot call."""

from __future__ import annotations

from crm_store.services.complaints import ComplaintInfo, get_complaint, open_complaint
from crm_store.services.guests import GuestInfo, identify, set_name, split_sender_id
from crm_store.services.handoff import HandoffInfo, active_handoff, close_handoff, request_human
from crm_store.services.preferences import (
    PreferenceInfo,
    delete_preferences,
    list_preferences,
    record_preference,
)
from crm_store.services.surveys import SurveyResult, record_survey

__all__ = [
    "ComplaintInfo",
    "GuestInfo",
    "HandoffInfo",
    "PreferenceInfo",
    "SurveyResult",
    "active_handoff",
    "close_handoff",
    "delete_preferences",
    "get_complaint",
    "identify",
    "list_preferences",
    "open_complaint",
    "record_preference",
    "record_survey",
    "request_human",
    "set_name",
    "split_sender_id",
]
