"""Render a benchmark run: compact tables on the console, the full report as Markdown (docs/benchmarks.md)."""

from __future__ import annotations

import math
import statistics

from scripts.benchlib.guests import Think
from scripts.benchlib.outbound import CHAT_LIMIT_PER_S, GLOBAL_LIMIT_PER_S, GROUP_LIMIT_PER_MIN
from scripts.benchlib.profile import STAGES, TG_STAGES
from scripts.benchlib.results import Level, Run
from scripts.benchlib.stats import summary_line

P95_RATIO_GOAL = 1.5
THINK_MEAN_S = (Think().low_s + Think().high_s) / 2
FOLLOWUP_P99_GOAL_S = 2.0


def ms(seconds: float) -> str:
    """Format seconds as whole milliseconds."""
    return "–" if seconds is None or math.isnan(seconds) else f"{seconds * 1000:.0f}"


def num(value: float, digits: int = 2) -> str:
    """Format a number, with a dash for missing values."""
    return "–" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def yes(ok: bool) -> str:
    """Return a met/not met mark."""
    return "met" if ok else "**not met**"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    """Return a Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def _errors(level: Level) -> str:
    if not level.summary.errors:
        return "0"
    kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(level.error_kinds.items(), key=lambda kv: -kv[1]))
    return f"{level.summary.errors} ({kinds})"


def level_rows(run: Run) -> list[list[str]]:
    """Return one row per channel and level."""
    rows = []
    channels = [("Telegram (Bot API stand-in → gateway → Rasa)", run.ours["telegram"]),
                ("REST (ours)", run.ours["rest"]), ("REST (bare `rasa init` bot)", run.bare)]
    for label, levels in channels:
        for n in run.levels:
            level = levels.get(n)
            if level is None:
                continue
            s = level.summary
            rows.append([label, str(n), str(s.count), ms(s.p50), ms(s.p95), ms(s.p99), ms(s.max),
                         num(s.throughput, 1), _errors(level)])
    return rows


def goals(run: Run) -> list[list[str]]:
    """Return the goals of the issue with what was measured ("not measured" for skipped phases)."""
    rows = []
    p95 = run.p95_ratio()
    rows.append(["REST p95 ours / bare ≤ 1.5 (worst level)", num(p95),
                 "not measured" if math.isnan(p95) else yes(p95 <= P95_RATIO_GOAL)])
    if run.scheduler:
        p99 = run.followup_p99()
        rows.append(["follow-up lateness p99 ≤ 2 s (worst backend)", f"{num(p99, 3)} s",
                     yes(not math.isnan(p99) and p99 <= FOLLOWUP_P99_GOAL_S)])
        rows.append(["0 follow-ups duplicated", str(run.duplicated()), yes(run.duplicated() == 0)])
        rows.append(["0 follow-ups lost", str(run.lost()), yes(run.lost() == 0)])
    else:
        rows.append(["follow-ups: p99 ≤ 2 s, 0 duplicated, 0 lost", "–", "not measured"])
    if run.outbound is not None:
        o = run.outbound
        rows.append(["outbound within Telegram's limits (strict windows)",
                     f"max {o.max_any_1s}/s overall, {o.max_chat_1s}/s per chat, {o.max_group_60s}/min per group",
                     yes(o.limits_ok)])
    errors = sum(level.summary.errors for levels in run.ours.values() for level in levels.values())
    rows.append(["no errors in our conversations", str(errors), yes(errors == 0)])
    return rows


def console(run: Run) -> list[str]:
    """Return the console report (without the final summary line)."""
    out = ["", "== start to ready"]
    out += [f"  {name}: {seconds:.1f} s" for name, seconds in run.ready.items()]
    out += ["", "== conversations (latency ms; throughput = answered guest messages/s)",
            f"  {'channel':<48} {'guests':>6} {'turns':>6} {'p50':>6} {'p95':>6} {'p99':>6} {'max':>6} "
            f"{'msg/s':>6}  errors"]
    for row in level_rows(run):
        out.append(f"  {row[0][:48]:<48} {row[1]:>6} {row[2]:>6} {row[3]:>6} {row[4]:>6} {row[5]:>6} {row[6]:>6} "
                   f"{row[7]:>6}  {row[8]}")
    out += ["", "== ours / bare (REST)"]
    p95s, thr = run.p95_ratios(), run.throughput_ratios()
    for n in run.levels:
        if n in p95s:
            out.append(f"  {n:>3} guests: p95 ratio {num(p95s[n])}  throughput ratio {num(thr[n])}")
    for key, stages in run.stages.items():
        names = TG_STAGES if "telegram" in key else STAGES
        parts = ", ".join(f"{name} {value:.0f} ms ({share:.0%})" for name, value, share in stages.table(names)
                          if not math.isnan(value) and value >= 0.5)
        out.append(f"  profile {key}: {parts}")
    if run.parse_ms:
        out.append("  NLU alone (/model/parse, median): "
                   + ", ".join(f"{k} {v:.0f} ms" for k, v in run.parse_ms.items()))
    if run.action_ms:
        out.append("  action server alone (POST /webhook, median): "
                   + ", ".join(f"{_action_label(k)} {v:.0f} ms" for k, v in run.action_ms.items()))
    for key, per in run.cpu_ms.items():
        out.append(f"  CPU ms per message {key}: " + ", ".join(f"{n} {v:.0f}" for n, v in
                                                           sorted(per.items(), key=lambda kv: _process_order(kv[0]))))
    prof = run.rasa_profile
    if prof is not None and prof.busy_s > 0:
        out.append(f"  Rasa under cProfile ({prof.messages} messages, busy {prof.busy_s:.1f} s): "
                   + ", ".join(f"{label} {seconds / prof.busy_s:.0%}" for label, seconds in prof.steps))
    if run.log_findings:
        out += ["", "== log signatures (lines)"]
        out += [f"  {v:6d}  {k}" for k, v in sorted(run.log_findings.items(), key=lambda kv: -kv[1])]
    out += ["", "== peak RSS (MB)"]
    out += [f"  ours {name}: {mb:.0f}" for name, mb in run.rss_ours.items()]
    out.append(f"  ours total (sum of peaks): {run.rss_total():.0f}; "
               f"simultaneous peak {num(run.rss_ours_simultaneous, 0)}")
    out += [f"  bare {name}: {mb:.0f}" for name, mb in run.rss_bare.items()]
    out += ["", "== scheduler"]
    for s in run.scheduler:
        out.append(f"  {s['backend']}: {s['count']} follow-ups due within {s['spread_s']:.0f} s: lateness p50 "
                   f"{s['p50_s']:.3f} s p99 {s['p99_s']:.3f} s max {s['max_s']:.3f} s; duplicates {s['duplicates']} "
                   f"losses {s['losses']}")
    if run.outbound is not None:
        o = run.outbound
        out += ["", "== outbound"]
        out.append(f"  {o.delivered_guest}/{o.queued_guest} guest messages to {o.chats} chats, {o.delivered_staff}/"
                   f"{o.queued_staff} staff notices; sustained {o.sustained_guest_per_s:.1f} guest msg/s "
                   f"({o.sustained_all_per_s:.1f} msg/s all), outbox emptied in {o.drain_s:.1f} s")
        out.append(f"  densest windows: {o.max_any_1s} msg in 1 s overall (limit {GLOBAL_LIMIT_PER_S}), "
                   f"{o.max_chat_1s} in 1 s to one chat (limit {CHAT_LIMIT_PER_S}), {o.max_group_60s} in 60 s to "
                   f"the group (limit {GROUP_LIMIT_PER_MIN}): {'within limits' if o.limits_ok else 'LIMIT EXCEEDED'}")
    out += ["", "== goals"]
    out += [f"  {g[0]}: {g[1]} -> {g[2].replace('*', '')}" for g in goals(run)]
    out += [f"  note: {n}" for n in run.notes]
    return out


def markdown(run: Run) -> str:
    """Return docs/benchmarks.md."""
    m = run.machine
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`scripts/bench.py`); every figure below comes from the run described here. "
        "Re-run it to refresh the file; `make bench` prints the same tables and ends with the tracked summary line.",
        "",
        f"- **Date:** {run.started_utc} (run took {run.duration_s / 60:.1f} min{', quick mode' if run.quick else ''})",
        f"- **Machine:** {m['cpus']} CPUs ({m['cpu_model']}), {m['ram_gb']} GB RAM, Linux {m['kernel']}, "
        f"Python {m['python']}",
        f"- **Load average at start (1/5/15 min):** {m['load_at_start']}",
        f"- **Commit:** {m['commit']}",
        f"- **Profile:** {run.profile}",
        "",
        "```",
        summary_line(p95_ratio=run.p95_ratio(), throughput_ratio=run.throughput_ratio(),
                     followup_p99_s=run.followup_p99(), lost=run.lost(), duplicated=run.duplicated(),
                     rss_mb=run.rss_total()),
        "```",
        "",
        "`p95_ratio` is the worst of the per-level ratios of our REST p95 to the bare bot's; `throughput_ratio` is "
        "taken at the highest concurrency level; `followup_p99_s`, `lost` and `duplicated` cover every database "
        "backend measured; `rss_mb` is the sum of the peak resident memory of each process of our stack.",
        "",
        "## Goals",
        "",
    ]
    lines += table(["goal", "measured", "status"], goals(run))
    lines += ["", "## Start to ready", ""]
    lines += table(["what", "seconds"], [[k, f"{v:.1f}"] for k, v in run.ready.items()])
    lines += [
        "",
        "## Guest conversations",
        "",
        "Every simulated guest is a new chat and plays a whole conversation: greeting, name, preferences, "
        "\"what do you know about me\", a complaint and the room number, the survey (scores pressed as buttons on "
        "Telegram, sent as the button payload over REST) and a comment; a promoter and a detractor script "
        "alternate (13 messages each). Think time between a reply and the next message is uniform in 0.3–1.0 s "
        "(a quick typist; short, so that each level gets a few hundred messages in a few minutes). "
        "Latency is from the message being available (the update queued at the Bot API stand-in, or the REST "
        "request sent) to the first reply message reaching the stand-in (Telegram) or the HTTP answer (REST). "
        "Throughput is answered guest messages per second over the whole level. Errors are timeouts (60 s), "
        "non-2xx answers, fewer or more reply messages than the calibration conversation got, and the gateway's "
        "own \"I'll answer later\" fallbacks.",
        "",
    ]
    lines += table(["channel", "guests", "messages", "p50 ms", "p95 ms", "p99 ms", "max ms", "msg/s", "errors"],
                   level_rows(run))
    tg_all = [(n, lvl.p95_all) for n, lvl in run.ours["telegram"].items() if not math.isnan(lvl.p95_all)]
    if tg_all:
        lines += ["", "Telegram p95 to the *last* message of a multi-message answer: "
                  + ", ".join(f"{guests(n)} {ms(v)} ms" for n, v in tg_all) + "."]
    if run.bare_empty_replies:
        lines += ["", f"The bare bot answered {run.bare_empty_replies} messages with no text (its sample model "
                  "predicted only `action_listen`); they still count as answered requests."]
    lines += ["", "## Ours versus the bare Rasa bot", "",
              "The bare bot is the `rasa init` sample (same Rasa version), generated and trained into a temporary "
              "folder, served by `rasa run --enable-api` (in-memory tracker store, no action server) and loaded "
              "with the same guest texts at the same concurrency over its REST channel.", ""]
    rows = []
    for n in run.levels:
        if n in run.ours["rest"] and n in run.bare:
            o, b = run.ours["rest"][n].summary, run.bare[n].summary
            rows.append([str(n), ms(o.p95), ms(b.p95), num(run.p95_ratios()[n]), num(o.throughput, 1),
                         num(b.throughput, 1), num(run.throughput_ratios()[n])])
    lines += table(["guests", "our p95 ms", "bare p95 ms", "p95 ratio (goal ≤ 1.5)", "our msg/s", "bare msg/s",
                    "throughput ratio"], rows)
    if run.log_findings:
        lines += ["", "What the stack's own logs recorded during the conversation phase (lines per signature):", ""]
        lines += table(["log signature", "lines"], [[k, str(v)] for k, v in sorted(run.log_findings.items(),
                                                                                   key=lambda kv: -kv[1])])
    lines += ["", "### Where our time goes", "", _profile_text(), ""]
    keys = [k for k in run.stages if "telegram" not in k]
    if keys:
        header = ["stage (mean ms per message, share)"] + keys
        rows = []
        for stage in STAGES:
            row = [stage]
            for key in keys:
                value = dict((n, (v, s)) for n, v, s in run.stages[key].table(STAGES))[stage]
                row.append(f"{value[0]:.0f} ({value[1]:.0%})" if not math.isnan(value[0]) else "–")
            rows.append(row)
        rows.append(["**total (mean)**"]
                    + [f"**{sum(v for _, v, _ in run.stages[k].table(STAGES)):.0f}**" for k in keys])
        lines += table(header, rows)
    if run.cpu_ms:
        names = sorted({n for per in run.cpu_ms.values() for n in per if n != "supervisor"}, key=_process_order)
        lines += ["", "CPU time per answered message, per process (user + system ms, from `/proc`; on 2 cores a "
                  "message costing C ms of CPU in total caps throughput near 2000 / C messages/s):", ""]
        rows = [[key] + [f"{per.get(n, math.nan):.0f}" if not math.isnan(per.get(n, math.nan)) else "–" for n in names]
                + [f"**{sum(v for k, v in per.items() if k != 'supervisor'):.0f}**"] for key, per in run.cpu_ms.items()]
        lines += table(["level"] + names + ["total"], rows)
    if run.parse_ms:
        lines += ["", "NLU alone, one request at a time (`POST /model/parse`, median over the script's texts): "
                  + ", ".join(f"{k} {v:.0f} ms" for k, v in run.parse_ms.items()) + "."]
    if run.action_ms:
        lines += ["", "The action server alone, called directly the way Rasa calls it (`POST /webhook` with a finished "
                  "conversation's tracker and the domain, one request at a time, median of 10): "
                  + ", ".join(f"{_action_label(k)} {v:.0f} ms" for k, v in run.action_ms.items())
                  + ". The first is HTTP and payload handling alone (the server answers 404); the difference to the "
                  "others is the action's own work, mostly its CRM reads."]
    tg_keys = [k for k in run.stages if "telegram" in k]
    if tg_keys:
        lines += ["", "The Telegram path, split the same way (the first stage is the Bot API stand-in handing the "
                  "update to the gateway's long poll; the last includes the gateway rendering and sending the "
                  "first message through its rate limiter):", ""]
        rows = []
        for stage in TG_STAGES:
            row = [stage]
            for key in tg_keys:
                value = dict((n, (v, s)) for n, v, s in run.stages[key].table(TG_STAGES))[stage]
                row.append(f"{value[0]:.0f} ({value[1]:.0%})" if not math.isnan(value[0]) else "–")
            rows.append(row)
        lines += table(["stage (mean ms per message, share)"] + tg_keys, rows)
    prof = run.rasa_profile
    if prof is not None and prof.busy_s > 0:
        lines += ["", f"Inside our Rasa server: a second Rasa server (same model, endpoints and action server) ran "
                  f"under Python's cProfile while guests sent it {prof.messages} messages; the profiler was on only "
                  "during those messages. Its main thread (HTTP, NLU, policies, tracker store, action-server calls) "
                  f"was busy {prof.busy_s:.1f} s. cProfile slows Python code, so read the shares rather than the "
                  "seconds.", ""]
        lines += table(["step (cumulative)", "share of Rasa's busy time"],
                       [[label, f"{seconds / prof.busy_s:.0%}"] for label, seconds in prof.steps])
        lines += [""]
        lines += table(["component (self time)", "share"],
                       [[name, f"{seconds / prof.busy_s:.0%}"] for name, seconds in prof.buckets[:8]])
    top_key = next((k for k in run.stages if k.startswith("ours rest")), None)
    if top_key:
        lines += ["", f"Costliest dialogue steps ({top_key}; a step is the policy prediction plus the action):", ""]
        lines += table(["action", "median ms", "count"],
                       [[f"`{name}`", f"{median:.0f}", str(count)]
                        for name, median, count in run.stages[top_key].top_actions()])
    lines += ["", "## Memory (peak RSS)", "",
              "Sampled from `/proc` every second; a process's peak is the larger of the samples and the kernel's "
              "high-water mark (`VmHWM`).", ""]
    rows = [[f"ours: {name}", f"{mb:.0f}"] for name, mb in run.rss_ours.items()]
    rows.append(["**ours: total (sum of the peaks)**", f"**{run.rss_total():.0f}**"])
    rows.append(["ours: highest simultaneous total", num(run.rss_ours_simultaneous, 0)])
    rows += [[f"bare: {name}", f"{mb:.0f}"] for name, mb in run.rss_bare.items()]
    lines += table(["process", "MB"], rows)
    lines += ["", "## Scheduler", "",
              "`scripts/bench_scheduler.py`: follow-ups due uniformly within one minute, performed by the real "
              "dispatcher (APScheduler wake-ups, safety tick, claims); each writes one sink row in the transaction "
              "that settles it, so a duplicate shows as two rows and a loss as none. Lateness is from the due time "
              "to the effect being written.", ""]
    lines += table(["backend", "follow-ups", "due within", "p50 s", "p99 s (goal ≤ 2)", "max s", "duplicates", "lost"],
                   [[s["backend"], str(s["count"]), f"{s['spread_s']:.0f} s", f"{s['p50_s']:.3f}", f"{s['p99_s']:.3f}",
                     f"{s['max_s']:.3f}", str(s["duplicates"]), str(s["losses"])] for s in run.scheduler])
    if run.outbound is not None:
        o = run.outbound
        lines += ["", "## Outbound to the Bot API", "",
                  f"A `python -m bot serve` process (gateway and staff desk, its own fresh database and Bot API "
                  f"stand-in) gets {o.queued_guest} pending guest notifications (a domain response with buttons, "
                  f"the scheduler's outbox format) interleaved over {o.chats} private chats, and {o.queued_staff} "
                  "staff notices for the staff group, all staged at once. Rates come from the stand-in's arrival "
                  "timestamps; each limit is checked over every sliding window (strictly: the most messages in any "
                  "1 s overall, in any 1 s to one chat, in any 60 s to the group).", ""]
        lines += table(["figure", "value"], [
            ["guest messages delivered", f"{o.delivered_guest} / {o.queued_guest}"],
            ["staff notices delivered", f"{o.delivered_staff} / {o.queued_staff}"],
            ["first message after staging", f"{o.first_send_after_s:.1f} s"],
            ["outbox emptied after", f"{o.drain_s:.1f} s"],
            ["sustained rate, guest messages (first to last)", f"{o.sustained_guest_per_s:.1f} msg/s"],
            ["sustained rate, all messages", f"{o.sustained_all_per_s:.1f} msg/s"],
            ["most messages in any 1 s, overall (limit 30)", str(o.max_any_1s)],
            ["most messages in any 1 s to one chat (limit 1)", str(o.max_chat_1s)],
            ["most messages in any 3 s to one chat", str(o.max_chat_3s)],
            ["most messages in any 60 s to the staff group (limit 20)", str(o.max_group_60s)],
            ["outbox rows failed / still pending", f"{o.failed_rows} / {o.pending_rows}"],
        ])
    lines += ["", "## Machine load during the run", "",
              "Cores busy on average during each phase, in total and outside this benchmark's own processes "
              "(other agents' work on the shared machine), and the 1-minute load average when the phase began.", ""]
    lines += table(["phase", "seconds", "cores busy", "cores busy (others)", "load at start"],
                   [[name, f"{sec:.0f}", num(total, 2), num(others, 2), load]
                    for name, sec, total, others, load in run.phases])
    lines += ["", "## Interpretation", ""]
    lines += [f"- {line}" for line in interpretation(run)]
    lines += ["", "## How to run", "",
              "```bash",
              "make bench                    # full run (about 20 min), writes this file",
              ".venv/bin/python scripts/bench.py --quick   # smoke run (small levels), prints only",
              "PROFILE=prod make bench       # passes PROFILE to `python -m bot run`",
              "```", ""]
    return "\n".join(lines)


def _process_order(name: str) -> tuple[int, str]:
    order = ["rasa", "actions", "bot", "scheduler"]
    base = name.split("#")[0]
    return (order.index(base) if base in order else len(order), name)


def guests(n: int) -> str:
    """Return "1 guest" or "n guests"."""
    return f"{n} guest" if n == 1 else f"{n} guests"


def _extra(ms_value: float) -> str:
    return f"about {ms_value:.0f} ms" if ms_value >= 5 else "nothing measurable"


def _outbox_rounds() -> tuple[float | None, int | None]:
    """Return the gateway's outbox round interval and batch size, as the code configures them."""
    try:
        import inspect

        from bot.telegram.gateway import GatewayConfig
        from crm_store.services.messaging import pending_outbound

        return (float(GatewayConfig().retry_interval_s),
                int(inspect.signature(pending_outbound).parameters["limit"].default))
    except Exception:  # noqa: BLE001 - only an explanation; leave it out if the code changed shape
        return None, None


