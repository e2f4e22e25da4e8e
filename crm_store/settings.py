"""Build the typed settings object from the environment and an optional ``.env`` file."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

REPO_ROOT = Path(__file__).resolve().parent.parent
_WEBHOOK_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
PROFILES = ("embedded", "prod")


class SettingsError(ValueError):
    """Report a missing or malformed setting, naming the variable."""


@dataclass(frozen=True)
class Settings:
    """Hold every deploy-time setting of the assistant, already parsed and validated."""

    database_url: str = f"sqlite:///{REPO_ROOT}/var/hotel.db"
    tracker_store_url: str = f"sqlite:///{REPO_ROOT}/var/tracker.db"
    hotel_timezone: str = "UTC"
    rasa_url: str = "http://localhost:5005"
    action_server_url: str = "http://localhost:5055"
    rasa_token: str = field(default="", repr=False)
    ops_host: str = "127.0.0.1"
    ops_port: int = 8080
    review_link: str = ""
    telegram_bot_token: str = field(default="", repr=False)
    telegram_api_url: str = ""
    telegram_webhook_url: str = ""
    telegram_webhook_secret: str = field(default="", repr=False)
    telegram_webhook_listen: str = "127.0.0.1"
    telegram_webhook_port: int = 8443
    staff_chat_id: int | None = None
    staff_user_ids: frozenset[int] = frozenset()
    handoff_idle_minutes: int = 30
    quiet_hours: tuple[time, time] | None = None
    pms_webhook_secret: str = field(default="", repr=False)
    redis_url: str = field(default="", repr=False)
    # Process layout (docs: README "Production profile").
    profile: str = "embedded"
    rasa_replicas: int = 1
    action_server_replicas: int = 1
    scheduler_standby: int = 0
    rasa_urls: tuple[str, ...] = ()
    action_server_urls: tuple[str, ...] = ()
    rasa_listen: str = "127.0.0.1"
    redis_key_prefix: str = "hotel"
    var_dir: Path = REPO_ROOT / "var"

    @property
    def tz(self) -> ZoneInfo:
        """Return the hotel's time zone."""
        return ZoneInfo(self.hotel_timezone)

    @property
    def local_rasa_urls(self) -> tuple[str, ...]:
        """Return the Rasa replicas this host runs: replica i listens on port(RASA_URL) + i - 1."""
        return replica_urls(self.rasa_url, self.rasa_replicas)

    @property
    def rasa_client_urls(self) -> tuple[str, ...]:
        """Return every Rasa replica clients spread conversations over (RASA_URLS, else the local ones)."""
        return self.rasa_urls or self.local_rasa_urls

    @property
    def local_action_server_urls(self) -> tuple[str, ...]:
        """Return the action servers this host runs: server i listens on port(ACTION_SERVER_URL) + i - 1."""
        return replica_urls(self.action_server_url, self.action_server_replicas)

    @property
    def known_action_server_urls(self) -> tuple[str, ...]:
        """Return every action server /health checks (ACTION_SERVER_URLS, else the local ones)."""
        return self.action_server_urls or self.local_action_server_urls

    def action_server_for(self, rasa_replica: int) -> str:
        """Return the action server Rasa replica ``rasa_replica`` (1-based) calls: round robin over the local ones."""
        urls = self.local_action_server_urls
        return urls[(rasa_replica - 1) % len(urls)]

    @property
    def scheduler_processes(self) -> int:
        """Return how many scheduler processes run here: one active plus the stand-bys."""
        return 1 + self.scheduler_standby

    @property
    def log_dir(self) -> Path:
        """Return where the supervisor's children write their logs."""
        return self.var_dir / "log"

    @property
    def run_dir(self) -> Path:
        """Return where the supervisor writes its run state (processes.json)."""
        return self.var_dir / "run"


def replica_urls(base_url: str, count: int) -> tuple[str, ...]:
    """Return ``count`` URLs on consecutive ports starting at ``base_url``'s port (same host and scheme)."""
    parts = urlsplit(base_url.rstrip("/"))
    port = parts.port or (443 if parts.scheme == "https" else 80)
    host = parts.hostname or "localhost"
    if ":" in host:
        host = f"[{host}]"
    return tuple(
        urlunsplit((parts.scheme, f"{host}:{port + i}", parts.path, "", "")) for i in range(count)
    )


def parse_dotenv(text: str) -> dict[str, str]:
    """Parse simple ``KEY=VALUE`` lines, skipping blanks and ``#`` comments."""
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key:
            raise SettingsError(f".env line {number}: expected KEY=VALUE")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        values[key] = value
    return values


def _read_dotenv(path: Path) -> dict[str, str]:
    try:
        return parse_dotenv(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}


def _url(env: Mapping[str, str], key: str, default: str, schemes: tuple[str, ...]) -> str:
    value = env.get(key, "").strip() or default
    scheme = urlsplit(value).scheme.split("+", 1)[0]
    if scheme not in schemes:
        raise SettingsError(f"{key}: expected a URL with scheme {'/'.join(schemes)}")
    return value


