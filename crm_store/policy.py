"""Decide complaint service-level deadlines from category and severity."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType

SEVERITIES: tuple[str, ...] = ("low", "medium", "high")


def _minutes(values: dict[str, int]) -> Mapping[str, timedelta]:
    return MappingProxyType({key: timedelta(minutes=m) for key, m in values.items()})


@dataclass(frozen=True)
class SlaPolicy:
    """Map a complaint's (category, severity) to acknowledgement and resolution deadlines."""

    ack: Mapping[str, timedelta] = field(
        default_factory=lambda: _minutes({"high": 5, "medium": 15, "low": 30})
    )
    resolve: Mapping[str, timedelta] = field(
        default_factory=lambda: _minutes({"high": 60, "medium": 240, "low": 1440})
    )

    def effective_severity(self, category: str, severity: str) -> str:
        """Return the severity the deadlines use: safety is always high."""
        if category == "safety":
            return "high"
        if severity not in SEVERITIES:
            raise ValueError(f"unknown severity: {severity!r}")
        return severity

    def ack_deadline(self, category: str, severity: str) -> timedelta:
        """Return how long staff have to acknowledge the complaint."""
        return self.ack[self.effective_severity(category, severity)]

    def resolve_deadline(self, category: str, severity: str) -> timedelta:
        """Return how long staff have to resolve the complaint."""
        return self.resolve[self.effective_severity(category, severity)]
