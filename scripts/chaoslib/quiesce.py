"""Wait until the system has nothing left to do: no due follow-up unsettled, no guest message waiting, no
outbox row undelivered, every guest update seen by the gateway, and the Bot API quiet for a few seconds."""

from __future__ import annotations

import time

from sqlalchemy import create_engine, text

from .botapi import ChaosBotApi

STABLE_S = 6.0


def _busy(conn, api: ChaosBotApi) -> list[str]:  # type: ignore[no-untyped-def]
    """Return what is still going on (empty when nothing is)."""
    busy: list[str] = []
    due = conn.execute(text(
        "SELECT count(*) FROM follow_up WHERE status IN ('pending', 'claimed') AND due_at <= now()")).scalar_one()
    if due:
        busy.append(f"{due} due follow-up(s)")
    waiting = conn.execute(text(
        "SELECT count(*) FROM inbound_message WHERE status NOT IN ('answered', 'failed')")).scalar_one()
    if waiting:
        busy.append(f"{waiting} inbound message(s) waiting")
    # Staff rows wait for a staff desk; the chaos stack runs none (scripts/chaoslib/staff.py says why).
    outbox = conn.execute(text(
        "SELECT count(*) FROM outbound_message WHERE status = 'pending' AND channel <> 'staff'")).scalar_one()
    if outbox:
        busy.append(f"{outbox} outbox row(s) pending")
    queued = len(api._updates) + len(api._forced)  # not yet confirmed by the gateway's getUpdates offset
    if queued:
        busy.append(f"{queued} update(s) still queued at the Bot API")
    return busy


def wait_quiescent(crm_url: str, api: ChaosBotApi, timeout_s: float) -> tuple[bool, float, str]:
    """Poll until quiet for STABLE_S seconds; return (quiescent, seconds waited, what was last seen)."""
    engine = create_engine(crm_url, future=True, pool_pre_ping=True)
    started = time.monotonic()
    quiet_since: float | None = None
    last_calls = -1
    detail = ""
    try:
        while time.monotonic() - started < timeout_s:
            try:
                with engine.connect() as conn:
                    busy = _busy(conn, api)
            except Exception as exc:  # noqa: BLE001 - the database may still be coming back
                busy = [f"database: {type(exc).__name__}"]
            calls = sum(1 for c in api.calls if c.method != "getUpdates")
            if calls != last_calls:
                busy.append("Bot API still busy")
                last_calls = calls
            detail = "; ".join(busy) or "nothing pending"
            if busy:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= STABLE_S:
                return True, time.monotonic() - started, detail
            time.sleep(1.0)
        return False, time.monotonic() - started, detail
    finally:
        engine.dispose()
