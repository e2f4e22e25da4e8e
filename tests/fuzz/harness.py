"""Shared pieces of the fuzz tests: input budget, hypothesis settings, cheap draws, a raw HTTP poster, log capture."""

from __future__ import annotations

import http.client
import json
import logging
import math
import os
import threading
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

DEFAULT_INPUTS = 10_000


def target_inputs() -> int:
    """Return how many generated inputs each fuzz target runs: FUZZ_EXAMPLES, default 10,000."""
    raw = os.environ.get("FUZZ_EXAMPLES", "").strip()
    if not raw:
        return DEFAULT_INPUTS
    value = int(raw)
    if value < 1:
        raise ValueError("FUZZ_EXAMPLES must be at least 1")
    return value


def fuzz_settings(mean_batch: float) -> settings:
    """Return hypothesis settings running enough examples of ``mean_batch`` inputs each to reach the target.

    Derandomized with no example database, so CI runs the same inputs every time; no deadline (the
    machine is shared); shrinking stays on so a failure is reported as a small example.
    """
    examples = max(1, math.ceil(target_inputs() / mean_batch))
    return settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        print_blob=True,
        phases=(Phase.explicit, Phase.generate, Phase.target, Phase.shrink),
        suppress_health_check=list(HealthCheck),
    )


# -- cheap draws: strategies built once (building one in every draw is slow) ---------------------

_index_strategies: dict[int, st.SearchStrategy[int]] = {}
BOOL = st.booleans()


def index(n: int) -> st.SearchStrategy[int]:
    """Return a (cached) strategy for an index in range(n)."""
    strategy = _index_strategies.get(n)
    if strategy is None:
        strategy = _index_strategies[n] = st.integers(0, n - 1)
    return strategy


def pick(draw: st.DrawFn, options: Any) -> Any:
    """Draw one of ``options``."""
    return options[draw(index(len(options)))]


# -- what each target ran, printed at the end of the session (conftest.py) ----------------------

RUNS: dict[str, dict[str, int]] = {}


def record_run(target: str, **counts: int) -> None:
    """Remember what a fuzz target ran (inputs, examples, outcomes) for the session summary."""
    RUNS[target] = dict(counts)
    print(f"fuzz {target}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


@dataclass
class Answer:
    """Hold one HTTP answer: status, raw body and the body as JSON (None when it is not JSON)."""

    status: int
    body: bytes
    json: Any = None


@dataclass
class Poster:
    """POST raw bytes to one loopback server over a kept-alive connection (reconnects when needed)."""

    port: int
    timeout: float = 30.0
    _conn: http.client.HTTPConnection | None = field(default=None, init=False)

    def post(
        self, path: str, body: bytes, headers: dict[str, str], *, chunked: bool = False, one_shot: bool = False
    ) -> Answer:
        """POST ``body`` as is (``chunked``: without Content-Length, in 64 KiB chunks) and return the answer.

        ``one_shot`` sends it on a connection of its own, closed afterwards: a server that refuses a body early
        (413) may leave the rest of it unread on the connection, as a real client would not reuse it either.
        """
        if one_shot:
            saved, self._conn = self._conn, None
            try:
                return self.post(path, body, {**headers, "Connection": "close"}, chunked=chunked)
            finally:
                self.close()
                self._conn = saved
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            try:
                if chunked:
                    chunks = iter([body[i : i + 65536] for i in range(0, len(body), 65536)])
                    self._conn.request("POST", path, body=chunks, headers=headers, encode_chunked=True)
                else:
                    self._conn.request("POST", path, body=body, headers=headers)
                response = self._conn.getresponse()
                raw = response.read()
                if response.getheader("Connection", "").lower() == "close":
                    self.close()
                break
            except (ConnectionError, http.client.HTTPException):
                self.close()
                if attempt == 2:
                    raise
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        return Answer(response.status, raw, parsed)

    def close(self) -> None:
        """Close the connection."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class LogCapture(logging.Handler):
    """Keep every formatted log record (message and traceback) emitted while installed on the root logger."""

    def __init__(self) -> None:
        """Capture from INFO up, as production logs."""
        super().__init__(logging.INFO)
        self.records: list[str] = []
        self._lock_records = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        """Store the record's full text."""
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string is still worth seeing
            text = f"{record.msg!r} % {record.args!r}"
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        with self._lock_records:
            self.records.append(f"{record.levelname} {record.name}: {text}")

    def __enter__(self) -> LogCapture:
        root = logging.getLogger()
        self._old_level = root.level
        root.setLevel(logging.INFO)
        root.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        root = logging.getLogger()
        root.removeHandler(self)
        root.setLevel(self._old_level)

    def text(self) -> str:
        """Return everything captured as one string."""
        with self._lock_records:
            return "\n".join(self.records)
