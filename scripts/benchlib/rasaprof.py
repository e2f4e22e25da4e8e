"""Profile our Rasa server with the standard library's cProfile while guests talk to it.

A second Rasa server (same model, endpoints and action server as the stack, its own SQLite tracker store
and port) runs under ``profiled_rasa.py``: the profiler is switched on (SIGUSR1) once the model is loaded
and off (SIGUSR2, which saves it) when the guests are done, so only message handling is profiled. The main
thread's self time (cProfile's *tottime*; the event loop waiting in epoll is set apart as idle) is grouped by
component, and the cumulative time of the processor's main steps is reported as a share of the busy time.
cProfile slows Python code down (so read shares, not milliseconds), and it sees only the main thread (where
Rasa runs HTTP, NLU, policies, the tracker store and the action-server calls).
"""

from __future__ import annotations

import asyncio
import pstats
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

from scripts.benchlib.stack import REPO, Managed, base_env, free_port, model_loaded, spawn, wait_until

# (component, substrings of the file path or built-in name), first match wins.
BUCKETS: list[tuple[str, tuple[str, ...]]] = [
    ("event loop idle (epoll)", ("select.epoll", "'poll' of 'select")),
    ("TensorFlow / Keras (DIET and TED inference)", ("tensorflow", "keras", "_pywrap", "TFE_")),
    ("SQL tracker store (SQLAlchemy, sqlite3)", ("rasa/core/tracker_store.py", "sqlalchemy", "sqlite3")),
    ("logging (incl. the interpolator ERRORs)", ("logging/", "structlog", "rasa/core/nlg/interpolator.py",
                                                 "traceback", "linecache", "rich/")),
    ("jsonschema (validating every action-server answer)", ("jsonschema", "pyrsistent", "urllib/parse.py",
                                                            "attr/_make.py", "<attrs generated")),
    ("JSON encoding and decoding", ("json/", "_json", "ujson")),
    ("events and tracker replay", ("rasa/shared/core/events.py", "rasa/shared/core/trackers.py",
                                   "rasa/shared/core/slots.py")),
    ("domain", ("rasa/shared/core/domain.py",)),
    ("NLU components (tokenizer, featurizers, hotel_nlu, spaCy)", ("rasa/nlu/", "hotel_nlu/", "spacy/", "thinc/",
                                                                   "sklearn/", "scipy/")),
    ("policies and featurizers", ("rasa/core/policies/", "rasa/core/featurizers/", "rasa/utils/tensorflow/")),
    ("action calls (HTTP client)", ("rasa/core/actions/", "rasa/utils/endpoints.py", "aiohttp/", "yarl/",
                                    "multidict")),
    ("HTTP server (Sanic)", ("sanic/", "httptools", "rasa/core/channels/", "rasa/server.py")),
    ("asyncio", ("asyncio/",)),
    ("graph engine and processor", ("rasa/engine/", "rasa/core/processor.py", "rasa/core/agent.py")),
    ("numpy", ("numpy",)),
]

# Steps of Rasa's message processing whose cumulative time is worth reporting: (label, file suffix, function).
STEPS: list[tuple[str, str, str]] = [
    ("whole message (handle_message)", "rasa/core/processor.py", "handle_message"),
    ("validating action-server answers (jsonschema.validate)", "jsonschema/validators.py", "validate"),
    ("NLU (parse_message)", "rasa/core/processor.py", "parse_message"),
    ("policy predictions (predict_next_with_tracker_if_should)", "rasa/core/processor.py",
     "predict_next_with_tracker_if_should"),
    ("running actions (_run_action)", "rasa/core/processor.py", "_run_action"),
    ("custom action calls (RemoteAction.run)", "rasa/core/actions/action.py", "run"),
    ("tracker load (tracker_store retrieve)", "rasa/core/tracker_store.py", "retrieve"),
    ("tracker save (tracker_store save)", "rasa/core/tracker_store.py", "save"),
    ("logging calls (Logger._log)", "logging/__init__.py", "_log"),
]


