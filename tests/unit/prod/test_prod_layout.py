"""Process layout of each profile, the Rasa lock-store environment, processes.json writes, rendezvous hashing,
and the health checks each profile runs."""

from __future__ import annotations

import json
import threading
from collections import Counter
from pathlib import Path

import pytest
import yaml

from bot.health import build_checks
from bot.rasa_client import RasaClient, rendezvous_order
from bot.supervisor import (
    REPO,
    build_children,
    endpoints_file,
    lock_store_environment,
    rasa_environment,
    write_json_atomically,
)
from crm_store.db import make_engine
from crm_store.settings import load_settings

PROD = {
    "PROFILE": "prod",
    "DATABASE_URL": "postgresql://hotel@db/crm",
    "TRACKER_STORE_URL": "postgresql://hotel@db/trk",
    "REDIS_URL": "redis://lockuser:p%40ss@redis.internal:6380/2",
    "REDIS_KEY_PREFIX": "hotelA",
    "RASA_URL": "http://127.0.0.1:6005",
    "ACTION_SERVER_URL": "http://127.0.0.1:6055",
    "OPS_PORT": "6080",
    "RASA_TOKEN": "tok",
}


def test_prod_children_names_ports_and_their_action_servers(tmp_path: Path):
    settings = load_settings(PROD)
    children = build_children(settings, tmp_path)
    assert [c.name for c in children] == [
        "actions-1", "actions-2", "rasa-1", "rasa-2", "bot", "scheduler-1", "scheduler-2"]
    by_name = {c.name: c for c in children}
    assert [by_name[n].port for n in ("actions-1", "actions-2", "rasa-1", "rasa-2", "bot")] == [
        6055, 6056, 6005, 6006, 6080]
    assert by_name["rasa-1"].env["ACTION_ENDPOINT_URL"] == "http://127.0.0.1:6055/webhook"
    assert by_name["rasa-2"].env["ACTION_ENDPOINT_URL"] == "http://127.0.0.1:6056/webhook"
    rasa_argv = by_name["rasa-2"].argv
    assert rasa_argv[rasa_argv.index("--endpoints") + 1] == str(REPO / "endpoints-prod.yml")
    assert rasa_argv[rasa_argv.index("--port") + 1] == "6006"
    assert rasa_argv[rasa_argv.index("--interface") + 1] == "127.0.0.1"
    assert by_name["scheduler-2"].argv[-2:] == ["bot", "scheduler"]
    assert by_name["actions-2"].log_path == tmp_path / "actions-2.log"
    only = build_children(settings, tmp_path, ["bot", "scheduler"])
    assert [c.name for c in only] == ["bot", "scheduler-1", "scheduler-2"]
    with pytest.raises(ValueError, match="unknown role"):
        build_children(settings, tmp_path, ["gateway"])


def test_embedded_children_keep_their_names_and_endpoints(tmp_path: Path):
    settings = load_settings({})
    children = build_children(settings, tmp_path)
    assert [c.name for c in children] == ["actions", "rasa", "bot", "scheduler"]
    rasa = children[1]
    assert rasa.argv[rasa.argv.index("--endpoints") + 1] == str(REPO / "endpoints.yml")
    assert endpoints_file(settings) == REPO / "endpoints.yml"
    env = rasa_environment(settings, {})
    assert env["ACTION_ENDPOINT_URL"] == "http://localhost:5055/webhook"
    assert not any(key.startswith("LOCK_STORE_") for key in env)


def test_lock_store_environment_fills_every_variable_of_endpoints_prod():
    settings = load_settings(PROD)
    env = rasa_environment(settings, {})
    assert lock_store_environment(settings) == {
        "LOCK_STORE_HOST": "redis.internal", "LOCK_STORE_PORT": "6380", "LOCK_STORE_DB": "2",
        "LOCK_STORE_USERNAME": "lockuser", "LOCK_STORE_PASSWORD": "p@ss", "LOCK_STORE_KEY_PREFIX": "hotelA",
    }
    endpoints = (REPO / "endpoints-prod.yml").read_text()
    needed = {word[2:-1] for word in endpoints.split() if word.startswith("${")}
    assert needed <= set(env), f"unset in the Rasa environment: {needed - set(env)}"
    config = yaml.safe_load(endpoints)
    assert config["lock_store"]["type"] == "redis" and config["tracker_store"]["type"] == "SQL"
    bare = lock_store_environment(load_settings({**PROD, "REDIS_URL": "redis://localhost"}))
    assert (bare["LOCK_STORE_PORT"], bare["LOCK_STORE_DB"], bare["LOCK_STORE_PASSWORD"]) == ("6379", "0", "")


def test_processes_json_is_replaced_atomically(tmp_path: Path):
    path = tmp_path / "run" / "processes.json"
    stop = threading.Event()
    seen: list[int] = []

    def reader() -> None:
        while not stop.is_set():
            if path.exists():
                seen.append(len(json.loads(path.read_text())["children"]))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for n in range(300):
            write_json_atomically(path, {"profile": "prod", "children": [{"n": i} for i in range(n % 7 + 1)] * 50})
    finally:
        stop.set()
        thread.join()
    assert seen and all(count % 50 == 0 for count in seen)
    assert [p.name for p in path.parent.iterdir()] == ["processes.json"], "a temporary file was left behind"


def test_rendezvous_is_stable_balanced_and_moves_only_the_lost_replicas_conversations():
    replicas = [f"http://10.0.0.{i}:5005" for i in range(1, 5)]
    senders = [f"tg:{n}" for n in range(4000)]
    first = {s: rendezvous_order(replicas, s)[0] for s in senders}
    assert first == {s: rendezvous_order(list(reversed(replicas)), s)[0] for s in senders}, "order-dependent"
    counts = Counter(first.values())
    assert min(counts.values()) > 850 and max(counts.values()) < 1150, counts
    survivors = replicas[1:]
    for sender in senders:
        after = rendezvous_order(survivors, sender)[0]
        if first[sender] != replicas[0]:
            assert after == first[sender], "a conversation moved although its replica stayed"
        else:
            assert after == rendezvous_order(replicas, sender)[1], "not moved to its own next choice"


def test_client_accepts_one_url_or_several():
    assert RasaClient("http://a:1/").replicas == ("http://a:1",)
    assert RasaClient(["http://a:1", "http://b:2/", "http://a:1"]).replicas == ("http://a:1", "http://b:2")
    with pytest.raises(ValueError):
        RasaClient([])


def test_health_checks_name_every_replica_and_redis_in_prod(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path}/x.db")
    prod = load_settings(PROD)
    client = RasaClient(prod.rasa_client_urls)
    checks = build_checks(prod, client, engine, engine)
    assert len(checks) == 2 + 2 + 2 + 1
    embedded = load_settings({})
    assert len(build_checks(embedded, RasaClient(embedded.rasa_client_urls), engine, engine)) == 4
    engine.dispose()
