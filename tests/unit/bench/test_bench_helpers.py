"""The benchmark's pure helpers: percentiles, rate windows, the summary line, RSS sampling of a real child."""

from __future__ import annotations

import math
import subprocess
import sys
import time

import pytest

from scripts.benchlib.guests import SCRIPTS, keyboard_button, payload_of
from scripts.benchlib.profile import StageTimes, _turn_events, rest_stages
from scripts.benchlib.guests import TurnResult
from scripts.benchlib.rss import RssSampler, descendants, memory_kb, parent_of
from scripts.benchlib.stats import LatencySummary, max_in_window, percentile, ratio, sustained_rate, summary_line


def test_percentile_is_nearest_rank():
    values = list(range(1, 101))  # 1..100
    assert percentile(values, 50) == 50
    assert percentile(values, 95) == 95
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([7.0], 99) == 7.0
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_latency_summary_counts_throughput_and_errors():
    summary = LatencySummary.of([0.1, 0.2, 0.3, 0.4], elapsed_s=2.0, errors=1)
    assert summary.count == 4
    assert summary.p50 == 0.2
    assert summary.max == 0.4
    assert summary.throughput == 2.0
    assert summary.errors == 1


def test_max_in_window_finds_the_densest_window():
    assert max_in_window([], 1.0) == 0
    assert max_in_window([0.0, 0.5, 0.99, 1.0, 1.5], 1.0) == 3  # [0, 1) holds 0, 0.5, 0.99
    assert max_in_window([0.0, 1.0, 2.0, 3.0], 1.0) == 1  # exactly 1/s never exceeds 1 per window
    burst = [i / 100 for i in range(40)]  # 40 messages within 0.4 s
    assert max_in_window(burst + [5.0], 1.0) == 40
    assert max_in_window([10.0, 0.0, 59.0, 61.0], 60.0) == 3  # unsorted input


def test_sustained_rate_and_ratio():
    assert sustained_rate([0.0, 1.0, 2.0, 3.0]) == pytest.approx(1.0)
    assert math.isnan(sustained_rate([1.0]))
    assert ratio(3.0, 2.0) == 1.5
    assert math.isnan(ratio(1.0, 0.0))
    assert math.isnan(ratio(math.nan, 1.0))


def test_summary_line_format_is_stable():
    line = summary_line(p95_ratio=2.345, throughput_ratio=0.5, followup_p99_s=0.0712, lost=0, duplicated=1,
                        rss_mb=2019.4)
    assert line == "bench: p95_ratio=2.35 throughput_ratio=0.50 followup_p99_s=0.071 lost=0 duplicated=1 rss_mb=2019"
    missing = summary_line(p95_ratio=math.nan, throughput_ratio=math.nan, followup_p99_s=math.nan, lost=0,
                           duplicated=0, rss_mb=math.nan)
    assert missing == "bench: p95_ratio=nan throughput_ratio=nan followup_p99_s=nan lost=0 duplicated=0 rss_mb=nan"


def test_rss_sampler_sees_a_child_that_allocates_memory():
    # The child allocates ~60 MB, reports, and waits; the sampler must find it under this process.
    code = ("import time; b = bytearray(60 * 1024 * 1024); b[::4096] = b'x' * len(b[::4096]); "
            "print('ok', flush=True); time.sleep(30)")
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ok"
        import os

        assert parent_of(child.pid) == os.getpid()
        assert child.pid in descendants(os.getpid())
        rss, hwm = memory_kb(child.pid)  # type: ignore[misc]
        assert rss >= 60 * 1024 and hwm >= rss
        sampler = RssSampler([os.getpid()], label=lambda argv: "child" if "-c" in argv else None, interval_s=0.05)
        sampler.start()
        time.sleep(0.3)
        sampler.stop()
        peaks = sampler.by_label()
        assert set(peaks) == {"child"}
        assert 60 <= peaks["child"] < 200
        assert sampler.samples >= 2
        assert sampler.total_peak_kb / 1024 >= 60
    finally:
        child.kill()
        child.wait()
    assert memory_kb(child.pid) is None


def test_button_lookup_in_rasa_replies_and_bot_api_messages():
    replies = [{"text": "Score?", "buttons": [{"title": "9", "payload": '/inform{"score":"9"}'}]}]
    assert payload_of(replies, "9") == '/inform{"score":"9"}'
    assert payload_of(replies, "10") is None
    message = {"reply_markup": {"inline_keyboard": [[{"text": "9", "callback_data": "cb:1"}]]}}
    assert keyboard_button(message, "9") == "cb:1"
    assert keyboard_button({"text": "no keyboard"}, "9") is None


def test_scripts_alternate_promoter_and_detractor_with_the_same_length():
    assert len(SCRIPTS) == 2 and len(SCRIPTS[0]) == len(SCRIPTS[1])
    assert sum(t.button for t in SCRIPTS[0]) == 5


