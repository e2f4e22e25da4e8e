"""Hold every intent, entity, slot, response and action name the actions use, in one place."""

from __future__ import annotations

# Intents
INTENT_COMPLAIN = "complain"
INTENT_DENY = "deny"
INTENT_NLU_FALLBACK = "nlu_fallback"

# Entities
ENTITY_COMPLAINT_CATEGORY = "complaint_category"
ENTITY_SEVERITY = "severity"
ENTITY_ROOM_NUMBER = "room_number"
ENTITY_PREFERENCE_CATEGORY = "preference_category"
PREFERENCE_ENTITIES = (
    "bed_type",
    "pillow",
    "floor",
    "quiet_room",
    "smoking",
    "temperature",
    "dietary",
    "allergy",
    "newspaper",
    "early_checkin",
    "late_checkout",
    "accessibility",
    "interest",
)
PREFERENCE_NOTE = "note"
MULTI_VALUED_PREFERENCES = frozenset({"allergy", "dietary", "interest", "accessibility", PREFERENCE_NOTE})

# Slots
SLOT_GUEST_NAME = "guest_name"
SLOT_GUEST_VERIFIED = "guest_verified"
SLOT_COMPLAINT_DESCRIPTION = "complaint_description"
SLOT_COMPLAINT_CATEGORY = "complaint_category"
SLOT_COMPLAINT_SEVERITY = "complaint_severity"
SLOT_ROOM_NUMBER = "room_number"
SLOT_COMPLAINT_REFERENCE = "complaint_reference"
SLOT_REQUESTED = "requested_slot"
SURVEY_NPS = "survey_nps"
SURVEY_ASPECTS = ("survey_service", "survey_facilities", "survey_cleanliness", "survey_value")
SURVEY_COMMENT = "survey_comment"
SURVEY_SLOTS = (SURVEY_NPS, *SURVEY_ASPECTS, SURVEY_COMMENT)

# Responses
UTTER_GREET_NEW = "utter_greet_new"
UTTER_GREET_NAMED = "utter_greet_named"
UTTER_GREET_RETURNING = "utter_greet_returning"
UTTER_NICE_TO_MEET_YOU = "utter_nice_to_meet_you"
UTTER_CLARIFY = "utter_clarify"
UTTER_OFFER_HUMAN = "utter_offer_human"
UTTER_HUMAN_REQUESTED = "utter_human_requested"
UTTER_ERROR = "utter_error"
UTTER_PREFERENCE_SAVED = "utter_preference_saved"
UTTER_PREFERENCE_UPDATED = "utter_preference_updated"
UTTER_PREFERENCE_NOTE_SAVED = "utter_preference_note_saved"
UTTER_ASK_PREFERENCE_DETAIL = "utter_ask_preference_detail"
UTTER_PROFILE_LIST = "utter_profile_list"
UTTER_PROFILE_EMPTY = "utter_profile_empty"
UTTER_PREFERENCE_DELETED = "utter_preference_deleted"
UTTER_PREFERENCE_DELETE_WHICH = "utter_preference_delete_which"
UTTER_PREFERENCE_DELETE_NOTHING = "utter_preference_delete_nothing"
UTTER_ROOM_NUMBER_INVALID = "utter_room_number_invalid"
UTTER_COMPLAINT_LOGGED = "utter_complaint_logged"
UTTER_COMPLAINT_LOGGED_URGENT = "utter_complaint_logged_urgent"
UTTER_COMPLAINT_NEXT_STEPS = "utter_complaint_next_steps"
UTTER_ASK_COMPLAINT_DESCRIPTION = "utter_ask_complaint_description"
UTTER_SURVEY_INVALID_NPS = "utter_survey_invalid_nps"
UTTER_SURVEY_INVALID_ASPECT = "utter_survey_invalid_aspect"
UTTER_SURVEY_THANKS = "utter_survey_thanks"
UTTER_SURVEY_RECOVERY = "utter_survey_recovery"
UTTER_SURVEY_REVIEW_LINK = "utter_survey_review_link"

# Actions
ACTION_SESSION_START = "action_session_start"
ACTION_GREET_GUEST = "action_greet_guest"
ACTION_REMEMBER_NAME = "action_remember_name"
ACTION_HANDLE_FALLBACK = "action_handle_fallback"
ACTION_REQUEST_HUMAN = "action_request_human"
ACTION_SAVE_PREFERENCES = "action_save_preferences"
ACTION_LIST_PROFILE = "action_list_profile"
ACTION_DELETE_PREFERENCE = "action_delete_preference"
VALIDATE_COMPLAINT_FORM = "validate_complaint_form"
ACTION_OPEN_COMPLAINT = "action_open_complaint"
VALIDATE_SURVEY_FORM = "validate_survey_form"
ACTION_SUBMIT_SURVEY = "action_submit_survey"

# Complaint recovery (guest-confirmed closure)
INTENT_EXTERNAL_RECOVERY_CHECK = "EXTERNAL_recovery_check"
ENTITY_RECOVERY_REFERENCE = "recovery_reference"
UTTER_RECOVERY_ASK = "utter_recovery_ask"
UTTER_RECOVERY_CONFIRMED = "utter_recovery_confirmed"
UTTER_RECOVERY_REOPENED = "utter_recovery_reopened"
UTTER_RECOVERY_UNKNOWN = "utter_recovery_unknown"
ACTION_RECOVERY_CHECK = "action_recovery_check"
ACTION_CONFIRM_FIXED = "action_confirm_fixed"
ACTION_REOPEN_CASE = "action_reopen_case"

# Surveys: reminders, resuming, comment tagging; in-stay pulse check
INTENT_EXTERNAL_SURVEY_INVITE = "EXTERNAL_survey_invite"
INTENT_EXTERNAL_SURVEY_REMINDER = "EXTERNAL_survey_reminder"
INTENT_EXTERNAL_PULSE_CHECK = "EXTERNAL_pulse_check"
ENTITY_SCORE = "score"
FORM_SURVEY = "survey_form"
SURVEY_PREFILLABLE = (SURVEY_NPS, *SURVEY_ASPECTS)
UTTER_SURVEY_RESUMED = "utter_survey_resumed"
UTTER_PULSE_ASK = "utter_pulse_ask"
UTTER_PULSE_GOOD = "utter_pulse_good"
UTTER_PULSE_OKAY = "utter_pulse_okay"
UTTER_PULSE_LOW = "utter_pulse_low"
UTTER_PULSE_INVALID = "utter_pulse_invalid"
ACTION_RECORD_PULSE = "action_record_pulse"