def _action_label(name: str) -> str:
    return "no action (HTTP + payload)" if "no_such_action" in name else f"`{name}`"


def _profile_text() -> str:
    return ("Each measured message is split with Rasa's own event timestamps (same clock as the client): "
            "*receive+NLU* is from sending to the `UserUttered` event (request in, tracker load, NLU); *session "
            "start* is `action_session_start` before a guest's first message; *responses/policies* are the steps "
            "ending in a response or built-in action (policy prediction + templating); *custom actions* are the "
            "steps ending in a custom action or form (prediction + action server + CRM); *save+reply* is from the "
            "last action to the answer (tracker save, HTTP out). Means per message, so the stages add up to the "
            "mean latency. With one guest the split is the cost of each stage; with many, every stage also holds "
            "the time spent waiting for a CPU or for Rasa's event loop, which other conversations' NLU and "
            "predictions keep busy, so it shows where messages wait rather than what each step costs.")


def interpretation(run: Run) -> list[str]:
    """Return plain statements derived from the figures."""
    out: list[str] = []
    p95s = run.p95_ratios()
    if p95s:
        worst = max(p95s, key=lambda n: p95s[n])
        out.append(f"Our REST p95 is {num(p95s[worst])}× the bare bot's at {guests(worst)} (worst level); the goal "
                   f"of ≤ {P95_RATIO_GOAL} is {'met' if p95s[worst] <= P95_RATIO_GOAL else 'not met'}.")
    for key, stages in run.stages.items():
        if not key.startswith("ours rest"):
            continue
        rows = [r for r in stages.table(STAGES) if not math.isnan(r[1])]
        if rows:
            name, value, share = max(rows, key=lambda r: r[1])
            out.append(f"With {guests(int(key.split()[-1]))} the largest share of our time is *{name}* "
                       f"({value:.0f} ms per message, {share:.0%}).")
    if "ours" in run.parse_ms and "bare" in run.parse_ms:
        out.append(f"NLU alone costs {run.parse_ms['ours']:.0f} ms per message for our pipeline against "
                   f"{run.parse_ms['bare']:.0f} ms for the sample pipeline.")
    top = max(run.levels) if run.levels else None
    tg_key = next((k for k in run.stages if k.startswith("ours telegram")), None)
    rest_key = tg_key.replace("telegram", "rest") if tg_key else None
    if tg_key and rest_key in run.stages:
        tg_stages = {n: v for n, v, _ in run.stages[tg_key].table(TG_STAGES)}
        rest_stages = {n: v for n, v, _ in run.stages[rest_key].table(STAGES)}
        inbound = (tg_stages["update handed to gateway"] + tg_stages["gateway + receive+NLU"]
                   - rest_stages["receive+NLU"])
        outbound = tg_stages["save + gateway send"] - rest_stages["save+reply"]
        level = tg_key.split()[-1]
        out.append(f"With {guests(int(level))}, against the REST path, the Telegram gateway adds "
                   f"{_extra(inbound)} before Rasa (long poll, update dedupe and kept-message check in the CRM "
                   "database, HTTP to Rasa) and "
                   f"{_extra(outbound)} after it (rendering, the rate limiters, `sendMessage`) per message.")
        stages = run.stages[tg_key]
        if stages.after_button and stages.after_text:
            button = 1000 * statistics.mean(stages.after_button)
            text = 1000 * statistics.mean(stages.after_text)
            if button > text + 100:
                out.append(f"After Rasa answers, the gateway takes {button:.0f} ms on average to deliver the first "
                           f"reply to a button press against {text:.0f} ms for typed text: a press also clears the "
                           "keyboard (`editMessageReplyMarkup`), which counts against the chat's limiter budget (3 "
                           "messages per 3 s), so a guest tapping survey answers quickly waits for the limiter.")
            else:
                out.append(f"After Rasa answers, the gateway delivers the first reply in {button:.0f} ms after a "
                           f"button press and {text:.0f} ms after typed text (no limiter wait to speak of).")
    if top is not None:
        levels = [("our REST", run.ours["rest"].get(top)), ("the bare bot", run.bare.get(top)),
                  ("our Telegram path", run.ours["telegram"].get(top))]
        starved = [(name, lvl) for name, lvl in levels if lvl is not None and lvl.slowest_first_share >= 0.5]
        if starved:
            names = " and ".join(name for name, _ in starved)
            out.append(f"At {top} guests the slowest 1 % of the messages of {names} are mostly guests' *first* "
                       "messages, sent while the server was already saturated by the guests who arrived before "
                       "them; without first messages the p99 is "
                       + ", ".join(f"{ms(lvl.p99_later)} ms ({name})" for name, lvl in starved)
                       + ". Rasa's HTTP server (Sanic on uvloop) takes on new connections only between passes of "
                       "its event loop, and a saturated pass lasts a second or more, so a connection opened during "
                       "the ramp-up waits (checked while writing this benchmark: with a new connection for every "
                       "request the wait disappears). The gateway's pooled connections to Rasa meet the same wait "
                       "whenever the pool has to grow.")
    thr = run.throughput_ratios()
    if thr and top in run.bare and top in run.ours["rest"]:
        ours, bare = run.ours["rest"][top].summary, run.bare[top].summary
        saturated = ours.p50 > THINK_MEAN_S
        out.append(f"At {top} guests we answer {ours.throughput:.1f} messages/s with a p50 of {ms(ours.p50)} ms"
                   + (": the stack is saturated and the guests, who wait for each answer, queue. " if saturated
                      else ". ")
                   + (f"The bare bot answers in {ms(bare.p50)} ms (p50), so its {bare.throughput:.1f} messages/s "
                      "are limited by the guests' think time, not by its capacity: the real capacity gap is wider "
                      "than the throughput ratio." if bare.p50 < 0.3 else
                      f"The bare bot is saturated too ({ms(bare.p50)} ms p50)."))
    if run.outbound is not None:
        o = run.outbound
        out.append(f"Outbound, the gateway sustained {o.sustained_guest_per_s:.1f} guest messages/s "
                   f"({'within' if o.limits_ok else 'outside'} Telegram's limits as checked strictly).")
        interval, batch = _outbox_rounds()
        if o.sustained_guest_per_s < GLOBAL_LIMIT_PER_S / 2 and interval and batch:
            out.append(f"That is well below the 30 messages/s Telegram allows: the gateway drains the outbox in "
                       f"rounds (`GatewayConfig.retry_interval_s` = {interval:g} s between rounds, at most {batch} "
                       f"rows per round, one message at a time), which caps it near {batch / interval:.0f} "
                       "messages/s however fast the Bot API answers.")
        if not o.limits_ok:
            out.append("The strict windows were exceeded because the limiters are token buckets (aiolimiter, as "
                       "python-telegram-bot's AIORateLimiter uses): after a quiet moment a full bucket passes at once "
                       "(30 overall, 20 to a group, 3 to a private chat) on top of the steady rate, so a sliding "
                       "1-second or 60-second window can hold more than the nominal limit. Telegram documents its "
                       "limits as approximate; a strict guarantee needs a sliding-window limiter.")
    for key, per in run.cpu_ms.items():
        if key.startswith("ours rest") and key.endswith(f" {run.levels[0]}"):
            total = sum(v for k, v in per.items() if k != "supervisor")
            if total > 0:
                top_name, top_value = max(((k, v) for k, v in per.items() if k != "supervisor"), key=lambda kv: kv[1])
                out.append(f"One REST message costs our processes {total:.0f} ms of CPU ({top_name} {top_value:.0f} ms "
                           f"of it), so on {run.machine['cpus']} otherwise idle cores the stack could not answer "
                           f"much more than {1000 * int(run.machine['cpus']) / total:.0f} messages/s whatever the "
                           "concurrency.")
    prof = run.rasa_profile
    if prof is not None and prof.busy_s > 0:
        steps = dict(prof.steps)
        schema = next((v for k, v in steps.items() if "jsonschema" in k), 0.0)
        nlu = next((v for k, v in steps.items() if k.startswith("NLU")), 0.0)
        policies = next((v for k, v in steps.items() if k.startswith("policy")), 0.0)
        if schema / prof.busy_s >= 0.10:
            out.append(f"Inside Rasa, validating each action server's answer against Rasa's event schema "
                       f"(`jsonschema.validate` in `RemoteAction`) takes {schema / prof.busy_s:.0%} of the busy time, "
                       f"against {nlu / prof.busy_s:.0%} for NLU and {policies / prof.busy_s:.0%} for the policies"
                       + (": it is the largest single cost, and the bare bot, which calls no action server, never "
                          "pays it." if schema >= max(nlu, policies) else "."))
        else:
            top_step = max(((k, v) for k, v in steps.items() if not k.startswith("whole")), key=lambda kv: kv[1],
                           default=None)
            if top_step is not None:
                out.append(f"Inside Rasa, the largest step is *{top_step[0]}* ({top_step[1] / prof.busy_s:.0%} of "
                           f"the busy time); NLU takes {nlu / prof.busy_s:.0%}, and validating action-server answers "
                           f"no longer shows ({schema / prof.busy_s:.0%}).")
    errors = {k: v for k, v in run.log_findings.items() if "template" not in k}
    if errors:
        out.append("Errors in the logs: "
                   + "; ".join(f"{k} ({v})" for k, v in sorted(errors.items(), key=lambda kv: -kv[1]))
                   + " (lines over the whole conversation phase; see the table under the conversations).")
    busy = [others for _, _, _, others, _ in run.phases if not math.isnan(others)]
    if busy and max(busy) >= 0.3:
        out.append(f"The machine was shared: other processes kept up to {max(busy):.1f} of the "
                   f"{run.machine['cpus']} cores busy during a phase, so latencies are higher than on an idle "
                   "machine; compare ratios rather than absolute figures between runs.")
    out += run.notes
    return out