def _int(env: Mapping[str, str], key: str, default: int | None) -> int | None:
    value = env.get(key, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise SettingsError(f"{key}: expected an integer, got {value!r}") from None


def _positive(env: Mapping[str, str], key: str, default: int) -> int:
    value = _int(env, key, default)
    assert value is not None
    if value < 1:
        raise SettingsError(f"{key}: expected a positive integer")
    return value


def _port(env: Mapping[str, str], key: str, default: int) -> int:
    value = _int(env, key, default)
    assert value is not None
    if not 1 <= value <= 65535:
        raise SettingsError(f"{key}: port must be between 1 and 65535")
    return value


def _host(env: Mapping[str, str]) -> str:
    value = env.get("OPS_HOST", "").strip() or "127.0.0.1"
    if any(ch.isspace() or ch in "/@" for ch in value):
        raise SettingsError(f"OPS_HOST: expected a host name or IP address, got {value!r}")
    return value


def _timezone(env: Mapping[str, str]) -> str:
    value = env.get("HOTEL_TIMEZONE", "").strip() or "UTC"
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"HOTEL_TIMEZONE: unknown time zone {value!r}") from None
    return value


def _id_set(env: Mapping[str, str], key: str) -> frozenset[int]:
    value = env.get(key, "").strip()
    if not value:
        return frozenset()
    try:
        return frozenset(int(part) for part in value.replace(";", ",").split(",") if part.strip())
    except ValueError:
        raise SettingsError(f"{key}: expected comma-separated integers") from None


def _clock_time(text: str, key: str) -> time:
    try:
        return time.fromisoformat(text.strip())
    except ValueError:
        raise SettingsError(f"{key}: expected HH:MM, got {text.strip()!r}") from None


def _quiet_hours(env: Mapping[str, str]) -> tuple[time, time] | None:
    value = env.get("QUIET_HOURS", "").strip()
    if not value:
        return None
    start, sep, end = value.partition("-")
    if not sep:
        raise SettingsError("QUIET_HOURS: expected HH:MM-HH:MM, e.g. 22:00-08:00")
    return _clock_time(start, "QUIET_HOURS"), _clock_time(end, "QUIET_HOURS")


def _profile(env: Mapping[str, str]) -> str:
    value = env.get("PROFILE", "").strip().lower() or "embedded"
    if value not in PROFILES:
        raise SettingsError(f"PROFILE: expected one of {', '.join(PROFILES)}, got {value!r}")
    return value


def _count(env: Mapping[str, str], key: str, default: int, minimum: int, maximum: int = 16) -> int:
    value = _int(env, key, default)
    assert value is not None
    if not minimum <= value <= maximum:
        raise SettingsError(f"{key}: expected an integer from {minimum} to {maximum}, got {value}")
    return value


def _url_list(env: Mapping[str, str], key: str) -> tuple[str, ...]:
    value = env.get(key, "").strip()
    if not value:
        return ()
    urls = tuple(part.strip().rstrip("/") for part in value.split(",") if part.strip())
    for url in urls:
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
            raise SettingsError(f"{key}: expected comma-separated http(s) URLs")
    if len(set(urls)) != len(urls):
        raise SettingsError(f"{key}: a URL is listed twice")
    return urls


def _var_dir(env: Mapping[str, str]) -> Path:
    value = env.get("VAR_DIR", "").strip()
    if not value:
        return REPO_ROOT / "var"
    path = Path(value).expanduser()
    return path if path.is_absolute() else (REPO_ROOT / path).resolve()


def _scheme(url: str) -> str:
    return urlsplit(url).scheme.split("+", 1)[0]


def _check_prod(settings: Settings) -> None:
    """Refuse a production profile that would silently run on SQLite or without the shared lock store."""
    problems = []
    for key, url in (("DATABASE_URL", settings.database_url), ("TRACKER_STORE_URL", settings.tracker_store_url)):
        if _scheme(url) != "postgresql":
            problems.append(f"{key} must be a postgresql:// URL (it is {_scheme(url)})")
    if not settings.redis_url:
        problems.append("REDIS_URL must be set (redis://host:6379/0): the Rasa replicas share their lock store there")
    elif _scheme(settings.redis_url) != "redis":
        problems.append("REDIS_URL must be a redis:// URL (for TLS, reach Redis through a local TLS tunnel)")
    if problems:
        raise SettingsError(
            "PROFILE=prod needs shared PostgreSQL and Redis: " + "; ".join(problems)
            + ". See .env.prod.example."
        )


def _check_ports(settings: Settings) -> None:
    """Refuse a layout where two local processes would listen on the same port, or past 65535."""
    seen: dict[int, str] = {settings.ops_port: "OPS_PORT"}
    for key, base, count in (
        ("RASA_URL", settings.rasa_url, settings.rasa_replicas),
        ("ACTION_SERVER_URL", settings.action_server_url, settings.action_server_replicas),
    ):
        parts = urlsplit(base)
        first = parts.port or (443 if parts.scheme == "https" else 80)
        for port in range(first, first + count):
            if port > 65535:
                raise SettingsError(f"{key}: replica port {port} is above 65535")
            if port in seen:
                raise SettingsError(
                    f"{key}: replica port {port} is also used by {seen[port]}; replicas take consecutive "
                    "ports, so leave room between RASA_URL, ACTION_SERVER_URL and OPS_PORT"
                )
            seen[port] = key