@dataclass
class RasaProfile:
    """The grouped profile."""

    messages: int = 0
    busy_s: float = 0.0
    idle_s: float = 0.0
    buckets: list[tuple[str, float]] = field(default_factory=list)  # (component, self seconds)
    steps: list[tuple[str, float]] = field(default_factory=list)  # (step, cumulative seconds)


def bucket_of(filename: str, function: str) -> str:
    """Return the component a profiled function belongs to."""
    where = f"{filename}:{function}".replace("\\\\", "/")
    for name, needles in BUCKETS:
        if any(needle in where for needle in needles):
            return name
    return "other Python"


def summarise(path: Path, messages: int) -> RasaProfile:
    """Group a cProfile output file."""
    stats = pstats.Stats(str(path))
    totals: dict[str, float] = {}
    steps: dict[str, float] = {}
    entries = stats.stats.items()  # type: ignore[attr-defined]
    for (filename, _line, function), (_cc, _nc, tottime, cumtime, _callers) in entries:
        name = bucket_of(filename, function)
        totals[name] = totals.get(name, 0.0) + tottime
        for label, suffix, func in STEPS:
            if filename.replace("\\\\", "/").endswith(suffix) and function == func:
                if label.startswith("custom action calls") and "RemoteAction" not in _qualname(stats, filename, _line):
                    continue
                steps[label] = max(steps.get(label, 0.0), cumtime)
    idle = totals.pop("event loop idle (epoll)", 0.0)
    busy = sum(totals.values())
    return RasaProfile(messages, busy, idle, sorted(totals.items(), key=lambda kv: -kv[1]),
                       [(label, steps[label]) for label, _, _ in STEPS if label in steps])


def _qualname(stats: pstats.Stats, filename: str, line: int) -> str:
    """Return the source line's class context for ``filename:line`` (best effort: the nearest class above)."""
    try:
        lines = Path(filename).read_text(errors="replace").splitlines()[:line]
    except OSError:
        return ""
    for text in reversed(lines):
        if text.startswith("class "):
            return text
    return ""


async def start_profiled_rasa(work: Path, stack_env_vars: dict[str, str], token: str) -> tuple[Managed, str, Path]:
    """Start Rasa (profiler off) against the stack's first action server; return it, its URL, the profile path."""
    from bot.supervisor import latest_model

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    out = work / "rasa.prof"
    env = base_env({**stack_env_vars, "PROFILE": "embedded"})
    env["ACTION_ENDPOINT_URL"] = f"{stack_env_vars['ACTION_SERVER_URL'].rstrip('/')}/webhook"
    env["TRACKER_STORE_URL"] = f"sqlite:///{work}/profiled-tracker.db"
    env["TRACKER_DB_DIALECT"] = "sqlite"
    argv = [sys.executable, "-m", "scripts.benchlib.profiled_rasa", str(out), "run", "--enable-api",
            "--model", str(latest_model(REPO / "models")), "--endpoints", str(REPO / "endpoints.yml"),
            "--credentials", str(REPO / "credentials.yml"), "--interface", "127.0.0.1", "--port", str(port),
            "--auth-token", token]
    managed = spawn("rasa-profiled", argv, env, REPO, work / "rasa-profiled.log")
    if not await wait_until(managed, lambda: model_loaded(url, token), 300):
        tail = managed.tail()
        await asyncio.to_thread(managed.stop)
        raise RuntimeError(f"the profiled Rasa server did not start:\n{tail}")
    return managed, url, out


def profiler_on(managed: Managed) -> None:
    """Switch the profiler on."""
    managed.process.send_signal(signal.SIGUSR1)


async def profiler_off(managed: Managed, out: Path, timeout_s: float = 60) -> bool:
    """Switch the profiler off and wait for the profile file; return whether it was written."""
    managed.process.send_signal(signal.SIGUSR2)
    deadline = asyncio.get_running_loop().time() + timeout_s
    size = -1
    while asyncio.get_running_loop().time() < deadline:
        if out.exists() and out.stat().st_size == size and size > 0:
            return True
        size = out.stat().st_size if out.exists() else -1
        await asyncio.sleep(0.5)
    return out.exists()
