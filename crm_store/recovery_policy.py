"""Load and validate the complaint-recovery policy (YAML): deadlines, ladder, hours, follow-ups, gestures.

The file's path comes from ``POLICY_FILE`` (default ``examples/policy-default.yml``). Every problem is
reported as a :class:`PolicyError` naming the file and the offending key, e.g.
``policy-default.yml: categories.noise.high.ack: expected a duration like 30s, 15m, 2h or 1d, got '5 min'``.

Rule keys (``defaults``, ``severities.<severity>``, ``categories.<category>`` and
``categories.<category>.<severity>``, applied in that order, the most specific last):

``ack``, ``resolve`` (durations), ``start_rung`` (a rung of ``ladder``), ``ladder`` (list of rung names),
``business_hours_only`` (deadlines count business hours only), ``follow_up_delay`` (resolved → guest
asked), ``auto_close_after`` (guest asked, no answer → closed as not confirmed), ``gestures`` (list).
Safety complaints always use the ``high`` severity rules.

Survey keys (``surveys.<key>``, all optional; see :class:`SurveyRules`): ``invite_day_offset`` and
``invite_time`` (invitation N days after check-out at HH:MM hotel time), ``invite_delay`` (instead: this
long after check-out, for tests and demos), ``reminder_after``, ``max_late``, ``fatigue_window``,
``pulse_day``, ``pulse_time``, ``pulse_min_nights`` and ``pulse_delay`` (the in-stay pulse check).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from crm_store.policy import SEVERITIES, SlaPolicy
from crm_store.settings import REPO_ROOT, Settings, parse_dotenv

CATEGORIES: tuple[str, ...] = (
    "cleanliness", "noise", "maintenance", "staff", "billing", "food_beverage", "amenities",
    "check_in", "safety", "other",
)
DEFAULT_POLICY_FILE = "examples/policy-default.yml"
DEFAULT_LADDER: tuple[str, ...] = ("front_desk", "duty_manager", "general_manager")
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
RULE_KEYS = frozenset(
    {"ack", "resolve", "start_rung", "ladder", "business_hours_only", "follow_up_delay",
     "auto_close_after", "gestures"}
)
TOP_KEYS = frozenset(
    {"version", "ladder", "business_hours", "quiet_hours", "defaults", "severities", "categories",
     "scheduler", "surveys"}
)
SURVEY_KEYS = frozenset(
    {"invite_day_offset", "invite_time", "invite_delay", "reminder_after", "max_late", "fatigue_window",
     "pulse_day", "pulse_time", "pulse_min_nights", "pulse_delay"}
)
SCHEDULER_KEYS = frozenset(
    {"max_attempts", "retry_backoff", "retry_backoff_max", "stale_claim_after", "safety_tick",
     "standby_poll", "batch_size", "concurrency", "misfire"}
)
_DURATION = re.compile(r"(\d+)\s*([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_GESTURE = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,63}$")
_RUNG = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_BUSINESS_SCAN_DAYS = 3700


class PolicyError(ValueError):
    """Report a malformed policy file, naming the file and the offending key."""


def parse_duration(value: Any, key: str = "duration") -> timedelta:
    """Parse ``30s``, ``15m``, ``2h``, ``1d`` or a sum like ``1h30m`` into a positive timedelta."""
    text = value.strip().lower() if isinstance(value, str) else None
    if text:
        parts = _DURATION.findall(text)
        if parts and _DURATION.sub("", text).strip() == "":
            seconds = sum(int(n) * _UNITS[u] for n, u in parts)
            if seconds > 0:
                return timedelta(seconds=seconds)
    raise PolicyError(f"{key}: expected a duration like 30s, 15m, 2h or 1d, got {value!r}")


def _clock(value: Any, key: str) -> time:
    """Parse ``HH:MM`` into a time."""
    if isinstance(value, int) and not isinstance(value, bool):  # YAML 1.1 reads 09:00 as sexagesimal
        value = f"{value // 60:02d}:{value % 60:02d}"
    if isinstance(value, str) and re.fullmatch(r"\d{1,2}:\d{2}", value.strip()):
        hours, minutes = (int(p) for p in value.strip().split(":"))
        if hours < 24 and minutes < 60:
            return time(hours, minutes)
    raise PolicyError(f"{key}: expected a time HH:MM, got {value!r}")


def _utc(local: datetime) -> datetime:
    return local.astimezone(timezone.utc)


@dataclass(frozen=True)
class BusinessHours:
    """Say when the back office works (hotel-local), and add business time to an instant."""

    days: frozenset[int] = frozenset(range(5))
    start: time = time(9, 0)
    end: time = time(18, 0)

    def add(self, start: datetime, delta: timedelta, tz: ZoneInfo) -> datetime:
        """Return the instant ``delta`` of business time after ``start`` (aware UTC in, aware UTC out)."""
        remaining = delta
        cursor = start.astimezone(timezone.utc)
        day: date = cursor.astimezone(tz).date()
        for _ in range(_BUSINESS_SCAN_DAYS):
            if day.weekday() in self.days:
                window_start = _utc(datetime.combine(day, self.start, tzinfo=tz))
                window_end = _utc(datetime.combine(day, self.end, tzinfo=tz))
                begin = max(cursor, window_start)
                if begin < window_end:
                    available = window_end - begin
                    if available >= remaining:
                        return begin + remaining
                    remaining -= available
            day = day + timedelta(days=1)
        raise PolicyError("business_hours: no business time found within ten years")


@dataclass(frozen=True)
class QuietHours:
    """Hold the hotel-local window in which no automated message may reach a guest."""

    start: time
    end: time

    def contains(self, local: time) -> bool:
        """Tell whether a hotel-local wall time falls in the window (start inclusive, end exclusive)."""
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def next_allowed(self, at: datetime, tz: ZoneInfo) -> datetime:
        """Return ``at`` if guests may be messaged then, else the end of the quiet window (aware UTC)."""
        local = at.astimezone(tz)
        if not self.contains(local.time().replace(tzinfo=None)):
            return at
        end_day = local.date()
        if self.start > self.end and local.time().replace(tzinfo=None) >= self.start:
            end_day = end_day + timedelta(days=1)
        return max(at, _utc(datetime.combine(end_day, self.end, tzinfo=tz)))


@dataclass(frozen=True)
class CaseRule:
    """Hold the effective recovery rules of one (category, severity)."""

    ack: timedelta
    resolve: timedelta
    ladder: tuple[str, ...]
    business_hours_only: bool
    follow_up_delay: timedelta
    auto_close_after: timedelta
    gestures: tuple[str, ...]


@dataclass(frozen=True)
class DispatchRules:
    """Hold how the scheduler retries, recovers claims, wakes up and treats late rows."""

    max_attempts: int = 5
    retry_backoff: timedelta = timedelta(seconds=10)
    retry_backoff_max: timedelta = timedelta(minutes=10)
    stale_claim_after: timedelta = timedelta(minutes=2)
    safety_tick: timedelta = timedelta(seconds=5)
    standby_poll: timedelta = timedelta(seconds=5)
    batch_size: int = 200
    concurrency: int = 4
    misfire: Mapping[str, timedelta] = field(
        default_factory=lambda: MappingProxyType({"recovery_ask": timedelta(days=1)})
    )

    def backoff(self, attempts: int) -> timedelta:
        """Return the wait before retry number ``attempts`` (doubling, capped)."""
        factor = 2 ** max(0, min(attempts - 1, 30))
        return min(self.retry_backoff * factor, self.retry_backoff_max)


@dataclass(frozen=True)
class SurveyRules:
    """Say when surveys and pulse checks go out, when they are dropped, and how often a guest is asked.

    Invitation: ``invite_day_offset`` hotel-local days after check-out at ``invite_time`` (or, when
    ``invite_delay`` is set, that long after check-out). One reminder ``reminder_after`` the invitation
    when the guest has not answered. An invitation or reminder more than ``max_late`` after its planned
    time is cancelled. No guest is invited twice within ``fatigue_window``. Pulse check: on day
    ``pulse_day`` of a stay of at least ``pulse_min_nights`` nights at ``pulse_time`` (or ``pulse_delay``
    after check-in).
    """

    invite_day_offset: int = 1
    invite_time: time = time(10, 0)
    invite_delay: timedelta | None = None
    reminder_after: timedelta = timedelta(days=2)
    max_late: timedelta = timedelta(days=3)
    fatigue_window: timedelta = timedelta(days=30)
    pulse_day: int = 2
    pulse_time: time = time(17, 0)
    pulse_min_nights: int = 3
    pulse_delay: timedelta | None = None


_BUILTIN_RULE: dict[str, Any] = {
    "ack": timedelta(minutes=15),
    "resolve": timedelta(hours=4),
    "start_rung": None,
    "ladder": DEFAULT_LADDER,
    "business_hours_only": False,
    "follow_up_delay": timedelta(minutes=30),
    "auto_close_after": timedelta(hours=24),
    "gestures": (),
}


def _builtin_rules() -> Mapping[tuple[str, str], CaseRule]:
    """Return rules matching SlaPolicy's defaults, with high severity starting at the duty manager."""
    base = SlaPolicy()
    rules: dict[tuple[str, str], CaseRule] = {}
    for category in CATEGORIES:
        for severity in SEVERITIES:
            ladder = DEFAULT_LADDER[1:] if severity == "high" else DEFAULT_LADDER
            rules[(category, severity)] = CaseRule(
                ack=base.ack[severity],
                resolve=base.resolve[severity],
                ladder=ladder,
                business_hours_only=False,
                follow_up_delay=_BUILTIN_RULE["follow_up_delay"],
                auto_close_after=_BUILTIN_RULE["auto_close_after"],
                gestures=(),
            )
    return MappingProxyType(rules)