def load_settings(env: Mapping[str, str] | None = None, *, dotenv: Path | None = None) -> Settings:
    """Return validated settings from ``env`` (default: ``.env`` at the repo root, overridden by os.environ)."""
    if env is None:
        merged = _read_dotenv(dotenv or REPO_ROOT / ".env")
        merged.update(os.environ)
        env = merged
    defaults = Settings()
    sql = ("sqlite", "postgresql", "mysql")
    http = ("http", "https")
    review_link = env.get("REVIEW_LINK", "").strip()
    if review_link:
        _url(env, "REVIEW_LINK", "", http)
    telegram_api_url = env.get("TELEGRAM_API_URL", "").strip()
    if telegram_api_url:
        _url(env, "TELEGRAM_API_URL", "", http)
    webhook_url = env.get("TELEGRAM_WEBHOOK_URL", "").strip()
    if webhook_url:
        _url(env, "TELEGRAM_WEBHOOK_URL", "", ("https",))
    webhook_secret = env.get("TELEGRAM_WEBHOOK_SECRET", "").strip()
    if webhook_url and not _WEBHOOK_SECRET.match(webhook_secret):
        raise SettingsError(
            "TELEGRAM_WEBHOOK_SECRET: required with TELEGRAM_WEBHOOK_URL; 1-256 of A-Z a-z 0-9 _ -"
        )
    redis_url = env.get("REDIS_URL", "").strip()
    if redis_url:
        _url(env, "REDIS_URL", "", ("redis", "rediss"))
    profile = _profile(env)
    prod = profile == "prod"
    var_dir = _var_dir(env)
    key_prefix = env.get("REDIS_KEY_PREFIX", "").strip() or "hotel"
    if not key_prefix.isalnum():
        raise SettingsError("REDIS_KEY_PREFIX: letters and digits only (Rasa's Redis lock store ignores others)")
    rasa_listen = env.get("RASA_LISTEN", "").strip() or "127.0.0.1"
    if any(ch.isspace() or ch in "/@" for ch in rasa_listen):
        raise SettingsError(f"RASA_LISTEN: expected a host name or IP address, got {rasa_listen!r}")
    settings = Settings(
        database_url=_url(env, "DATABASE_URL", f"sqlite:///{var_dir}/hotel.db", sql),
        tracker_store_url=_url(env, "TRACKER_STORE_URL", f"sqlite:///{var_dir}/tracker.db", sql),
        hotel_timezone=_timezone(env),
        rasa_url=_url(env, "RASA_URL", defaults.rasa_url, http).rstrip("/"),
        action_server_url=_url(env, "ACTION_SERVER_URL", defaults.action_server_url, http).rstrip("/"),
        rasa_token=env.get("RASA_TOKEN", "").strip(),
        ops_host=_host(env),
        ops_port=_port(env, "OPS_PORT", defaults.ops_port),
        review_link=review_link,
        telegram_bot_token=env.get("TELEGRAM_BOT_TOKEN", "").strip(),
        telegram_api_url=telegram_api_url,
        telegram_webhook_url=webhook_url,
        telegram_webhook_secret=webhook_secret,
        telegram_webhook_listen=env.get("TELEGRAM_WEBHOOK_LISTEN", "").strip() or "127.0.0.1",
        telegram_webhook_port=_port(env, "TELEGRAM_WEBHOOK_PORT", 8443),
        staff_chat_id=_int(env, "STAFF_CHAT_ID", None),
        staff_user_ids=_id_set(env, "STAFF_USER_IDS"),
        handoff_idle_minutes=_positive(env, "HANDOFF_IDLE_MINUTES", defaults.handoff_idle_minutes),
        quiet_hours=_quiet_hours(env),
        pms_webhook_secret=env.get("PMS_WEBHOOK_SECRET", "").strip(),
        redis_url=redis_url,
        profile=profile,
        rasa_replicas=_count(env, "RASA_REPLICAS", 2 if prod else 1, 1),
        action_server_replicas=_count(env, "ACTION_SERVER_REPLICAS", 2 if prod else 1, 1),
        scheduler_standby=_count(env, "SCHEDULER_STANDBY", 1 if prod else 0, 0, 4),
        rasa_urls=_url_list(env, "RASA_URLS"),
        action_server_urls=_url_list(env, "ACTION_SERVER_URLS"),
        rasa_listen=rasa_listen,
        redis_key_prefix=key_prefix,
        var_dir=var_dir,
    )
    if prod:
        _check_prod(settings)
    elif settings.rasa_replicas > 1:
        raise SettingsError(
            "RASA_REPLICAS: several Rasa replicas need PROFILE=prod (a shared PostgreSQL tracker store and "
            "Redis lock store)"
        )
    _check_ports(settings)
    return settings
