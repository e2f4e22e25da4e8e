"""Dispatch FollowUp rows exactly once; APScheduler only wakes the dispatcher (see docs/architecture.md)."""

from __future__ import annotations
