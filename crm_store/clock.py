"""Provide injectable clocks that always return timezone-aware UTC datetimes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Protocol


def ensure_utc(value: datetime) -> datetime:
    """Return ``value`` converted to UTC, refusing naive datetimes."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("naive datetime: an aware datetime is required")
    return value.astimezone(timezone.utc)


class Clock(Protocol):
    """Tell the current time."""

    def now(self) -> datetime:
        """Return the current time as an aware UTC datetime."""
        ...


class SystemClock:
    """Read the real wall clock."""

    def now(self) -> datetime:
        """Return the current wall-clock time in UTC."""
        return datetime.now(timezone.utc)


class FixedClock:
    """Stand still at a given instant until told to move (for tests and replays)."""

    def __init__(self, start: datetime) -> None:
        """Start the clock at ``start`` (must be aware)."""
        self._now = ensure_utc(start)

    def now(self) -> datetime:
        """Return the frozen instant."""
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forward by ``delta`` and return the new instant."""
        self._now = self._now + delta
        return self._now

    def set(self, dt: datetime) -> None:
        """Jump the clock to ``dt`` (must be aware)."""
        self._now = ensure_utc(dt)
