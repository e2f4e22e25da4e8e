"""Pure helpers: percentiles, latency summaries, sliding-window rate checks and the summary line."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], q: float) -> float:
    """Return the q-th percentile (0-100) by the nearest-rank method; NaN for no values."""
    if not values:
        return math.nan
    if not 0 <= q <= 100:
        raise ValueError("q must be between 0 and 100")
    ordered = sorted(values)
    rank = math.ceil(q / 100 * len(ordered))
    return ordered[min(len(ordered) - 1, max(0, rank - 1))]


@dataclass(frozen=True)
class LatencySummary:
    """Describe one load level: how many replies, their latency percentiles, throughput and errors."""

    count: int
    p50: float
    p95: float
    p99: float
    max: float
    throughput: float
    errors: int

    @classmethod
    def of(cls, latencies: Sequence[float], elapsed_s: float, errors: int = 0) -> LatencySummary:
        """Summarise latencies (seconds) measured over ``elapsed_s`` seconds of wall time."""
        return cls(
            count=len(latencies),
            p50=percentile(latencies, 50),
            p95=percentile(latencies, 95),
            p99=percentile(latencies, 99),
            max=max(latencies) if latencies else math.nan,
            throughput=len(latencies) / elapsed_s if elapsed_s > 0 else math.nan,
            errors=errors,
        )


def max_in_window(times: Iterable[float], window_s: float) -> int:
    """Return the largest number of events that fall in any half-open window [t, t + window_s)."""
    ordered = sorted(times)
    best = 0
    start = 0
    for end, t in enumerate(ordered):
        while ordered[start] <= t - window_s:
            start += 1
        best = max(best, end - start + 1)
    return best


def sustained_rate(times: Sequence[float]) -> float:
    """Return events per second between the first and the last event (NaN for fewer than two)."""
    if len(times) < 2:
        return math.nan
    span = max(times) - min(times)
    return (len(times) - 1) / span if span > 0 else math.inf


def ratio(ours: float, theirs: float) -> float:
    """Return ours / theirs, NaN when either is missing or theirs is zero."""
    if theirs is None or ours is None or math.isnan(theirs) or math.isnan(ours) or theirs == 0:
        return math.nan
    return ours / theirs


def summary_line(*, p95_ratio: float, throughput_ratio: float, followup_p99_s: float, lost: int,
                 duplicated: int, rss_mb: float) -> str:
    """Return the tracked last line of `make bench`."""
    return (
        f"bench: p95_ratio={_num(p95_ratio, 2)} throughput_ratio={_num(throughput_ratio, 2)} "
        f"followup_p99_s={_num(followup_p99_s, 3)} lost={lost} duplicated={duplicated} rss_mb={_num(rss_mb, 0)}"
    )


def _num(value: float, digits: int) -> str:
    if value is None or math.isnan(value):
        return "nan"
    return f"{value:.{digits}f}"
