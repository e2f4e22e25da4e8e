"""Define the typed exceptions that crm_store services raise."""

from __future__ import annotations


class CrmError(Exception):
    """Base class of every error raised on purpose by crm_store."""


class ValidationError(CrmError, ValueError):
    """Reject input that breaks a documented rule (range, allowed value, length)."""

    def __init__(self, field: str, message: str) -> None:
        """Remember which field was invalid and why."""
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NotFound(CrmError, LookupError):
    """Signal that the requested record does not exist."""

    def __init__(self, kind: str, key: str) -> None:
        """Remember what kind of record was looked up and by which key."""
        super().__init__(f"{kind} not found: {key}")
        self.kind = kind
        self.key = key
