"""Split each measured turn into stages from Rasa's own tracker event timestamps.

Rasa stamps every event with the wall clock when it creates it: the UserUttered event after the tracker was
loaded (and the session started, on a first message) and NLU ran; each ActionExecuted after the policies
predicted the action and it ran (for a custom action or a form, that includes the call to the action server
and its CRM work). With the client's send and receive times (same machine, same clock) a turn splits into:

- ``receive+NLU``: request in, tracker load, NLU (from sending to the UserUttered event);
- ``session start``: ``action_session_start`` on a guest's first message (action server);
- ``responses/policies``: steps ending in a response or built-in action (prediction + templating);
- ``custom actions``: steps ending in a custom action or form (prediction + action server + CRM);
- ``save+reply``: from the last action to the answer (tracker save, HTTP out).
"""

from __future__ import annotations

import asyncio
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from scripts.benchlib.guests import TurnResult

STAGES = ("receive+NLU", "session start", "responses/policies", "custom actions", "save+reply")
TG_STAGES = ("update handed to gateway", "gateway + receive+NLU", "session start", "responses/policies",
             "custom actions", "save + gateway send")


def domain_actions(domain_dir: Path) -> set[str]:
    """Return the custom actions and forms declared in the domain (they run on, or call, the action server)."""
    names: set[str] = set()
    for path in sorted(domain_dir.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        names.update(str(a) for a in data.get("actions") or [] if not str(a).startswith("utter_"))
        names.update(str(f) for f in (data.get("forms") or {}))
    return names


async def fetch_trackers(base_url: str, senders: Iterable[str], token: str = "") -> dict[str, list[dict[str, Any]]]:
    """Return the events of each conversation, from Rasa's HTTP API."""
    params = {"token": token} if token else {}
    out: dict[str, list[dict[str, Any]]] = {}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        for sender in senders:
            async with session.get(f"{base_url.rstrip('/')}/conversations/{sender}/tracker",
                                   params={**params, "include_events": "ALL"}) as resp:
                if resp.status == 200:
                    out[sender] = list((await resp.json()).get("events") or [])
    return out


@dataclass
class StageTimes:
    """Per-stage seconds of many turns, and the seconds spent in each named action step."""

    stages: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    actions: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    after_button: list[float] = field(default_factory=list)  # last stage of button turns (Telegram)
    after_text: list[float] = field(default_factory=list)  # last stage of typed turns (Telegram)
    turns: int = 0
    total: list[float] = field(default_factory=list)

    def mean_ms(self, stage: str) -> float:
        """Return the stage's mean per turn in ms (turns without the stage count as 0)."""
        return 1000 * sum(self.stages.get(stage, [])) / self.turns if self.turns else float("nan")

    def table(self, names: tuple[str, ...]) -> list[tuple[str, float, float]]:
        """Return (stage, mean ms per turn, share of the total) rows."""
        total = sum(self.mean_ms(n) for n in names)
        return [(n, self.mean_ms(n), (self.mean_ms(n) / total if total else float("nan"))) for n in names]

    def top_actions(self, n: int = 6) -> list[tuple[str, float, int]]:
        """Return the n steps costing most in total: (action, median ms, count)."""
        ranked = sorted(self.actions.items(), key=lambda kv: -sum(kv[1]))
        return [(name, 1000 * statistics.median(v), len(v)) for name, v in ranked[:n]]


Event = dict[str, Any]


def _turn_events(events: list[Event]) -> list[tuple[list[Event], Event, list[Event]]]:
    """Split events into (events before the user message, the user event, action events after it) per turn."""
    turns = []
    before: list[dict[str, Any]] = []
    current: tuple[list[dict[str, Any]], dict[str, Any], list[dict[str, Any]]] | None = None
    for event in events:
        kind = event.get("event")
        if kind == "user":
            if current is not None:
                turns.append(current)
            current = (before, event, [])
            before = []
        elif kind == "action":
            if current is not None and not (current[2] and current[2][-1].get("name") == "action_listen"):
                current[2].append(event)
            else:
                before.append(event)
    if current is not None:
        turns.append(current)
    return turns


def _split(start: float, end: float, pre: list[dict[str, Any]], user: dict[str, Any],
           actions: list[dict[str, Any]], custom: set[str], into: StageTimes, first_stage: str,
           last_stage: str) -> bool:
    """Add one turn's stages to ``into``; False when the timestamps do not fit the turn."""
    user_ts = float(user["timestamp"])
    if not actions or not start - 0.5 <= user_ts <= end + 0.5:
        return False
    pre_in_turn = [float(a["timestamp"]) for a in pre if start - 0.05 <= float(a["timestamp"]) <= user_ts]
    session_end = max(pre_in_turn) if pre_in_turn else start
    into.stages["session start"].append(max(0.0, session_end - start))
    into.stages[first_stage].append(max(0.0, user_ts - session_end))
    previous = user_ts
    for action in actions:
        ts = float(action["timestamp"])
        name = str(action.get("name"))
        step = max(0.0, ts - previous)
        into.stages["custom actions" if name in custom else "responses/policies"].append(step)
        into.actions[name].append(step)
        previous = ts
    into.stages[last_stage].append(max(0.0, end - previous))
    into.total.append(end - start)
    into.turns += 1
    return True


def rest_stages(turns: list[TurnResult], trackers: dict[str, list[dict[str, Any]]], custom: set[str]) -> StageTimes:
    """Split answered REST turns into stages (turns are matched to user events in order, per sender)."""
    out = StageTimes()
    by_sender: dict[str, list[TurnResult]] = defaultdict(list)
    for turn in turns:
        by_sender[turn.sender].append(turn)
    for sender, sent in by_sender.items():
        split = _turn_events(trackers.get(sender, []))
        for turn, (pre, user, actions) in zip(sorted(sent, key=lambda t: t.turn), split):
            if turn.latency is None or turn.error is not None:
                continue
            _split(turn.sent_wall, turn.sent_wall + turn.latency, pre, user, actions, custom, out,
                   "receive+NLU", "save+reply")
    return out


def telegram_stages(turn_updates: list[tuple[TurnResult, int, float]], handed_at: dict[int, float],
                    trackers: dict[str, list[dict[str, Any]]], custom: set[str]) -> StageTimes:
    """Split Telegram turns: update handed to the gateway, gateway + Rasa stages, save + gateway send."""
    out = StageTimes()
    by_sender: dict[str, list[tuple[TurnResult, int, float]]] = defaultdict(list)
    for item in turn_updates:
        by_sender[item[0].sender].append(item)
    for sender, items in by_sender.items():
        split = _turn_events(trackers.get(sender, []))
        for (turn, update_id, injected), (pre, user, actions) in zip(sorted(items, key=lambda i: i[0].turn), split):
            handed = handed_at.get(update_id)
            if turn.latency is None or turn.error is not None or handed is None:
                continue
            start_wall = turn.sent_wall + (handed - injected)
            if _split(start_wall, turn.sent_wall + turn.latency, pre, user, actions, custom, out,
                      "gateway + receive+NLU", "save + gateway send"):
                out.stages["update handed to gateway"].append(handed - injected)
                out.total[-1] += handed - injected
                last = out.stages["save + gateway send"][-1]
                (out.after_button if turn.button else out.after_text).append(last)
    return out


async def parse_times(base_url: str, texts: list[str], token: str = "", repeat: int = 3) -> list[float]:
    """Time Rasa's NLU alone (POST /model/parse), one request at a time; return seconds per call."""
    params = {"token": token} if token else {}
    times: list[float] = []
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        for _ in range(repeat):
            for text in texts:
                started = loop.time()
                async with session.post(f"{base_url.rstrip('/')}/model/parse", json={"text": text},
                                        params=params) as resp:
                    await resp.read()
                    if resp.status == 200:
                        times.append(loop.time() - started)
    return times


async def conversation_state(base_url: str, sender: str, token: str = "") -> tuple[dict[str, Any], dict[str, Any]]:
    """Return (tracker, domain) as Rasa sends them to the action server, for ``sender``'s conversation."""
    params = {"token": token} if token else {}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        async with session.get(f"{base_url.rstrip('/')}/conversations/{sender}/tracker", params=params) as resp:
            tracker = await resp.json()
        async with session.get(f"{base_url.rstrip('/')}/domain", params=params,
                               headers={"Accept": "application/json"}) as resp:
            domain = await resp.json()
    return tracker, domain


async def action_server_times(action_url: str, tracker: dict[str, Any], domain: dict[str, Any],
                              actions: list[str], repeat: int = 10) -> dict[str, float]:
    """Call the action server's webhook directly, one request at a time; return the median seconds per action.

    The payload is what Rasa sends (the conversation's tracker and the domain). An action the server does not
    know measures the HTTP and payload handling alone (404); read-only actions add their CRM reads.
    """
    out: dict[str, float] = {}
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        for name in actions:
            times = []
            for _ in range(repeat):
                body = {"next_action": name, "sender_id": tracker.get("sender_id"), "tracker": tracker,
                        "domain": domain, "version": "3.6.21"}
                started = loop.time()
                async with session.post(f"{action_url.rstrip('/')}/webhook", json=body) as resp:
                    await resp.read()
                    ok = resp.status in (200, 404)  # 404: the action server knows no such action
                if ok:
                    times.append(loop.time() - started)
            if times:
                out[name] = statistics.median(times)
    return out