@dataclass(frozen=True)
class RecoveryPolicy(SlaPolicy):
    """Decide deadlines, escalation rungs, business and quiet hours, follow-ups and gestures per case.

    Satisfies ``SlaPolicy`` (``ack_deadline``/``resolve_deadline``), so ``open_complaint`` accepts it.
    """

    rules: Mapping[tuple[str, str], CaseRule] = field(default_factory=_builtin_rules)
    ladder: tuple[str, ...] = DEFAULT_LADDER
    business_hours: BusinessHours = field(default_factory=BusinessHours)
    quiet_hours: QuietHours | None = None
    hotel_timezone: str = "UTC"
    dispatch: DispatchRules = field(default_factory=DispatchRules)
    surveys: SurveyRules = field(default_factory=SurveyRules)
    source: str = "<built-in>"

    @property
    def tz(self) -> ZoneInfo:
        """Return the hotel's time zone."""
        return ZoneInfo(self.hotel_timezone)

    def rule(self, category: str, severity: str) -> CaseRule:
        """Return the rules of a complaint (safety counts as high severity); enum members are accepted."""
        category = str(getattr(category, "value", category))
        severity = self.effective_severity(category, str(getattr(severity, "value", severity)))
        try:
            return self.rules[(category, severity)]
        except KeyError:
            raise ValueError(f"unknown complaint category: {category!r}") from None

    def ack_deadline(self, category: str, severity: str) -> timedelta:
        """Return how long staff have to acknowledge (calendar time)."""
        return self.rule(category, severity).ack

    def resolve_deadline(self, category: str, severity: str) -> timedelta:
        """Return how long staff have to resolve (calendar time)."""
        return self.rule(category, severity).resolve

    def _after(self, rule: CaseRule, start: datetime, delta: timedelta) -> datetime:
        if rule.business_hours_only:
            return self.business_hours.add(start, delta, self.tz)
        return start + delta

    def ack_due(self, category: str, severity: str, start: datetime) -> datetime:
        """Return the acknowledgement deadline of a clock started at ``start`` (business time if set)."""
        rule = self.rule(category, severity)
        return self._after(rule, start, rule.ack)

    def resolve_due(self, category: str, severity: str, start: datetime) -> datetime:
        """Return the resolution deadline of a clock started at ``start`` (business time if set)."""
        rule = self.rule(category, severity)
        return self._after(rule, start, rule.resolve)

    def rungs(self, category: str, severity: str) -> tuple[str, ...]:
        """Return the complaint's escalation ladder, from its starting rung up."""
        return self.rule(category, severity).ladder

    def rung(self, category: str, severity: str, level: int) -> str:
        """Return the rung name at escalation ``level`` (clamped to the top)."""
        ladder = self.rungs(category, severity)
        return ladder[max(0, min(level, len(ladder) - 1))]

    def top_level(self, category: str, severity: str) -> int:
        """Return the highest escalation level of the complaint's ladder."""
        return len(self.rungs(category, severity)) - 1

    def next_guest_time(self, at: datetime) -> datetime:
        """Return the first instant at or after ``at`` outside quiet hours."""
        if self.quiet_hours is None:
            return at
        return self.quiet_hours.next_allowed(at, self.tz)

    def in_quiet_hours(self, at: datetime) -> bool:
        """Tell whether ``at`` falls in quiet hours."""
        return self.next_guest_time(at) != at

    def follow_up_due(self, category: str, severity: str, resolved_at: datetime) -> datetime:
        """Return when to ask the guest whether the fix holds (moved out of quiet hours)."""
        return self.next_guest_time(resolved_at + self.rule(category, severity).follow_up_delay)

    def auto_close_due(self, category: str, severity: str, asked_at: datetime) -> datetime:
        """Return when an unanswered follow-up closes the case as not confirmed."""
        return asked_at + self.rule(category, severity).auto_close_after

    def gestures(self, category: str, severity: str) -> tuple[str, ...]:
        """Return the recovery gestures to suggest to staff."""
        return self.rule(category, severity).gestures


