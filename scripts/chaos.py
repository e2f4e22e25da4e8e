"""`make chaos`: kill every process of the production profile in turn under load, stop PostgreSQL, and check
that nothing a guest was promised got lost.

Runs the production profile (`PROFILE=prod python -m bot run`) against a private PostgreSQL cluster and a
private Redis on free ports, with the Bot API stand-in (tests/fakes/bot_api.py, a real HTTP server) in this
process. 50 simulated guests link their stay, greet, state a preference, complain with their room number,
answer the recovery check and the post-stay survey, stay after stay, for the whole run; a simulated staff
member acknowledges and resolves every case card. Then, one at a time, with SIGKILL: the bot process (gateway),
Rasa replica 1, action server 1 and the active scheduler; each must be restarted by the supervisor and recover.
Then PostgreSQL is stopped for 10 s. The load runs on, is stopped, the system is left to settle, and the run is
judged (scripts/chaoslib/checks.py). The last line is

    chaos: kills=<n> lost_complaints=<n> lost_followups=<n> duplicated=<n> unanswered=<n>

and the exit code is 1 if any count but kills is not 0 (2 if the run itself could not be carried out).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from chaoslib.botapi import ChaosBotApi  # noqa: E402
from chaoslib.checks import Verdict, judge  # noqa: E402
from chaoslib.guests import Guest, LoadStats  # noqa: E402
from chaoslib.infra import PrivatePostgres, PrivateRedis  # noqa: E402
from chaoslib.pms import PmsClient  # noqa: E402
from chaoslib.quiesce import wait_quiescent  # noqa: E402
from chaoslib.stack import Stack, active_scheduler  # noqa: E402
from chaoslib.staff import StaffConsole  # noqa: E402

POLICY_FILE = REPO / "examples" / "policy-fast.yml"
START_TIMEOUT_S = 420.0
RESTART_TIMEOUT_S = 120.0
RECOVER_TIMEOUT_S = {"rasa": 300.0, "actions": 120.0, "bot": 120.0, "scheduler": 60.0}
PG_OUTAGE_S = 10.0


class Run:
    """Hold the run's parts and print progress."""

    def __init__(self, args: argparse.Namespace) -> None:
        """Prepare (nothing started yet)."""
        self.args = args
        self.started = time.monotonic()
        self.kills = 0
        self.work = Path(tempfile.mkdtemp(prefix="chaos-"))
        self.pg = PrivatePostgres()
        self.redis = PrivateRedis()
        self.api = ChaosBotApi(first_update_id=1000)
        self.stats = LoadStats()
        self.stop_load = asyncio.Event()
        self.stack: Stack | None = None
        self.guests: list[asyncio.Task[None]] = []
        self.staff: StaffConsole | None = None
        self.reporter: asyncio.Task[None] | None = None
        self.pms: PmsClient | None = None
        self.restarts_before: dict[str, int] = {}
        self.notes: list[str] = []

    def say(self, line: str) -> None:
        """Print one progress line with the elapsed time."""
        print(f"[{time.monotonic() - self.started:6.1f}s] {line}", flush=True)

    async def blocking(self, fn, *args):  # type: ignore[no-untyped-def]
        """Run a blocking call in a thread, so the Bot API stand-in keeps serving."""
        return await asyncio.to_thread(fn, *args)

    # -- phases --------------------------------------------------------------------------------

    async def start(self) -> None:
        """Private PostgreSQL and Redis, the Bot API stand-in, then the production profile."""
        await self.wait_model()
        await self.blocking(self.pg.init)
        await self.blocking(self.pg.start)
        for name in ("chaos_crm", "chaos_tracker"):
            await self.blocking(self.pg.create_database, name)
        await self.blocking(self.redis.start)
        await self.api.start()
        self.stack = Stack(self.work, self.pg, self.redis.url, self.api.url, self.api.token)
        self.say(f"phase start: PostgreSQL :{self.pg.port}, Redis :{self.redis.port}, Bot API {self.api.url}, "
                 f"PROFILE=prod python -m bot run, work dir {self.work}")
        self.stack.start()
        waited = await self.blocking(self.stack.wait, lambda: self.stack.children() and self.stack.healthy(),
                                     START_TIMEOUT_S, "the stack to become healthy", 1.0)
        self.restarts_before = {c["name"]: int(c.get("restarts") or 0) for c in self.stack.children()}
        self.say(f"phase start: healthy after {waited:.0f} s; children: {', '.join(self.stack.names())}")

    async def wait_model(self) -> None:
        """Wait for the trained model (another job may be training it)."""
        stamp = REPO / "models" / ".trained"
        model = REPO / "models" / "hotel.tar.gz"
        if stamp.exists() and model.exists():
            return
        self.say("waiting for models/.trained (a training run is in progress)")
        deadline = time.monotonic() + self.args.model_wait
        while time.monotonic() < deadline:
            if stamp.exists() and model.exists():
                return
            await asyncio.sleep(5)
        if not model.exists():
            raise RuntimeError("no trained model in models/ (run `make train`)")
        self.say("models/.trained still missing; using models/hotel.tar.gz as it is")

    async def load(self) -> None:
        """Start the guests and the staff member; wait for steady state."""
        assert self.stack is not None
        self.pms = PmsClient(self.stack.ops_url, self.stack.pms_secret)
        self.staff = StaffConsole(self.stack.crm_url, POLICY_FILE)
        self.staff.start()
        tag = f"{int(time.time()) % 100000:05d}"
        for slot in range(self.args.guests):
            guest = Guest(self.api, self.pms, slot, tag, self.stats, self.stop_load, seed=slot * 7919 + 1)
            self.guests.append(asyncio.create_task(guest.run()))
            await asyncio.sleep(0.2)  # guests arrive over ten seconds, not all at once
        self.reporter = asyncio.create_task(self.report_every(30.0))
        deadline = time.monotonic() + self.args.steady
        while time.monotonic() < deadline or self.stats.complaints_told < self.args.guests // 2:
            if time.monotonic() > deadline + 240:
                raise RuntimeError(f"no steady state: {self.stats.line()}")
            await asyncio.sleep(2)
        self.say(f"phase load: steady state with {self.args.guests} guests: {self.stats.line()}")

    async def report_every(self, seconds: float) -> None:
        """Print the load figures now and then."""
        while True:
            await asyncio.sleep(seconds)
            staff = self.staff
            self.say(f"  load: {self.stats.line()} staff_ack={staff.acknowledged if staff else 0} "
                     f"staff_resolved={staff.resolved if staff else 0}")

    async def kill(self, name: str) -> None:
        """SIGKILL one child, wait for the supervisor to restart it and for the service to recover."""
        assert self.stack is not None
        pid = self.stack.kill(name)
        self.kills += 1
        killed_at = time.monotonic()
        self.say(f"phase kill {name}: SIGKILL pid {pid}")
        await self.blocking(self.stack.wait, lambda: self.stack.restarted(name, pid), RESTART_TIMEOUT_S,
                            f"the supervisor to restart {name}", 0.2)
        restarted = time.monotonic() - killed_at
        family = name.split("-")[0]
        await self.blocking(self.stack.wait, lambda: self.stack.service_ready(name), RECOVER_TIMEOUT_S[family],
                            f"{name} to recover", 0.5)
        recovered = time.monotonic() - killed_at
        self.say(f"phase kill {name}: restarted after {restarted:.1f} s, serving again after {recovered:.1f} s")

    async def kill_scheduler(self) -> None:
        """Kill the scheduler that holds the lock; the stand-by must take over."""
        assert self.stack is not None
        active = await self.blocking(active_scheduler, self.stack)
        if active is None:
            active = "scheduler-1"
            self.say("phase kill scheduler: no scheduler holds the lock right now; killing scheduler-1")
        await self.kill(active)
        try:
            took = await self.blocking(
                self.stack.wait, lambda: active_scheduler(self.stack) is not None, 60.0, "a scheduler to lead", 0.5)
            self.say(f"phase kill scheduler: {active_scheduler(self.stack)} leads ({took:.1f} s after the restart)")
        except TimeoutError as exc:
            self.notes.append(str(exc))
            self.say(f"phase kill scheduler: {exc}")

    async def settle(self, seconds: float, why: str) -> None:
        """Let the load run for a while."""
        self.say(f"  letting the load run {seconds:.0f} s ({why})")
        await asyncio.sleep(seconds)

    async def postgres_outage(self) -> None:
        """Stop the private PostgreSQL for 10 s, start it again, and wait until the services are back."""
        assert self.stack is not None
        before = {c["name"]: int(c.get("restarts") or 0) for c in self.stack.children()}
        self.say(f"phase postgres: stopping PostgreSQL for {PG_OUTAGE_S:.0f} s")
        stopped_at = time.monotonic()
        await self.blocking(self.pg.stop, "fast")
        await asyncio.sleep(max(0.0, PG_OUTAGE_S - (time.monotonic() - stopped_at)))
        await self.blocking(self.pg.start)
        self.say(f"phase postgres: started again after {time.monotonic() - stopped_at:.1f} s")
        waited = await self.blocking(self.stack.wait, self.stack.healthy, 180.0, "health after the outage", 0.5)
        after = {c["name"]: int(c.get("restarts") or 0) for c in self.stack.children()}
        restarted = [n for n in after if after[n] != before.get(n, 0)]
        self.say(f"phase postgres: healthy {waited:.1f} s after the restart; children restarted meanwhile: "
                 f"{', '.join(restarted) or 'none'}")
        if restarted:
            self.notes.append(f"children restarted during the PostgreSQL outage: {', '.join(restarted)}")

    async def stop_and_settle(self) -> float:
        """Stop the load, let the guests finish what they are doing, then wait for quiescence."""
        assert self.stack is not None
        self.stop_load.set()
        if self.staff is not None:
            await self.blocking(self.staff.stop)
        self.say("phase stop: load stopped; guests finish their exchange in flight")
        done, pending = await asyncio.wait(self.guests, timeout=400)
        for task in pending:
            task.cancel()
        if pending:
            self.notes.append(f"{len(pending)} guest(s) still waiting for a reply after 400 s")
        self.say(f"phase stop: guests done ({len(pending)} cancelled): {self.stats.line()}")
        quiesced, waited, detail = await self.blocking(
            wait_quiescent, self.stack.crm_url, self.api, 240.0)
        self.say(f"phase quiesce: {'quiescent' if quiesced else 'NOT quiescent'} after {waited:.0f} s ({detail})")
        if not quiesced:
            self.notes.append(f"no quiescence: {detail}")
        return time.time()

    async def teardown(self) -> None:
        """Stop everything we started."""
        self.stop_load.set()
        if self.staff is not None and self.staff._thread.is_alive():
            await self.blocking(self.staff.stop)
        for task in [*self.guests, self.reporter]:
            if task is not None and not task.done():
                task.cancel()
        if self.pms is not None:
            await self.pms.close()
        if self.stack is not None:
            await self.blocking(self.stack.stop)
        await self.api.stop()
        self.redis.stop()
        if self.args.keep:
            self.say(f"kept {self.work} and PostgreSQL data in {self.pg.root} (server stopped)")
            self.pg.stop()
        else:
            self.pg.destroy()
            shutil.rmtree(self.work, ignore_errors=True)

    def dump_timeline(self) -> None:
        """Write every chat's timeline to timeline.json in the work dir (with --keep), for a post-mortem."""
        import json
        from dataclasses import asdict

        path = self.work / "timeline.json"
        path.write_text(json.dumps({str(chat): [asdict(e) for e in entries]
                                    for chat, entries in self.api.timeline.items()}, indent=1, default=str))
        self.say(f"timeline written to {path}")

    def restarts_summary(self) -> str:
        """Return the restarts per child since the start."""
        assert self.stack is not None
        parts = []
        for child in self.stack.children():
            count = int(child.get("restarts") or 0) - self.restarts_before.get(child["name"], 0)
            parts.append(f"{child['name']}={count}")
        return " ".join(parts)


