"""The real production profile end to end: `python -m bot run` with PROFILE=prod starts two Rasa replicas, two
action servers, the bot process and two schedulers on free ports, with the CRM and the tracker store in fresh
PostgreSQL databases and the Rasa lock store in Redis (unique key prefix). Guests talk through the spreading
Rasa client; both replicas serve conversations; rasa-1 is SIGKILLed mid-conversation and the conversations
carry on at rasa-2 (shared tracker store), while the supervisor brings rasa-1 back."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from bot.rasa_client import RasaClient
from bot.supervisor import REPO
from crm_store import model
from crm_store.settings import load_settings

from .domain_text import names_of

pytestmark = pytest.mark.e2e

PG_ADMIN_URL = os.environ.get("CRM_TEST_PG_URL", "postgresql+psycopg2://postgres@localhost:5432/postgres")
REDIS_URL = os.environ.get("PROD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
READY_TIMEOUT_S = 420
NAMES = ["Anna", "Bruno", "Carla", "Dario", "Elena", "Fabio", "Giulia", "Hugo"]
CHILDREN = ["actions-1", "actions-2", "rasa-1", "rasa-2", "bot", "scheduler-1", "scheduler-2"]


def _free_block(count: int) -> int:
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        socks = []
        try:
            for port in range(base, base + count):
                sock = socket.socket()
                sock.bind(("127.0.0.1", port))
                socks.append(sock)
            return base
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
    raise RuntimeError("no free ports")


def _status(url: str) -> int | None:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return None


async def _until(predicate, timeout: float, what: str, logs) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if await asyncio.to_thread(predicate):
            return time.monotonic() - started
        await asyncio.sleep(0.5)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\n{logs()}")


@pytest.fixture
def databases():
    """Create fresh CRM and tracker databases on the local PostgreSQL; drop them afterwards."""
    admin = create_engine(PG_ADMIN_URL, future=True, isolation_level="AUTOCOMMIT")
    tag = uuid.uuid4().hex[:10]
    names = [f"e2e_prod_crm_{tag}", f"e2e_prod_trk_{tag}"]
    try:
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as error:
        admin.dispose()
        pytest.fail(f"PostgreSQL unreachable at {PG_ADMIN_URL}: {error.orig}")
    urls = [make_url(PG_ADMIN_URL).set(database=n).render_as_string(hide_password=False) for n in names]
    try:
        yield urls
    finally:
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def lock_prefix():
    """Yield a unique Redis key prefix; delete its keys afterwards."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=3)
    client.ping()
    prefix = f"e2e{uuid.uuid4().hex[:12]}"
    try:
        yield prefix
    finally:
        for key in client.scan_iter(f"{prefix}:*"):
            client.delete(key)
        client.close()


