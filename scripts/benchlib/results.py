"""The figures one benchmark run collects (filled in phase by phase, rendered by report.py)."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from scripts.benchlib.guests import LevelResult
from scripts.benchlib.outbound import OutboundResult
from scripts.benchlib.profile import StageTimes
from scripts.benchlib.rasaprof import RasaProfile
from scripts.benchlib.stats import LatencySummary, percentile, ratio


@dataclass
class Level:
    """Summary of one channel at one concurrency level."""

    channel: str
    guests: int
    summary: LatencySummary
    error_kinds: dict[str, int]
    p95_all: float = math.nan  # Telegram: to the last message of the answer
    p99_later: float = math.nan  # p99 without each guest's first message
    slowest_first_share: float = math.nan  # share of the slowest 1 % that are guests' first messages

    @classmethod
    def of(cls, result: LevelResult) -> Level:
        """Summarise a level run."""
        kinds = Counter((t.error or "").split(":")[0] for t in result.errors)
        answered = [t for t in result.turns if t.latency is not None and t.error is None]
        p95_all = percentile([t.latency_all for t in answered if t.latency_all is not None], 95)
        p99 = percentile([t.latency for t in answered], 99)  # type: ignore[misc]
        slowest = [t for t in answered if t.latency >= p99]  # type: ignore[operator]
        first_share = sum(1 for t in slowest if t.turn == 0) / len(slowest) if slowest else math.nan
        return cls(result.channel, result.level,
                   LatencySummary.of(result.latencies, result.elapsed_s, len(result.errors)), dict(kinds), p95_all,
                   percentile([t.latency for t in answered if t.turn > 0], 99), first_share)  # type: ignore[misc]


@dataclass
class Run:
    """Everything measured in one run."""

    quick: bool
    profile: str
    machine: dict[str, str]
    started_utc: str
    levels: list[int]
    ready: dict[str, float] = field(default_factory=dict)
    ours: dict[str, dict[int, Level]] = field(default_factory=lambda: {"telegram": {}, "rest": {}})
    bare: dict[int, Level] = field(default_factory=dict)
    bare_empty_replies: int = 0
    stages: dict[str, StageTimes] = field(default_factory=dict)
    parse_ms: dict[str, float] = field(default_factory=dict)
    action_ms: dict[str, float] = field(default_factory=dict)
    cpu_ms: dict[str, dict[str, float]] = field(default_factory=dict)  # level key -> process -> CPU ms per message
    log_findings: dict[str, int] = field(default_factory=dict)
    rasa_profile: RasaProfile | None = None
    rss_ours: dict[str, float] = field(default_factory=dict)
    rss_ours_simultaneous: float = math.nan
    rss_bare: dict[str, float] = field(default_factory=dict)
    outbound: OutboundResult | None = None
    scheduler: list[dict[str, Any]] = field(default_factory=list)
    phases: list[tuple[str, float, float, float, str]] = field(default_factory=list)  # name, s, cores, others, load
    notes: list[str] = field(default_factory=list)
    duration_s: float = math.nan

    # -- the tracked figures -------------------------------------------------------------------

    def p95_ratios(self) -> dict[int, float]:
        """Return our REST p95 / the bare bot's p95 per level."""
        return {n: ratio(self.ours["rest"][n].summary.p95, self.bare[n].summary.p95)
                for n in self.levels if n in self.ours["rest"] and n in self.bare}

    def throughput_ratios(self) -> dict[int, float]:
        """Return our REST throughput / the bare bot's per level."""
        return {n: ratio(self.ours["rest"][n].summary.throughput, self.bare[n].summary.throughput)
                for n in self.levels if n in self.ours["rest"] and n in self.bare}

    def p95_ratio(self) -> float:
        """Return the worst (largest) p95 ratio over the levels."""
        values = [v for v in self.p95_ratios().values() if not math.isnan(v)]
        return max(values) if values else math.nan

    def throughput_ratio(self) -> float:
        """Return the throughput ratio at the highest concurrency level (where capacity, not think time, limits)."""
        ratios = self.throughput_ratios()
        return ratios[max(ratios)] if ratios else math.nan

    def followup_p99(self) -> float:
        """Return the worst scheduler lateness p99 over the backends measured."""
        values = [s["p99_s"] for s in self.scheduler if not math.isnan(s["p99_s"])]
        return max(values) if values else math.nan

    def lost(self) -> int:
        """Return the follow-ups lost over every backend."""
        return sum(s["losses"] for s in self.scheduler)

    def duplicated(self) -> int:
        """Return the follow-ups performed twice over every backend."""
        return sum(s["duplicates"] for s in self.scheduler)

    def rss_total(self) -> float:
        """Return the sum of the peaks of our stack's processes, in MB."""
        return sum(self.rss_ours.values()) if self.rss_ours else math.nan