def as_recovery_policy(policy: SlaPolicy) -> RecoveryPolicy:
    """Return ``policy`` itself if it is a RecoveryPolicy, else built-in recovery rules on its deadlines."""
    if isinstance(policy, RecoveryPolicy):
        return policy
    rules = {
        key: replace(rule, ack=policy.ack[key[1]], resolve=policy.resolve[key[1]])
        for key, rule in _builtin_rules().items()
    }
    return RecoveryPolicy(ack=policy.ack, resolve=policy.resolve, rules=MappingProxyType(rules))


class _Validator:
    """Walk the YAML document, building typed values and naming the key of any problem."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, message: str) -> PolicyError:
        """Return an error naming the file and the key."""
        return PolicyError(f"{self.source}: {key}: {message}")

    def mapping(self, value: Any, key: str, allowed: frozenset[str] | None = None) -> dict[str, Any]:
        """Return ``value`` as a dict, rejecting unknown keys."""
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a mapping, got {type(value).__name__}")
        for name in value:
            if not isinstance(name, str):
                raise self.fail(key, f"keys must be strings, got {name!r}")
            if allowed is not None and name not in allowed:
                raise self.fail(
                    f"{key}.{name}" if key else name,
                    f"unknown key (allowed: {', '.join(sorted(allowed))})",
                )
        return value

    def duration(self, value: Any, key: str) -> timedelta:
        """Return a duration or fail naming ``key``."""
        try:
            return parse_duration(value, key)
        except PolicyError as exc:
            raise PolicyError(f"{self.source}: {exc}") from None

    def clock(self, value: Any, key: str) -> time:
        """Return a wall time or fail naming ``key``."""
        try:
            return _clock(value, key)
        except PolicyError as exc:
            raise PolicyError(f"{self.source}: {exc}") from None

    def boolean(self, value: Any, key: str) -> bool:
        """Return a boolean or fail naming ``key``."""
        if not isinstance(value, bool):
            raise self.fail(key, f"expected true or false, got {value!r}")
        return value

    def whole(self, value: Any, key: str, minimum: int) -> int:
        """Return an integer of at least ``minimum`` or fail naming ``key``."""
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise self.fail(key, f"expected a whole number of at least {minimum}, got {value!r}")
        return value

    def positive_int(self, value: Any, key: str) -> int:
        """Return a positive integer or fail naming ``key``."""
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise self.fail(key, f"expected a positive integer, got {value!r}")
        return value

    def names(self, value: Any, key: str, pattern: re.Pattern[str], what: str) -> tuple[str, ...]:
        """Return a list of lower-case names or fail naming ``key``."""
        if not isinstance(value, list):
            raise self.fail(key, f"expected a list of {what}, got {value!r}")
        result: list[str] = []
        for index, item in enumerate(value):
            if not isinstance(item, str) or not pattern.match(item):
                raise self.fail(f"{key}[{index}]", f"expected a {what} in lower_snake_case, got {item!r}")
            if item in result:
                raise self.fail(f"{key}[{index}]", f"duplicate {what} {item!r}")
            result.append(item)
        return tuple(result)

    def rule_layer(self, value: Any, key: str) -> dict[str, Any]:
        """Return the typed rule keys present in one layer."""
        raw = self.mapping(value, key, RULE_KEYS)
        layer: dict[str, Any] = {}
        for name, item in raw.items():
            path = f"{key}.{name}"
            if name in ("ack", "resolve", "follow_up_delay", "auto_close_after"):
                layer[name] = self.duration(item, path)
            elif name == "business_hours_only":
                layer[name] = self.boolean(item, path)
            elif name == "gestures":
                layer[name] = self.names(item or [], path, _GESTURE, "gesture")
            elif name == "ladder":
                rungs = self.names(item, path, _RUNG, "rung")
                if not rungs:
                    raise self.fail(path, "expected at least one rung")
                layer[name] = rungs
            elif name == "start_rung":
                if not isinstance(item, str):
                    raise self.fail(path, f"expected a rung name, got {item!r}")
                layer[name] = item
        return layer


def _merge_rule(layers: list[tuple[str, dict[str, Any]]], validator: _Validator) -> CaseRule:
    """Merge rule layers (least specific first) and cut the ladder at the start rung."""
    merged: dict[str, Any] = dict(_BUILTIN_RULE)
    start_key = "defaults.start_rung"
    for key, layer in layers:
        merged.update(layer)
        if "start_rung" in layer:
            start_key = f"{key}.start_rung"
    ladder: tuple[str, ...] = merged["ladder"]
    start = merged["start_rung"] or ladder[0]
    if start not in ladder:
        raise validator.fail(start_key, f"{start!r} is not a rung of the ladder {list(ladder)}")
    return CaseRule(
        ack=merged["ack"],
        resolve=merged["resolve"],
        ladder=ladder[ladder.index(start):],
        business_hours_only=merged["business_hours_only"],
        follow_up_delay=merged["follow_up_delay"],
        auto_close_after=merged["auto_close_after"],
        gestures=merged["gestures"],
    )


def parse_policy(
    document: Any,
    *,
    source: str = "policy",
    timezone_name: str = "UTC",
    fallback_quiet_hours: tuple[time, time] | None = None,
) -> RecoveryPolicy:
    """Validate a parsed YAML document and return the policy, or raise PolicyError naming the bad key."""
    v = _Validator(source)
    try:
        ZoneInfo(timezone_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise v.fail("HOTEL_TIMEZONE", f"unknown time zone {timezone_name!r}") from None
    top = v.mapping(document, "", TOP_KEYS)
    if "version" in top and top["version"] != 1:
        raise v.fail("version", f"expected 1, got {top['version']!r}")

    ladder = v.names(top["ladder"], "ladder", _RUNG, "rung") if "ladder" in top else DEFAULT_LADDER
    if not ladder:
        raise v.fail("ladder", "expected at least one rung")

    hours_raw = v.mapping(top.get("business_hours"), "business_hours", frozenset({"days", "start", "end"}))
    business = BusinessHours()
    if hours_raw:
        days = business.days
        if "days" in hours_raw:
            names = hours_raw["days"]
            if not isinstance(names, list) or not names:
                raise v.fail("business_hours.days", "expected a non-empty list like [mon, tue, wed]")
            picked: set[int] = set()
            for index, name in enumerate(names):
                if not isinstance(name, str) or name.lower()[:3] not in WEEKDAYS:
                    raise v.fail(f"business_hours.days[{index}]", f"expected a weekday, got {name!r}")
                picked.add(WEEKDAYS.index(name.lower()[:3]))
            days = frozenset(picked)
        start = v.clock(hours_raw["start"], "business_hours.start") if "start" in hours_raw else business.start
        end = v.clock(hours_raw["end"], "business_hours.end") if "end" in hours_raw else business.end
        if not start < end:
            raise v.fail("business_hours.end", "must be later than business_hours.start on the same day")
        business = BusinessHours(days=days, start=start, end=end)

    quiet: QuietHours | None = None
    if "quiet_hours" in top:
        value = top["quiet_hours"]
        if value not in (None, "", "none", "off"):
            if not isinstance(value, str) or value.count("-") != 1:
                raise v.fail("quiet_hours", f"expected HH:MM-HH:MM (e.g. 22:00-08:00) or null, got {value!r}")
            first, second = value.split("-")
            quiet = QuietHours(v.clock(first, "quiet_hours"), v.clock(second, "quiet_hours"))
            if quiet.start == quiet.end:
                raise v.fail("quiet_hours", "start and end must differ")
    elif fallback_quiet_hours is not None:
        quiet = QuietHours(*fallback_quiet_hours)

    defaults = v.rule_layer(top.get("defaults"), "defaults")
    defaults.setdefault("ladder", ladder)
    severities_raw = v.mapping(top.get("severities"), "severities", frozenset(SEVERITIES))
    severity_layers = {
        s: v.rule_layer(severities_raw.get(s), f"severities.{s}") for s in SEVERITIES
    }
    categories_raw = v.mapping(top.get("categories"), "categories", frozenset(CATEGORIES))
    rules: dict[tuple[str, str], CaseRule] = {}
    for category in CATEGORIES:
        key = f"categories.{category}"
        raw = v.mapping(categories_raw.get(category), key, RULE_KEYS | frozenset(SEVERITIES))
        category_layer = v.rule_layer({k: x for k, x in raw.items() if k in RULE_KEYS}, key)
        for severity in SEVERITIES:
            specific = v.rule_layer(raw.get(severity), f"{key}.{severity}")
            rules[(category, severity)] = _merge_rule(
                [
                    ("defaults", defaults),
                    (f"severities.{severity}", severity_layers[severity]),
                    (key, category_layer),
                    (f"{key}.{severity}", specific),
                ],
                v,
            )

    sched_raw = v.mapping(top.get("scheduler"), "scheduler", SCHEDULER_KEYS)
    dispatch = DispatchRules()
    changes: dict[str, Any] = {}
    for name, item in sched_raw.items():
        path = f"scheduler.{name}"
        if name in ("max_attempts", "batch_size", "concurrency"):
            changes[name] = v.positive_int(item, path)
        elif name == "misfire":
            misfire = v.mapping(item, path)
            changes[name] = MappingProxyType(
                {kind: v.duration(grace, f"{path}.{kind}") for kind, grace in misfire.items()}
            )
        else:
            changes[name] = v.duration(item, path)
    dispatch = replace(dispatch, **changes)
    if dispatch.retry_backoff_max < dispatch.retry_backoff:
        raise v.fail("scheduler.retry_backoff_max", "must not be shorter than scheduler.retry_backoff")

    surveys = _survey_rules(v, top.get("surveys"))

    ack = MappingProxyType({s: rules[("other", s)].ack for s in SEVERITIES})
    resolve = MappingProxyType({s: rules[("other", s)].resolve for s in SEVERITIES})
    return RecoveryPolicy(
        ack=ack,
        resolve=resolve,
        rules=MappingProxyType(rules),
        ladder=ladder,
        business_hours=business,
        quiet_hours=quiet,
        hotel_timezone=timezone_name,
        dispatch=dispatch,
        surveys=surveys,
        source=source,
    )


def _survey_rules(v: _Validator, value: Any) -> SurveyRules:
    """Validate the ``surveys`` section (every key optional; null delays mean "use the day and time")."""
    raw = v.mapping(value, "surveys", SURVEY_KEYS)
    changes: dict[str, Any] = {}
    for name, item in raw.items():
        path = f"surveys.{name}"
        if name in ("invite_time", "pulse_time"):
            changes[name] = v.clock(item, path)
        elif name == "invite_day_offset":
            changes[name] = v.whole(item, path, 0)
        elif name == "pulse_day":
            changes[name] = v.whole(item, path, 1)
        elif name == "pulse_min_nights":
            changes[name] = v.whole(item, path, 1)
        elif name in ("invite_delay", "pulse_delay"):
            changes[name] = None if item in (None, "", "none", "off") else v.duration(item, path)
        else:
            changes[name] = v.duration(item, path)
    rules = replace(SurveyRules(), **changes)
    if rules.pulse_day > rules.pulse_min_nights:
        raise v.fail("surveys.pulse_day", "must not be later than surveys.pulse_min_nights (the shortest stay asked)")
    return rules


def load_policy(
    path: str | Path,
    *,
    timezone_name: str = "UTC",
    fallback_quiet_hours: tuple[time, time] | None = None,
) -> RecoveryPolicy:
    """Read and validate the policy file at ``path`` (relative paths are taken from the repo root)."""
    file = Path(path)
    if not file.is_absolute():
        file = REPO_ROOT / file
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"POLICY_FILE: cannot read {file}: {exc.strerror or exc}") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyError(f"{file.name}: not valid YAML: {exc}") from None
    return parse_policy(
        document, source=file.name, timezone_name=timezone_name, fallback_quiet_hours=fallback_quiet_hours
    )


def policy_path(env: Mapping[str, str] | None = None) -> Path:
    """Return the policy file named by ``POLICY_FILE`` (environment, then ``.env``), or the default."""
    if env is None:
        try:
            merged = parse_dotenv((REPO_ROOT / ".env").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            merged = {}
        merged.update(os.environ)
        env = merged
    value = (env.get("POLICY_FILE") or "").strip() or DEFAULT_POLICY_FILE
    path = Path(value).expanduser()
    return path if path.is_absolute() else REPO_ROOT / path


def load_policy_for(settings: Settings, env: Mapping[str, str] | None = None) -> RecoveryPolicy:
    """Load the policy named by POLICY_FILE, in the hotel's time zone, with QUIET_HOURS as fallback."""
    return load_policy(
        policy_path(env),
        timezone_name=settings.hotel_timezone,
        fallback_quiet_hours=settings.quiet_hours,
    )