async def test_prod_profile_spreads_guests_over_two_replicas_and_survives_killing_one(
    databases, lock_prefix, tmp_path: Path
):
    if not (REPO / "models" / "hotel.tar.gz").exists():
        pytest.fail("no trained model: run `make train` (make test does it for you)")
    crm_url, tracker_url = databases
    rasa_base, action_base, ops = _free_block(2), _free_block(2), _free_block(1)
    env_vars = {
        "PROFILE": "prod",
        "DATABASE_URL": crm_url,
        "TRACKER_STORE_URL": tracker_url,
        "REDIS_URL": REDIS_URL,
        "REDIS_KEY_PREFIX": lock_prefix,
        "RASA_URL": f"http://127.0.0.1:{rasa_base}",
        "ACTION_SERVER_URL": f"http://127.0.0.1:{action_base}",
        "OPS_PORT": str(ops),
        "RASA_TOKEN": "e2e-prod-token",
        "VAR_DIR": str(tmp_path / "var"),
        "POLICY_FILE": str(REPO / "examples" / "policy-fast.yml"),
        "QUIET_HOURS": "",
        "REVIEW_LINK": "",
        "RASA_URLS": "", "RASA_REPLICAS": "", "ACTION_SERVER_REPLICAS": "", "SCHEDULER_STANDBY": "",
        "TELEGRAM_BOT_TOKEN": "", "STAFF_CHAT_ID": "", "STAFF_USER_IDS": "",
    }
    settings = load_settings(env_vars)
    env = {**os.environ, **env_vars, "PYTHONPATH": str(REPO), "RASA_TELEMETRY_ENABLED": "false",
           "SQLALCHEMY_SILENCE_UBER_WARNING": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    out_path = tmp_path / "supervisor.out"
    state_path = tmp_path / "var" / "run" / "processes.json"
    log_dir = tmp_path / "var" / "log"
    health = f"http://127.0.0.1:{ops}/health"

    def logs() -> str:
        parts = [f"--- supervisor\n{out_path.read_text(errors='replace')[-3000:]}"] if out_path.exists() else []
        for path in sorted(log_dir.glob("*.log")):
            parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-1500:]}")
        return "\n".join(parts)

    def children() -> dict[str, dict]:
        return {c["name"]: c for c in json.loads(state_path.read_text())["children"]}

    started = time.monotonic()
    with open(out_path, "ab") as out:
        supervisor = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=REPO, env=env, stdout=out,
                                      stderr=subprocess.STDOUT, start_new_session=True)
    crm = create_engine(crm_url, future=True)
    tracker = create_engine(tracker_url, future=True)
    try:
        await _until(lambda: _status(health) == 200, READY_TIMEOUT_S, "the prod stack to be healthy", logs)
        print(f"\nprod stack ready in {time.monotonic() - started:.0f} s")
        assert list(children()) == CHILDREN
        print("RSS after start: " + ", ".join(f"{n} {_rss_mb(c['pid'])} MB" for n, c in children().items()))
        # The supervisor probes every second, so it may note "running" a moment after /health turns green.
        await _until(lambda: json.loads(state_path.read_text())["state"] == "running", 10,
                     "the supervisor to record the running state", logs)
        replica_1, replica_2 = settings.local_rasa_urls

        async with RasaClient(settings.rasa_client_urls, settings.rasa_token, timeout_s=90) as client:
            # Four guests on each replica (rendezvous hashing decides which).
            on: dict[str, list[str]] = {replica_1: [], replica_2: []}
            for n in range(200):
                sender = f"cli:prod-{n}"
                chosen = on[client.replica_for(sender)]
                if len(chosen) < 4:
                    chosen.append(sender)
            guests = on[replica_1] + on[replica_2]
            name_of = dict(zip(guests, NAMES))

            async def introduce(sender: str) -> None:
                assert names_of(await client.send_message(sender, "hi there")) == ["utter_greet_new"]
                assert names_of(await client.send_message(sender, f"my name is {name_of[sender]}")) == [
                    "utter_nice_to_meet_you"]
                assert names_of(await client.send_message(sender, "I'd like a room on a high floor")) == [
                    "utter_preference_saved"]

            await asyncio.gather(*(introduce(s) for s in guests))
            assert client.served[replica_1] == 12 and client.served[replica_2] == 12, dict(client.served)
            assert client.failovers == 0

            # A complaint starts on rasa-1 and is finished after rasa-1 is gone.
            victim = on[replica_1][0]
            assert names_of(await client.send_message(victim, "the shower in my room is broken")) == [
                "utter_ask_room_number"]
            rasa_1 = children()["rasa-1"]
            os.kill(rasa_1["pid"], signal.SIGKILL)
            killed_at = time.monotonic()

            replies = await client.send_message(victim, "room 412")
            assert names_of(replies)[0] == "utter_complaint_logged", replies
            assert client.failovers == 1
            for sender in on[replica_1]:
                replies = await client.send_message(sender, "what do you know about me?")
                assert names_of(replies) == ["utter_profile_list"], replies
                assert "floor: high" in replies[0]["text"]
            assert client.served[replica_2] == 12 + 1 + 4, "the kill did not move rasa-1's guests to rasa-2"
            assert _status(health) == 503

            await _until(lambda: children()["rasa-1"]["restarts"] == 1, 30, "the supervisor to restart rasa-1", logs)
            restarted = children()["rasa-1"]
            assert restarted["pid"] != rasa_1["pid"]
            # While rasa-1 loads its model it refuses connections: its guests are answered by rasa-2 at once.
            await asyncio.sleep(5.5)  # past the client's cool-down, so rasa-1 is tried first again
            if _status(f"{replica_1}/") is None:
                print("rasa-1 is loading: its guest goes to rasa-2")
                t0 = time.monotonic()
                assert names_of(await client.send_message(on[replica_1][1], "thank you")) != []
                assert time.monotonic() - t0 < 15, "a loading replica stalled the conversation"
                assert client.served[replica_2] == 12 + 1 + 4 + 1
            assert "rasa-1 (pid" in out_path.read_text() and "killed by SIGKILL" in out_path.read_text()
            back_s = await _until(lambda: _status(health) == 200, 300, "rasa-1 to serve again", logs)
            print(f"rasa-1 killed; serving again {time.monotonic() - killed_at:.0f} s later "
                  f"(health green after {back_s:.0f} s more)")
            await asyncio.sleep(5.5)  # the client's cool-down for a failed replica
            before = client.served[replica_1]
            for sender in on[replica_1]:
                assert names_of(await client.send_message(sender, "thanks")) != []
            assert client.served[replica_1] == before + 4, "rasa-1 did not get its conversations back"

        # Rows in PostgreSQL: every guest's name and preference; the complaint; the tracker for everyone.
        with crm.connect() as conn:
            named = dict(conn.execute(
                select(model.ChannelIdentity.external_id, model.Guest.first_name)
                .join(model.Guest, model.Guest.id == model.ChannelIdentity.guest_id)).all())
            assert {f"cli:{k}": v for k, v in named.items() if f"cli:{k}" in name_of} == name_of
            floors = conn.execute(select(func.count()).select_from(model.Preference).where(
                model.Preference.category == "floor", model.Preference.value == "high")).scalar_one()
            assert floors == len(guests)
            [complaint] = conn.execute(select(model.Complaint)).all()
            assert complaint.room == "412"
        with tracker.connect() as conn:
            senders = {r[0] for r in conn.execute(text("SELECT DISTINCT sender_id FROM events")).all()}
        assert set(guests) <= senders

        # Exactly one scheduler dispatched; the complaint's staff alerts went out once each.
        await _until(lambda: _staff_alerts(crm, complaint.reference) >= 2, 60, "the staff alerts", logs)
        with crm.connect() as conn:
            bodies = [r[0] for r in conn.execute(
                select(model.OutboundMessage.body).where(model.OutboundMessage.channel == "staff")).all()]
        keys = Counter((b["reference"], b.get("event"), b.get("rung"), b.get("level")) for b in bodies)
        assert keys and set(keys.values()) == {1}, f"a staff alert was sent twice: {keys}"
        active = [n for n in ("scheduler-1", "scheduler-2")
                  if "now the active dispatcher" in (log_dir / f"{n}.log").read_text()]
        assert len(active) == 1, active
        print("RSS after the conversations: "
              + ", ".join(f"{n} {_rss_mb(c['pid'])} MB" for n, c in children().items()))
    finally:
        crm.dispose()
        tracker.dispose()
        if supervisor.poll() is None:
            supervisor.send_signal(signal.SIGTERM)
            try:
                supervisor.wait(timeout=60)
            except subprocess.TimeoutExpired:
                supervisor.kill()
                supervisor.wait()
    assert supervisor.returncode == 0, logs()
    final = json.loads(state_path.read_text())
    assert final["state"] == "stopped"
    for child in final["children"]:
        assert not Path(f"/proc/{child['pid']}").exists() or _zombie(child["pid"]), f"{child['name']} still runs"


def _rss_mb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 0


def _staff_alerts(engine, reference: str) -> int:
    with engine.connect() as conn:
        bodies = [r[0] for r in conn.execute(
            select(model.OutboundMessage.body).where(model.OutboundMessage.channel == "staff")).all()]
    return sum(1 for b in bodies if b.get("reference") == reference)


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rfind(")") + 2:].split()[0] == "Z"