def print_verdict(run: Run, verdict: Verdict) -> None:
    """Print the evidence, then the figures."""
    for what, lines in verdict.details.items():
        run.say(f"check {what}: {len(lines)}")
        for line in lines[:12]:
            print(f"    {line}", flush=True)
        if len(lines) > 12:
            print(f"    ... and {len(lines) - 12} more", flush=True)
    figures = verdict.figures
    run.say(f"figures: guest messages {figures.get('guest_messages')}, held while down {figures.get('held')}, "
            f"answered late {figures.get('answered_late')}, references told {figures.get('references_told')}, "
            f"complaint rows {figures.get('complaints')}, inbound {figures.get('inbound')}")
    run.say(f"figures: first reply {figures.get('reply_s')}; late answer {figures.get('late_answer_s')}")
    run.say(f"figures: follow-ups {figures.get('followups')}")


async def main_async(args: argparse.Namespace) -> int:
    """Run the phases; print the verdict; return the exit code."""
    run = Run(args)
    verdict: Verdict | None = None
    try:
        await run.start()
        await run.load()
        plan = args.kill or ["bot", "rasa-1", "actions-1", "scheduler"]
        for name in [n for n in plan if n != "none"]:
            if name == "scheduler":
                await run.kill_scheduler()
            else:
                await run.kill(name)
            await run.settle(args.between, f"after the {name} kill")
        if not args.no_postgres:
            await run.postgres_outage()
        await run.settle(args.run_on, "after the faults")
        quiesced_at = await run.stop_and_settle()
        assert run.stack is not None
        run.say(f"restarts per child: {run.restarts_summary()}")
        verdict = await asyncio.to_thread(judge, run.api, run.stack.crm_url, quiesced_at)
        if args.keep:
            run.dump_timeline()
        print_verdict(run, verdict)
        for note in run.notes:
            run.say(f"note: {note}")
    except Exception as exc:  # noqa: BLE001 - report, clean up, and fail the run
        run.say(f"chaos run aborted: {type(exc).__name__}: {exc}")
        if run.stack is not None:
            for name in run.stack.names() or ["bot"]:
                print(f"--- {name} log tail\n{run.stack.log_tail(name, 1500)}", flush=True)
    finally:
        await run.teardown()
    if verdict is None:
        print(f"chaos: kills={run.kills} lost_complaints=? lost_followups=? duplicated=? unanswered=?", flush=True)
        return 2
    print(f"chaos: kills={run.kills} lost_complaints={verdict.lost_complaints} "
          f"lost_followups={verdict.lost_followups} duplicated={verdict.duplicated} unanswered={verdict.unanswered}",
          flush=True)
    bad = verdict.lost_complaints + verdict.lost_followups + verdict.duplicated + verdict.unanswered
    return 1 if bad else 0


def main() -> int:
    """Parse the command line and run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--guests", type=int, default=50, help="concurrent simulated guests (default 50)")
    parser.add_argument("--steady", type=float, default=40.0, help="seconds of load before the first kill")
    parser.add_argument("--between", type=float, default=20.0, help="seconds of load after each recovery")
    parser.add_argument("--run-on", type=float, default=45.0, help="seconds of load after the last fault")
    parser.add_argument("--kill", action="append", help="kill only these children (repeatable; 'scheduler' = "
                                                        "the active one; 'none' = no kill)")
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL outage")
    parser.add_argument("--model-wait", type=float, default=1800.0, help="seconds to wait for models/.trained")
    parser.add_argument("--keep", action="store_true", help="keep the work dir and database files")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
