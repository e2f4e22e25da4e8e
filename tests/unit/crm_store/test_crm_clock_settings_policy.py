"""Test the clock, settings and SLA policy of crm_store."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from crm_store.clock import FixedClock, SystemClock
from crm_store.policy import SlaPolicy
from crm_store.settings import REPO_ROOT, SettingsError, load_settings, parse_dotenv


def test_fixed_clock_advance_and_set_moves_time() -> None:
    clock = FixedClock(datetime(2026, 1, 1, 10, 0, tzinfo=ZoneInfo("Europe/Berlin")))
    assert clock.now() == datetime(2026, 1, 1, 9, 0, tzinfo=timezone.utc)
    assert clock.now().tzinfo == timezone.utc
    clock.advance(timedelta(minutes=5))
    assert clock.now() == datetime(2026, 1, 1, 9, 5, tzinfo=timezone.utc)
    clock.set(datetime(2030, 1, 1, tzinfo=timezone.utc))
    assert clock.now().year == 2030


def test_fixed_clock_naive_start_raises() -> None:
    with pytest.raises(ValueError):
        FixedClock(datetime(2026, 1, 1))


def test_system_clock_now_is_aware_utc() -> None:
    assert SystemClock().now().utcoffset() == timedelta(0)


def test_load_settings_empty_env_gives_defaults() -> None:
    settings = load_settings({})
    assert settings.database_url == f"sqlite:///{REPO_ROOT}/var/hotel.db"
    assert settings.tracker_store_url == f"sqlite:///{REPO_ROOT}/var/tracker.db"
    assert settings.hotel_timezone == "UTC"
    assert settings.rasa_url == "http://localhost:5005"
    assert settings.action_server_url == "http://localhost:5055"
    assert settings.ops_port == 8080
    assert settings.review_link == ""
    assert settings.rasa_token == ""
    assert settings.ops_host == "127.0.0.1"


def test_load_settings_env_values_override_defaults() -> None:
    settings = load_settings(
        {
            "DATABASE_URL": "postgresql+psycopg2://u@db/hotel",
            "HOTEL_TIMEZONE": "Europe/Lisbon",
            "OPS_PORT": "9090",
            "STAFF_USER_IDS": "1, 2,3",
            "QUIET_HOURS": "22:00-08:00",
            "TELEGRAM_BOT_TOKEN": "123:secret",
            "REVIEW_LINK": "https://example.org/review",
            "RASA_TOKEN": "rasa-secret",
            "OPS_HOST": "0.0.0.0",
        }
    )
    assert settings.rasa_token == "rasa-secret"
    assert settings.ops_host == "0.0.0.0"
    assert "rasa-secret" not in repr(settings)
    assert settings.database_url.startswith("postgresql")
    assert settings.tz == ZoneInfo("Europe/Lisbon")
    assert settings.ops_port == 9090
    assert settings.staff_user_ids == frozenset({1, 2, 3})
    assert settings.quiet_hours == (time(22, 0), time(8, 0))
    assert "secret" not in repr(settings)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("HOTEL_TIMEZONE", "Mars/Olympus"),
        ("OPS_PORT", "eighty"),
        ("OPS_PORT", "70000"),
        ("DATABASE_URL", "not a url"),
        ("RASA_URL", "ftp://x"),
        ("QUIET_HOURS", "22"),
        ("STAFF_USER_IDS", "1,a"),
        ("OPS_HOST", "http://x"),
    ],
)
def test_load_settings_bad_value_raises_settings_error(key: str, value: str) -> None:
    with pytest.raises(SettingsError, match=key):
        load_settings({key: value})


def test_load_settings_dotenv_is_overridden_by_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("# comment\nOPS_PORT=8181\nREVIEW_LINK='https://r.example/x'\n\nHOTEL_TIMEZONE=Asia/Tokyo\n")
    monkeypatch.setenv("HOTEL_TIMEZONE", "Europe/Paris")
    monkeypatch.delenv("OPS_PORT", raising=False)
    monkeypatch.delenv("REVIEW_LINK", raising=False)
    settings = load_settings(dotenv=dotenv)
    assert settings.ops_port == 8181
    assert settings.review_link == "https://r.example/x"
    assert settings.hotel_timezone == "Europe/Paris"


def test_parse_dotenv_line_without_equals_raises() -> None:
    with pytest.raises(SettingsError):
        parse_dotenv("JUSTAWORD\n")


@pytest.mark.parametrize(
    ("category", "severity", "minutes"),
    [("noise", "high", 5), ("noise", "medium", 15), ("noise", "low", 30), ("safety", "low", 5)],
)
def test_sla_policy_ack_deadline_default_matches_severity(
    category: str, severity: str, minutes: int
) -> None:
    assert SlaPolicy().ack_deadline(category, severity) == timedelta(minutes=minutes)


def test_sla_policy_unknown_severity_raises() -> None:
    with pytest.raises(ValueError):
        SlaPolicy().ack_deadline("noise", "urgent")
