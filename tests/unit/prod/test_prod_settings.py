"""Settings of the production profile: defaults per profile, replica URLs, refusals with clear messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from crm_store.settings import REPO_ROOT, SettingsError, load_settings, parse_dotenv, replica_urls

PG = "postgresql://hotel:pw@db.internal:5432/hotel_crm"
PG_TRACKER = "postgresql+psycopg2://hotel:pw@db.internal:5432/hotel_tracker"
PROD = {"PROFILE": "prod", "DATABASE_URL": PG, "TRACKER_STORE_URL": PG_TRACKER, "REDIS_URL": "redis://r:6379/0"}


def test_embedded_defaults_keep_one_of_each_and_var_under_the_repo():
    settings = load_settings({})
    assert settings.profile == "embedded"
    assert settings.rasa_replicas == settings.action_server_replicas == settings.scheduler_processes == 1
    assert settings.local_rasa_urls == ("http://localhost:5005",)
    assert settings.rasa_client_urls == ("http://localhost:5005",)
    assert settings.local_action_server_urls == ("http://localhost:5055",)
    assert settings.var_dir == REPO_ROOT / "var"
    assert settings.log_dir == REPO_ROOT / "var" / "log" and settings.run_dir == REPO_ROOT / "var" / "run"
    assert settings.database_url == f"sqlite:///{REPO_ROOT}/var/hotel.db"


def test_prod_defaults_two_replicas_of_rasa_and_actions_and_one_standby():
    settings = load_settings(PROD)
    assert settings.profile == "prod"
    assert settings.local_rasa_urls == ("http://localhost:5005", "http://localhost:5006")
    assert settings.local_action_server_urls == ("http://localhost:5055", "http://localhost:5056")
    assert settings.scheduler_standby == 1 and settings.scheduler_processes == 2
    assert settings.action_server_for(1) == "http://localhost:5055"
    assert settings.action_server_for(2) == "http://localhost:5056"
    assert settings.redis_key_prefix == "hotel"


def test_counts_and_explicit_replica_lists():
    settings = load_settings({**PROD, "RASA_REPLICAS": "3", "ACTION_SERVER_REPLICAS": "2", "SCHEDULER_STANDBY": "0",
                              "RASA_URL": "http://127.0.0.1:7000", "ACTION_SERVER_URL": "http://127.0.0.1:7100"})
    assert settings.local_rasa_urls == tuple(f"http://127.0.0.1:{p}" for p in (7000, 7001, 7002))
    assert [settings.action_server_for(i) for i in (1, 2, 3)] == [
        "http://127.0.0.1:7100", "http://127.0.0.1:7101", "http://127.0.0.1:7100"]
    assert settings.scheduler_processes == 1
    remote = load_settings({**PROD, "RASA_URLS": "http://b:5005/, http://c:5005",
                            "ACTION_SERVER_URLS": "http://b:5055,http://c:5055"})
    assert remote.rasa_client_urls == ("http://b:5005", "http://c:5005")
    assert remote.local_rasa_urls == ("http://localhost:5005", "http://localhost:5006")
    assert remote.known_action_server_urls == ("http://b:5055", "http://c:5055")


def test_var_dir_moves_logs_run_state_and_the_default_sqlite_files(tmp_path: Path):
    settings = load_settings({"VAR_DIR": str(tmp_path)})
    assert settings.log_dir == tmp_path / "log" and settings.run_dir == tmp_path / "run"
    assert settings.database_url == f"sqlite:///{tmp_path}/hotel.db"
    assert settings.tracker_store_url == f"sqlite:///{tmp_path}/tracker.db"
    assert load_settings({"VAR_DIR": "var2"}).var_dir == REPO_ROOT / "var2"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PROFILE": "prod"}, "DATABASE_URL must be a postgresql:// URL (it is sqlite)"),
        ({**PROD, "TRACKER_STORE_URL": "sqlite:////tmp/t.db"}, "TRACKER_STORE_URL must be a postgresql:// URL"),
        ({**PROD, "REDIS_URL": ""}, "REDIS_URL must be set"),
        ({**PROD, "REDIS_URL": "rediss://r:6380/0"}, "REDIS_URL must be a redis:// URL"),
        ({"PROFILE": "staging"}, "PROFILE: expected one of embedded, prod"),
        ({"RASA_REPLICAS": "2"}, "several Rasa replicas need PROFILE=prod"),
        ({**PROD, "RASA_REPLICAS": "0"}, "RASA_REPLICAS: expected an integer from 1 to 16"),
        ({**PROD, "SCHEDULER_STANDBY": "-1"}, "SCHEDULER_STANDBY"),
        ({**PROD, "REDIS_KEY_PREFIX": "hotel:prod"}, "REDIS_KEY_PREFIX: letters and digits only"),
        ({**PROD, "RASA_URLS": "ftp://x:1"}, "RASA_URLS: expected comma-separated http(s) URLs"),
        ({**PROD, "RASA_URLS": "http://x:1,http://x:1"}, "RASA_URLS: a URL is listed twice"),
        ({**PROD, "ACTION_SERVER_URL": "http://localhost:5006"}, "replica port 5006 is also used by RASA_URL"),
        ({**PROD, "OPS_PORT": "5056"}, "replica port 5056 is also used by OPS_PORT"),
        ({**PROD, "RASA_URL": "http://localhost:65535"}, "above 65535"),
    ],
)
def test_bad_layouts_are_refused_with_a_message_naming_the_variable(env, message):
    with pytest.raises(SettingsError) as error:
        load_settings(env)
    assert message in str(error.value)
    assert "pw@" not in str(error.value), "the message leaked a password"


def test_prod_refusal_lists_every_problem_at_once():
    with pytest.raises(SettingsError) as error:
        load_settings({"PROFILE": "prod"})
    text = str(error.value)
    assert "DATABASE_URL" in text and "TRACKER_STORE_URL" in text and "REDIS_URL" in text
    assert ".env.prod.example" in text


def test_env_prod_example_is_a_valid_prod_configuration_without_secrets():
    values = parse_dotenv((REPO_ROOT / ".env.prod.example").read_text())
    settings = load_settings(values)
    assert settings.profile == "prod" and settings.rasa_replicas == 2 and settings.scheduler_processes == 2
    assert "CHANGE-ME" in settings.database_url and "TELEGRAM_BOT_TOKEN" not in values


def test_replica_urls_keep_scheme_host_and_path():
    assert replica_urls("https://rasa.internal/", 2) == ("https://rasa.internal:443", "https://rasa.internal:444")
    assert replica_urls("http://[::1]:5005", 2) == ("http://[::1]:5005", "http://[::1]:5006")


def test_secrets_are_not_in_the_repr():
    text = repr(load_settings({**PROD, "REDIS_URL": "redis://:redispw@r:6379/0", "RASA_TOKEN": "tok"}))
    assert "redispw" not in text and "tok'" not in text