def _events(t0: float) -> list[dict]:
    return [
        {"event": "action", "name": "action_session_start", "timestamp": t0 + 0.010},
        {"event": "session_started", "timestamp": t0 + 0.011},
        {"event": "action", "name": "action_listen", "timestamp": t0 + 0.012},
        {"event": "user", "text": "hi", "timestamp": t0 + 0.050},
        {"event": "action", "name": "action_greet_guest", "timestamp": t0 + 0.150},
        {"event": "bot", "text": "Hello", "timestamp": t0 + 0.151},
        {"event": "action", "name": "action_listen", "timestamp": t0 + 0.160},
        {"event": "user", "text": "bye", "timestamp": t0 + 1.050},
        {"event": "action", "name": "utter_goodbye", "timestamp": t0 + 1.080},
        {"event": "action", "name": "action_listen", "timestamp": t0 + 1.090},
    ]


def test_turn_events_split_per_user_message():
    turns = _turn_events(_events(100.0))
    assert len(turns) == 2
    before, user, actions = turns[0]
    assert [a["name"] for a in before] == ["action_session_start", "action_listen"]
    assert user["text"] == "hi"
    assert [a["name"] for a in actions] == ["action_greet_guest", "action_listen"]
    assert [a["name"] for a in turns[1][2]] == ["utter_goodbye", "action_listen"]


def test_rest_stages_add_up_to_the_measured_latency():
    t0 = 100.0
    turns = [
        TurnResult("rest", 1, "s-1", 0, sent_wall=t0, latency=0.200),
        TurnResult("rest", 1, "s-1", 1, sent_wall=t0 + 1.0, latency=0.100),
    ]
    stages = rest_stages(turns, {"s-1": _events(t0)}, custom={"action_greet_guest", "action_session_start"})
    assert stages.turns == 2
    assert stages.stages["session start"] == pytest.approx([0.012, 0.0])
    assert stages.stages["receive+NLU"] == pytest.approx([0.038, 0.050])
    assert stages.stages["custom actions"] == pytest.approx([0.100])
    assert stages.stages["save+reply"] == pytest.approx([0.040, 0.010])
    table = dict((name, value) for name, value, _ in stages.table(
        ("receive+NLU", "session start", "responses/policies", "custom actions", "save+reply")))
    assert sum(table.values()) == pytest.approx(1000 * (0.200 + 0.100) / 2)
    assert isinstance(stages, StageTimes)


async def test_recording_bot_api_timestamps_sends_and_wakes_waiters():
    import asyncio

    import aiohttp

    from scripts.benchlib.fakeapi import RecordingBotApi

    api = RecordingBotApi()
    await api.start()
    try:
        waiter = asyncio.create_task(api.wait_count(42, 2, timeout=5))
        async with aiohttp.ClientSession() as session:
            for text in ("one", "two"):
                async with session.post(f"{api.url}/bot{api.token}/sendMessage",
                                        data={"chat_id": "42", "text": text}) as resp:
                    assert resp.status == 200
            empty = {"chat_id": "42", "text": ""}
            async with session.post(f"{api.url}/bot{api.token}/sendMessage", data=empty) as resp:
                assert resp.status == 400
        assert await waiter is True
        assert [m["text"] for _, m in api.by_chat[42]] == ["one", "two"]
        assert [s.status for s in api.sends] == [200, 200, 400]
        assert api.sends[0].mono <= api.sends[1].mono
        assert await api.wait_count(42, 3, timeout=0.2) is False
    finally:
        await api.stop()


def test_rasa_profile_groups_self_time_by_component(tmp_path):
    import cProfile
    import json as json_module

    from scripts.benchlib.rasaprof import bucket_of, summarise

    assert bucket_of("/x/site-packages/jsonschema/validators.py", "iter_errors").startswith("jsonschema")
    assert bucket_of("~", "<built-in method tensorflow.python._pywrap_tfe.TFE_Py_Execute>").startswith("TensorFlow")
    assert bucket_of("/x/site-packages/rasa/core/tracker_store.py", "retrieve").startswith("SQL tracker store")
    assert bucket_of("~", "<method 'poll' of 'select.epoll' objects>") == "event loop idle (epoll)"
    assert bucket_of("/x/mine.py", "f") == "other Python"

    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(200):
        json_module.loads(json_module.dumps({"a": list(range(50))}))
    profiler.disable()
    out = tmp_path / "p.prof"
    profiler.dump_stats(str(out))
    profile = summarise(out, messages=200)
    assert profile.messages == 200
    assert profile.busy_s > 0
    assert sum(seconds for _, seconds in profile.buckets) == pytest.approx(profile.busy_s)
    assert "JSON encoding and decoding" in dict(profile.buckets)
