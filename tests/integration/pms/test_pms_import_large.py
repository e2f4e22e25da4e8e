"""Import a generated 10,000-row PMS export (with broken rows) into a migrated SQLite database, twice."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import func, select

from bot.pms_import import HEADER, import_file
from crm_store.model import FollowUp, Guest, Stay
from crm_store.services.stays import SurveyTiming

ROWS = 10_000
STATUSES = ("booked", "in_house", "checked_out", "cancelled", "no_show")
BROKEN = (
    ("email", "not-an-email", "email: not an e-mail address"),
    ("departure", "2026-01-01", "departure: before arrival"),
    ("status", "arrived", "status: expected one of"),
    ("arrival", "2026-02-30", "arrival: not a valid calendar date"),
)


def _write_export(path: Path) -> tuple[int, int, int, dict[int, str]]:
    """Write the file; return (valid rows, checked-out valid rows, guests, expected reason prefix by line)."""
    lines = [",".join(HEADER)]
    expected: dict[int, str] = {}
    guests: set[int] = set()
    valid = checked_out = 0
    for i in range(ROWS):
        line_number = i + 2
        guest = i % 3000
        row = {
            "reservation_ref": f"R-{i:05d}",
            "first_name": f"First{guest}",
            "last_name": f"Last{guest}",
            "email": f"guest{guest}@example.com",
            "phone": f"+44 20 7946 {guest:04d}",
            "room": str(100 + i % 400),
            "arrival": f"2026-05-{1 + i % 20:02d}",
            "departure": f"2026-05-{3 + i % 20:02d}",
            "status": STATUSES[i % 5],
            "language": "en",
        }
        if i % 250 == 17:
            column, value, reason = BROKEN[(i // 250) % len(BROKEN)]
            row[column] = value
            expected[line_number] = reason
        elif i % 1000 == 500:
            row["reservation_ref"] = f"R-{i - 1:05d}"  # same reference as the line before, other room
            row["room"] = "999"
            expected[line_number] = f"reservation_ref: repeats line {line_number - 1} with different data"
        else:
            valid += 1
            guests.add(guest)
            checked_out += row["status"] == "checked_out"
        lines.append(",".join(row[name] for name in HEADER))
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8-sig")
    return valid, checked_out, len(guests), expected


def _count(session_factory, model) -> int:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def test_pms_import_ten_thousand_rows_reports_rejections_and_is_idempotent(tmp_path, session_factory, clock) -> None:
    export = tmp_path / "stays.csv"
    valid, checked_out, guests, expected = _write_export(export)
    timing = SurveyTiming()

    started = time.perf_counter()
    first = import_file(export, session_factory, clock, timing, show_progress=False)
    first_seconds = time.perf_counter() - started
    assert (first.created, first.updated, first.unchanged) == (valid, 0, 0)
    assert first.rejected == len(expected) == 50
    for rejection in first.rejections:
        assert rejection.reason.startswith(expected[rejection.line]), rejection
    assert _count(session_factory, Stay) == valid
    assert _count(session_factory, Guest) == guests
    assert _count(session_factory, FollowUp) == checked_out

    started = time.perf_counter()
    second = import_file(export, session_factory, clock, timing, show_progress=False)
    second_seconds = time.perf_counter() - started
    assert (second.created, second.updated, second.unchanged, second.rejected) == (0, 0, valid, 50)
    assert _count(session_factory, Stay) == valid
    assert _count(session_factory, FollowUp) == checked_out

    print(f"\n10,000-row import: first {first_seconds:.1f} s, again {second_seconds:.1f} s")
    assert first_seconds < 60
