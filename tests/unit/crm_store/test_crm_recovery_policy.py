"""Test the recovery policy: durations, validation errors naming the key, rules, business and quiet hours."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from crm_store.policy import SlaPolicy
from crm_store.recovery_policy import (
    BusinessHours,
    PolicyError,
    QuietHours,
    RecoveryPolicy,
    as_recovery_policy,
    load_policy,
    load_policy_for,
    parse_duration,
    parse_policy,
    policy_path,
)
from crm_store.settings import REPO_ROOT, load_settings

PARIS = "Europe/Paris"


def test_parse_duration_units_and_sums_return_timedelta():
    assert parse_duration("30s") == timedelta(seconds=30)
    assert parse_duration("15m") == timedelta(minutes=15)
    assert parse_duration("2h") == timedelta(hours=2)
    assert parse_duration("1d") == timedelta(days=1)
    assert parse_duration("1h30m") == timedelta(minutes=90)


@pytest.mark.parametrize("bad", ["5 minutes", "0s", "", "15", 15, None, "-1m", "1w"])
def test_parse_duration_bad_value_raises_policy_error(bad):
    with pytest.raises(PolicyError, match="expected a duration like 30s"):
        parse_duration(bad, "defaults.ack")


def test_shipped_policies_load_and_validate():
    for name in ("policy-default.yml", "policy-fast.yml"):
        policy = load_policy(REPO_ROOT / "examples" / name, timezone_name=PARIS)
        assert isinstance(policy, RecoveryPolicy)
        assert isinstance(policy, SlaPolicy)


def test_default_policy_safety_and_high_start_at_duty_manager():
    policy = load_policy("examples/policy-default.yml")
    assert policy.rung("safety", "low", 0) == "duty_manager"
    assert policy.rung("maintenance", "high", 0) == "duty_manager"
    assert policy.rung("maintenance", "medium", 0) == "front_desk"
    assert policy.rung("maintenance", "medium", 1) == "duty_manager"
    assert policy.rung("maintenance", "medium", 9) == "general_manager"
    assert policy.top_level("maintenance", "medium") == 2
    assert policy.top_level("safety", "low") == 1


def test_default_policy_satisfies_sla_policy_interface():
    policy = load_policy("examples/policy-default.yml")
    assert policy.ack_deadline("maintenance", "high") == timedelta(minutes=5)
    assert policy.ack_deadline("noise", "low") == timedelta(minutes=30)
    assert policy.ack_deadline("safety", "low") == timedelta(minutes=2)
    assert policy.resolve_deadline("noise", "medium") == timedelta(hours=4)


def test_fast_policy_uses_seconds_and_no_quiet_hours():
    policy = load_policy("examples/policy-fast.yml")
    assert policy.ack_deadline("maintenance", "medium") <= timedelta(seconds=10)
    assert policy.rule("maintenance", "medium").follow_up_delay <= timedelta(seconds=10)
    assert policy.quiet_hours is None


def test_rule_layers_most_specific_wins():
    policy = parse_policy(
        {
            "defaults": {"ack": "10m", "gestures": ["a"]},
            "severities": {"high": {"ack": "5m"}},
            "categories": {"noise": {"ack": "7m", "gestures": ["b"], "high": {"gestures": ["c"]}}},
        }
    )
    assert policy.rule("noise", "low").ack == timedelta(minutes=7)
    assert policy.rule("noise", "high").ack == timedelta(minutes=7)
    assert policy.rule("other", "high").ack == timedelta(minutes=5)
    assert policy.gestures("noise", "high") == ("c",)
    assert policy.gestures("noise", "low") == ("b",)
    assert policy.gestures("billing", "low") == ("a",)


@pytest.mark.parametrize(
    ("document", "key"),
    [
        ({"defaults": {"ack": "5 minutes"}}, "defaults.ack"),
        ({"categories": {"noise": {"high": {"resolve": "soon"}}}}, "categories.noise.high.resolve"),
        ({"categories": {"plumbing": {}}}, "categories.plumbing"),
        ({"severities": {"critical": {}}}, "severities.critical"),
        ({"defaults": {"acknowledge": "5m"}}, "defaults.acknowledge"),
        ({"defaults": {"start_rung": "ceo"}}, "defaults.start_rung"),
        ({"quiet_hours": "late"}, "quiet_hours"),
        ({"business_hours": {"start": "18:00", "end": "09:00"}}, "business_hours.end"),
        ({"business_hours": {"days": ["funday"]}}, "business_hours.days[0]"),
        ({"scheduler": {"max_attempts": 0}}, "scheduler.max_attempts"),
        ({"scheduler": {"misfire": {"recovery_ask": "never"}}}, "scheduler.misfire.recovery_ask"),
        ({"ladder": []}, "ladder"),
        ({"defaults": {"gestures": ["Free Drink!"]}}, "defaults.gestures[0]"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_parse_policy_bad_value_names_the_key(document, key):
    with pytest.raises(PolicyError) as error:
        parse_policy(document, source="p.yml")
    assert f"p.yml: {key}:" in str(error.value)


def test_load_policy_missing_file_names_policy_file(tmp_path: Path):
    with pytest.raises(PolicyError, match="POLICY_FILE: cannot read"):
        load_policy(tmp_path / "absent.yml")


def test_load_policy_invalid_yaml_raises_policy_error(tmp_path: Path):
    path = tmp_path / "p.yml"
    path.write_text("defaults: [unclosed")
    with pytest.raises(PolicyError, match="not valid YAML"):
        load_policy(path)


def test_policy_path_from_env_relative_to_repo_and_default():
    assert policy_path({"POLICY_FILE": "examples/policy-fast.yml"}) == REPO_ROOT / "examples/policy-fast.yml"
    assert policy_path({}) == REPO_ROOT / "examples/policy-default.yml"


def test_load_policy_for_settings_uses_timezone_and_quiet_hours_fallback(tmp_path: Path):
    path = tmp_path / "p.yml"
    path.write_text(yaml.safe_dump({"defaults": {"ack": "1m"}}))
    settings = load_settings({"HOTEL_TIMEZONE": PARIS, "QUIET_HOURS": "23:00-07:00"})
    policy = load_policy_for(settings, {"POLICY_FILE": str(path)})
    assert policy.hotel_timezone == PARIS
    assert policy.quiet_hours == QuietHours(time(23), time(7))


def test_explicit_null_quiet_hours_overrides_settings(tmp_path: Path):
    path = tmp_path / "p.yml"
    path.write_text("quiet_hours: null\n")
    settings = load_settings({"QUIET_HOURS": "23:00-07:00"})
    assert load_policy_for(settings, {"POLICY_FILE": str(path)}).quiet_hours is None


def test_quiet_hours_overnight_moves_to_window_end_in_hotel_time():
    policy = parse_policy({"quiet_hours": "22:00-08:00"}, timezone_name=PARIS)
    # 21:30 UTC = 23:30 Paris (summer): quiet, next allowed 08:00 Paris = 06:00 UTC next day.
    late = datetime(2026, 6, 1, 21, 30, tzinfo=timezone.utc)
    assert policy.next_guest_time(late) == datetime(2026, 6, 2, 6, 0, tzinfo=timezone.utc)
    # 04:00 UTC = 06:00 Paris: quiet, allowed at 06:00 UTC the same day.
    early = datetime(2026, 6, 2, 4, 0, tzinfo=timezone.utc)
    assert policy.next_guest_time(early) == datetime(2026, 6, 2, 6, 0, tzinfo=timezone.utc)
    noon = datetime(2026, 6, 2, 10, 0, tzinfo=timezone.utc)
    assert policy.next_guest_time(noon) == noon
    assert policy.in_quiet_hours(late) and not policy.in_quiet_hours(noon)


def test_quiet_hours_same_day_window():
    quiet = QuietHours(time(13), time(14))
    tz = parse_policy({}).tz
    at = datetime(2026, 6, 1, 13, 30, tzinfo=timezone.utc)
    assert quiet.next_allowed(at, tz) == datetime(2026, 6, 1, 14, 0, tzinfo=timezone.utc)


def test_business_hours_add_skips_nights_and_weekends():
    hours = BusinessHours(days=frozenset(range(5)), start=time(9), end=time(18))
    tz = parse_policy({}).tz
    friday_5pm = datetime(2026, 6, 5, 17, 0, tzinfo=timezone.utc)
    assert friday_5pm.weekday() == 4
    assert hours.add(friday_5pm, timedelta(hours=2), tz) == datetime(2026, 6, 8, 10, 0, tzinfo=timezone.utc)
    saturday = datetime(2026, 6, 6, 12, 0, tzinfo=timezone.utc)
    assert hours.add(saturday, timedelta(minutes=30), tz) == datetime(2026, 6, 8, 9, 30, tzinfo=timezone.utc)
    tuesday_10 = datetime(2026, 6, 2, 10, 0, tzinfo=timezone.utc)
    assert hours.add(tuesday_10, timedelta(hours=1), tz) == datetime(2026, 6, 2, 11, 0, tzinfo=timezone.utc)


def test_business_hours_only_rule_counts_office_time():
    policy = parse_policy(
        {"categories": {"billing": {"business_hours_only": True, "ack": "1h"}}},
        timezone_name="UTC",
    )
    friday_evening = datetime(2026, 6, 5, 20, 0, tzinfo=timezone.utc)
    assert policy.ack_due("billing", "low", friday_evening) == datetime(2026, 6, 8, 10, 0, tzinfo=timezone.utc)
    assert policy.ack_due("noise", "low", friday_evening) == friday_evening + policy.rule("noise", "low").ack


def test_follow_up_due_moves_out_of_quiet_hours():
    policy = parse_policy({"quiet_hours": "22:00-08:00", "defaults": {"follow_up_delay": "30m"}})
    resolved = datetime(2026, 6, 1, 21, 45, tzinfo=timezone.utc)
    assert policy.follow_up_due("noise", "low", resolved) == datetime(2026, 6, 2, 8, 0, tzinfo=timezone.utc)


def test_as_recovery_policy_keeps_sla_policy_deadlines():
    plain = SlaPolicy()
    recovery = as_recovery_policy(plain)
    assert recovery.ack_deadline("noise", "medium") == plain.ack_deadline("noise", "medium")
    assert recovery.resolve_deadline("safety", "low") == plain.resolve_deadline("safety", "low")
    assert recovery.rung("safety", "low", 0) == "duty_manager"
    assert as_recovery_policy(recovery) is recovery


def test_dispatch_backoff_doubles_and_caps():
    policy = parse_policy({"scheduler": {"retry_backoff": "10s", "retry_backoff_max": "35s"}})
    assert [policy.dispatch.backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [10, 20, 35, 35]


def test_unknown_timezone_is_reported():
    with pytest.raises(PolicyError, match="HOTEL_TIMEZONE"):
        parse_policy({}, timezone_name="Mars/Olympus")
