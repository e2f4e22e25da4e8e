"""`make bench`: load our whole stack with simulated guests, compare with a bare Rasa bot, and write the figures.

    .venv/bin/python scripts/bench.py             # full run (1, 20 and 50 guests), writes docs/benchmarks.md
    .venv/bin/python scripts/bench.py --quick     # smoke run: small levels, prints only
    PROFILE=prod .venv/bin/python scripts/bench.py

Phases: (1) our stack via `python -m bot run` on free ports with fresh databases (start to /health 200),
guests through the Telegram gateway (Bot API stand-in) and Rasa's REST channel at each level, per-stage
profile, peak RSS of every process; (2) outbound: a bot process empties a full outbox to the stand-in,
checked against Telegram's limits; (3) the `rasa init` sample bot, loaded the same way over REST; (4) the
scheduler with 10,000 follow-ups due within a minute (SQLite, and PostgreSQL when reachable); (5) the
report. The last line printed is the tracked summary.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bot.telegram import texts as t  # noqa: E402
from bot.telegram.texts import load_texts  # noqa: E402
from scripts import bench_scheduler  # noqa: E402
from scripts.benchlib import logscan, pg  # noqa: E402
from scripts.benchlib.fakeapi import RecordingBotApi  # noqa: E402
from scripts.benchlib.guests import SCRIPTS, RestGuests, TelegramGuests, Think, fill, run_level  # noqa: E402
from scripts.benchlib.machine import CpuSnapshot, describe  # noqa: E402
from scripts.benchlib.outbound import run_outbound  # noqa: E402
from scripts.benchlib.profile import (  # noqa: E402
    action_server_times,
    conversation_state,
    domain_actions,
    fetch_trackers,
    parse_times,
    rest_stages,
    telegram_stages,
)
from scripts.benchlib.rasaprof import (  # noqa: E402
    RasaProfile,
    profiler_off,
    profiler_on,
    start_profiled_rasa,
    summarise,
)
from scripts.benchlib.report import console, markdown  # noqa: E402
from scripts.benchlib.results import Level, Run  # noqa: E402
from scripts.benchlib.rss import RssSampler  # noqa: E402
from scripts.benchlib.stack import (  # noqa: E402
    Managed,
    generate_bare_bot,
    role_of,
    stack_env,
    start_bare_bot,
    start_our_stack,
)
from scripts.benchlib.stats import percentile, summary_line  # noqa: E402

FULL = {"levels": [1, 20, 50], "turns": {1: 52, 20: 260, 50: 650}, "followups": 10_000, "spread": 60.0,
        "lead": 5.0, "outbound": (1000, 200, 40), "profile": (5, 130)}
QUICK = {"levels": [1, 5], "turns": {1: 26, 5: 65}, "followups": 1000, "spread": 10.0, "lead": 3.0,
         "outbound": (100, 20, 25), "profile": (2, 26)}
PROFILED_LEVELS = 2  # stage profile at the first two levels (1 and 20 guests)
NO_ACTION = "action_bench_no_such_action"  # the action server answers 404: HTTP and payload handling alone
DIRECT_ACTIONS = ["action_session_start", "action_greet_guest", "action_list_profile"]  # read-only


def say(message: str) -> None:
    """Print a progress line at once."""
    print(message, flush=True)


class CpuPerMessage:
    """Record the CPU time each process of a tree spent per answered message during a load level."""

    def __init__(self, run: Run, key: str, sampler: RssSampler | None) -> None:
        """Name the level; ``result`` must be set to its LevelResult inside the block."""
        self.run, self.key, self.sampler = run, key, sampler
        self.result = None

    def __enter__(self) -> CpuPerMessage:
        """Read the CPU counters."""
        self.before = self.sampler.cpu_by_label() if self.sampler else {}
        return self

    def __exit__(self, *exc: object) -> None:
        """Store CPU ms per answered message, per process."""
        if self.sampler is None or self.result is None:
            return
        after = self.sampler.cpu_by_label()
        answered = max(1, len(self.result.latencies))
        self.run.cpu_ms[self.key] = {name: 1000 * (after[name] - self.before.get(name, 0.0)) / answered
                                     for name in after if name in self.before}


class Phase:
    """Time a phase and record the CPU the machine and the others spent meanwhile."""

    def __init__(self, run: Run, name: str) -> None:
        """Name the phase."""
        self.run, self.name = run, name

    def __enter__(self) -> Phase:
        """Start the clock."""
        load = os.getloadavg()
        self.load = f"{load[0]:.2f}"
        self.snapshot = CpuSnapshot.take()
        say(f"-- {self.name} (load average {self.load})")
        return self

    def __exit__(self, *exc: object) -> None:
        """Record the phase."""
        end = CpuSnapshot.take()
        total, others = end.since(self.snapshot)
        self.run.phases.append((self.name, end.at - self.snapshot.at, total, others, self.load))


async def calibrate(rasa_urls: list[str]) -> dict[tuple[int, int], int]:
    """Play each script once over REST and return how many replies each message gets."""
    rest = RestGuests(rasa_urls, "calibration", lambda: 0, prefix="bench-calibration-")
    results = []
    try:
        for number, script in enumerate(SCRIPTS):
            await rest.play(number, script, results, Think(0.0, 0.0))
    finally:
        await rest.close()
    expected = {}
    for result in results:
        script_no = int(result.sender.rsplit("-", 1)[1]) % len(SCRIPTS)
        expected[(script_no, result.turn)] = result.replies
    missing = [k for k, v in expected.items() if v == 0]
    if missing or len(expected) != sum(len(s) for s in SCRIPTS):
        raise RuntimeError(f"calibration conversation got no answer to messages {missing}; is the model right?")
    return expected


async def start_bare(run: Run, work: Path, bare_dir: Path | None) -> tuple[Managed, str, RssSampler]:
    """Generate the `rasa init` sample bot (unless given), serve it, and warm it up."""
    directory = bare_dir or work / "bare"
    models = directory / "models"
    if not (models.exists() and list(models.glob("*.tar.gz"))):
        with Phase(run, "bare bot: rasa init (generate + train)"):
            run.ready["bare: `rasa init --no-prompt` (generate and train the sample)"] = await generate_bare_bot(
                directory, work / "bare-init.log")
    sampler = RssSampler([], label=lambda argv: "rasa (bare)" if argv else None).start()
    with Phase(run, "bare bot: start"):
        managed, url = await start_bare_bot(directory, work / "bare-run.log", sampler)
        run.ready["bare: `rasa run --enable-api` to model loaded"] = managed.ready_s or math.nan
    say(f"   bare bot ready in {managed.ready_s:.1f} s")
    warm = RestGuests(url, "bare", lambda: 0, prefix="bare-warm-")
    try:
        for number, script in enumerate(SCRIPTS):
            await warm.play(number, script, [], Think(0.0, 0.0))
    finally:
        await warm.close()
    return managed, url, sampler


async def phase_conversations(run: Run, cfg: dict, work: Path, bare_dir: Path | None, with_bare: bool) -> None:
    """Start the bare bot and our stack; at each level run Telegram (ours), REST (ours), REST (bare) back to back.

    Running the compared loads back to back (rather than one stack after the other) keeps the machine's
    load, which other work on a shared machine changes minute by minute, as alike as possible for the ratio.
    """
    bare: Managed | None = None
    bare_url = ""
    bare_sampler: RssSampler | None = None
    api = RecordingBotApi()
    await api.start()
    databases: list[str] = []
    sampler = RssSampler([], label=role_of).start()
    stack = None
    try:
        if with_bare:
            bare, bare_url, bare_sampler = await start_bare(run, work, bare_dir)
        database_url = tracker_url = redis_url = ""
        if run.profile == "prod":
            if not pg.available():
                raise RuntimeError("PROFILE=prod needs PostgreSQL on 127.0.0.1:5432")
            crm_name, database_url = pg.create("bench_crm")
            databases.append(crm_name)
            tracker_name, tracker_url = pg.create("bench_tracker")
            databases.append(tracker_name)
            redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
        env_vars = stack_env(work / "ours", profile=run.profile, telegram_url=api.url, telegram_token=api.token,
                             database_url=database_url, tracker_url=tracker_url, redis_url=redis_url)
        with Phase(run, "our stack: start"):
            stack = await start_our_stack(work / "ours", env_vars, sampler)
            run.ready["ours: `python -m bot run` to /health 200"] = stack.managed.ready_s or math.nan
            deadline = time.monotonic() + 60
            while not api.calls_of("getUpdates") and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            run.ready["ours: to the gateway polling the Bot API"] = time.monotonic() - stack.managed.started
        say(f"   our stack ready in {stack.managed.ready_s:.1f} s")
        custom = domain_actions(REPO / "domain")
        gw_texts = load_texts()
        fallback = {gw_texts.text(t.RECEIVED_LATER), gw_texts.text(t.NO_ANSWER)}
        with Phase(run, "our stack: calibration and warm-up"):
            expected = await calibrate(stack.rasa_urls)
            warm = TelegramGuests(api, lambda: 0, expected, fallback, first_chat=900_000)
            results: list = []
            for number, script in enumerate(SCRIPTS):
                await warm.play(number, script, results, Think(0.0, 0.0))
            bad = [r.error for r in results if r.error]
            if bad:
                run.notes.append(f"The Telegram warm-up conversation had errors: {sorted(set(bad))}.")
        for index, level in enumerate(run.levels):
            target = cfg["turns"][level]
            profiled = index < PROFILED_LEVELS
            with Phase(run, f"ours: Telegram, {level} guests"), \
                    CpuPerMessage(run, f"ours telegram {level}", sampler) as cpu:
                tg = TelegramGuests(api, lambda lv=level: lv, expected, fallback, first_chat=(index + 1) * 1_000_000)
                result = cpu.result = await run_level("telegram", level, target, tg.play, Think(rng=_rng(level)), 0)
                run.ours["telegram"][level] = Level.of(result)
                _progress(run.ours["telegram"][level])
            if profiled:
                trackers = await fetch_trackers(stack.rasa_url, sorted({r.sender for r in result.turns}), stack.token)
                run.stages[f"ours telegram {level}"] = telegram_stages(tg.turn_updates, api.update_handed_at,
                                                                       trackers, custom)
            api.forget()
            with Phase(run, f"ours: REST, {level} guests"), CpuPerMessage(run, f"ours rest {level}", sampler) as cpu:
                result = cpu.result = await rest_level(stack.rasa_urls, "rest", level, target, f"bench-{level}-",
                                                       expected)
                run.ours["rest"][level] = Level.of(result)
                _progress(run.ours["rest"][level])
            if profiled:
                trackers = await fetch_trackers(stack.rasa_url, sorted({r.sender for r in result.turns}), stack.token)
                run.stages[f"ours rest {level}"] = rest_stages(result.turns, trackers, custom)
            if bare is not None:
                with Phase(run, f"bare: REST, {level} guests"), \
                        CpuPerMessage(run, f"bare rest {level}", bare_sampler) as cpu:
                    result = cpu.result = await rest_level([bare_url], "bare", level, target, f"bare-{level}-", None,
                                                           run)
                    run.bare[level] = Level.of(result)
                    _progress(run.bare[level])
                if profiled:
                    trackers = await fetch_trackers(bare_url, sorted({r.sender for r in result.turns}))
                    run.stages[f"bare rest {level}"] = rest_stages(result.turns, trackers, set())
        with Phase(run, "Rasa under cProfile"):
            run.rasa_profile = await profile_rasa(work, env_vars, stack.token, expected, cfg)
        with Phase(run, "NLU alone and the action server alone"):
            run.parse_ms["ours"] = 1000 * percentile(await parse_times(stack.rasa_url, script_texts(), stack.token), 50)
            if bare is not None:
                run.parse_ms["bare"] = 1000 * percentile(await parse_times(bare_url, script_texts()), 50)
            tracker, domain = await conversation_state(stack.rasa_url, f"bench-{run.levels[0]}-0", stack.token)
            action_url = env_vars["ACTION_SERVER_URL"]
            run.action_ms = {name: 1000 * seconds for name, seconds in (await action_server_times(
                action_url, tracker, domain, [NO_ACTION, *DIRECT_ACTIONS])).items()}
    finally:
        sampler.sample()
        stopping = []
        if stack is not None:
            stopping.append(asyncio.to_thread(stack.managed.stop))
        if bare is not None:
            stopping.append(asyncio.to_thread(bare.stop))
        await asyncio.gather(*stopping)
        sampler.stop()
        if stack is not None:
            run.log_findings = logscan.scan(Path(env_vars["VAR_DIR"]) / "log",
                                            (api.token.split(":", 1)[1], env_vars["RASA_TOKEN"]))
        if bare_sampler is not None:
            bare_sampler.stop()
            run.rss_bare = bare_sampler.by_label()
        await api.stop()
        for name in databases:
            await asyncio.to_thread(pg.drop, name)
    run.rss_ours = dict(sampler.by_label())
    run.rss_ours_simultaneous = sampler.total_peak_kb / 1024


async def profile_rasa(work: Path, env_vars: dict[str, str], token: str, expected: dict,
                       cfg: dict) -> RasaProfile | None:
    """Run a second Rasa server under cProfile (profiler on only while guests talk to it) and group the profile."""
    managed, url, out = await start_profiled_rasa(work, env_vars, token)
    say(f"   profiled Rasa ready in {managed.ready_s:.1f} s")
    try:
        warm = RestGuests(url, "profiled", lambda: 0, prefix="profiled-warm-")
        try:
            for number, script in enumerate(SCRIPTS):
                await warm.play(number, script, [], Think(0.0, 0.0))
        finally:
            await warm.close()
        profiler_on(managed)
        guests, turns = cfg["profile"]
        result = await rest_level([url], "profiled", guests, turns, "profiled-", expected)
        written = await profiler_off(managed, out)
    finally:
        await asyncio.to_thread(managed.stop)
    if not written:
        return None
    profile = summarise(out, len(result.latencies))
    say(f"   {profile.messages} messages profiled; Rasa busy {profile.busy_s:.1f} s in its main thread")
    return profile


async def rest_level(urls: list[str], channel: str, level: int, target: int, prefix: str,
                     expected: dict | None, run: Run | None = None):  # type: ignore[no-untyped-def]
    """Run one REST level against ``urls`` and return its LevelResult."""
    rest = RestGuests(urls, channel, lambda: level, prefix=prefix, expected=expected)
    try:
        result = await run_level(channel, level, target, rest.play, Think(rng=_rng(level)), 0)
    finally:
        await rest.close()
    if run is not None:
        run.bare_empty_replies += rest.empty_replies
    return result


def _rng(level: int) -> random.Random:
    return random.Random(1000 + level)


def _progress(level: Level) -> None:
    s = level.summary
    say(f"   {level.channel:9s} {level.guests:3d} guests: {s.count} messages p50 {s.p50 * 1000:.0f} ms "
        f"p95 {s.p95 * 1000:.0f} ms p99 {s.p99 * 1000:.0f} ms, {s.throughput:.1f} msg/s, errors {s.errors}"
        + (f" {level.error_kinds}" if s.errors else ""))


def script_texts() -> list[str]:
    """Return the distinct typed texts of the scripts (as guest 0 and 1 type them)."""
    seen: list[str] = []
    for number, script in enumerate(SCRIPTS):
        for turn in script:
            text = fill(turn, number)
            if not turn.button and text not in seen:
                seen.append(text)
    return seen


async def phase_scheduler(run: Run, cfg: dict, work: Path, postgres: bool) -> None:
    """Run the scheduler benchmark on SQLite, and on PostgreSQL when reachable."""
    policy = str(REPO / "examples" / "policy-fast.yml")
    with Phase(run, "scheduler: SQLite"):
        figures = await bench_scheduler.measure(f"sqlite:///{work}/scheduler/crm.db", cfg["followups"],
                                                cfg["spread"], cfg["lead"], policy)
        run.scheduler.append(figures)
        say(f"   sqlite: p50 {figures['p50_s']:.3f} s p99 {figures['p99_s']:.3f} s, duplicates "
            f"{figures['duplicates']} losses {figures['losses']}")
    if not postgres:
        return
    if not pg.available():
        run.notes.append("PostgreSQL was not reachable on 127.0.0.1:5432: the scheduler ran on SQLite only.")
        return
    with Phase(run, "scheduler: PostgreSQL"):
        name, url = pg.create("bench_sched")
        try:
            figures = await bench_scheduler.measure(url, cfg["followups"], cfg["spread"], cfg["lead"], policy)
        finally:
            await asyncio.to_thread(pg.drop, name)
        run.scheduler.append(figures)
        say(f"   postgresql: p50 {figures['p50_s']:.3f} s p99 {figures['p99_s']:.3f} s, duplicates "
            f"{figures['duplicates']} losses {figures['losses']}")


async def main_async(args: argparse.Namespace) -> int:
    """Run every phase, print the report, write the Markdown, print the summary line last."""
    cfg = QUICK if args.quick else FULL
    levels = [int(x) for x in args.levels.split(",")] if args.levels else cfg["levels"]
    cfg = {**cfg, "turns": {n: cfg["turns"].get(n, 13 * n) for n in levels}}
    profile = (args.profile or os.environ.get("PROFILE") or "embedded").strip()
    run = Run(quick=args.quick, profile=profile, machine=describe(REPO),
              started_utc=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), levels=levels)
    say(f"bench: {run.started_utc}, {run.machine['cpus']} CPUs, load {run.machine['load_at_start']}, "
        f"commit {run.machine['commit']}, profile {profile}{', quick' if args.quick else ''}")
    if not (REPO / "models" / "hotel.tar.gz").exists() and not list((REPO / "models").glob("*.tar.gz")):
        say("bench: no trained model in models/ (run `make train`)")
        return 2
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    say(f"bench: work directory {work}")
    try:
        await phase_conversations(run, cfg, work, Path(args.bare_dir) if args.bare_dir else None,
                                  with_bare=not args.skip_bare)
        if not args.skip_outbound:
            with Phase(run, "outbound"):
                messages, chats, staff = cfg["outbound"]
                run.outbound = await run_outbound(work / "outbound", messages, chats, staff,
                                                  timeout_s=max(120.0, messages / 4 + 60))
        if not args.skip_scheduler:
            await phase_scheduler(run, cfg, work, postgres=not args.skip_postgres)
    finally:
        run.duration_s = time.monotonic() - started
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    for line in console(run):
        print(line)
    output = args.output or ("" if args.quick else str(REPO / "docs" / "benchmarks.md"))
    if output:
        Path(output).write_text(markdown(run), encoding="utf-8")
        print(f"\nreport written to {os.path.relpath(output, REPO)}")
    print(summary_line(p95_ratio=run.p95_ratio(), throughput_ratio=run.throughput_ratio(),
                       followup_p99_s=run.followup_p99(), lost=run.lost(), duplicated=run.duplicated(),
                       rss_mb=run.rss_total()), flush=True)
    return 0


def main() -> int:
    """Parse the arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short smoke run (1 and 5 guests); prints only")
    parser.add_argument("--levels", default="", help="comma-separated concurrency levels (default 1,20,50)")
    parser.add_argument("--profile", default="", help="embedded or prod (default: $PROFILE, else embedded)")
    parser.add_argument("--output", default="",
                        help="Markdown report path (default docs/benchmarks.md; none with --quick)")
    parser.add_argument("--bare-dir", default="", help="reuse a `rasa init` bot already generated there")
    parser.add_argument("--skip-bare", action="store_true")
    parser.add_argument("--skip-outbound", action="store_true")
    parser.add_argument("--skip-scheduler", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true", help="scheduler on SQLite only")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, databases)")
    args = parser.parse_args()
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
