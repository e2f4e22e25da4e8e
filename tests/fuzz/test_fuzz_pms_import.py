"""Fuzz the PMS CSV import (bot/pms_import.py) with generated files, into a migrated PostgreSQL database.

Hypothesis generates CSV files of 20 rows: good rows (odd Unicode names, commas, quotes and line breaks inside
quoted fields, the longest allowed values, every status) mixed with rows broken in exactly one way (a bad or
missing value in each column, departure before arrival, too few or too many fields, a NUL byte, a field over the
CSV module's size limit), blank rows, conflicting repeats of a reference; written with LF, CRLF or CR line ends,
with or without a byte-order mark, the columns in any order and case, sometimes an extra column. One file in
eight is broken as a whole: a missing or repeated column, another delimiter, empty, UTF-16 or Latin-1.

Checked for every file: no exception but ImportFileError for a broken file (then nothing is written); every good
row lands (the report's counts) and every bad row is rejected with its physical line number and a reason naming
the broken field, never echoing the value; the command line's exit code and output agree. At the end every stay
holds exactly what the last good row for its reference said, so the broken rows changed nothing, and the stays
that existed before the fuzz kept their guest.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import re
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.pms_import import HEADER, ImportFileError, _reservation, command, import_file
from crm_store.db import make_engine, make_session_factory
from crm_store.errors import ValidationError
from crm_store.model import Stay
from crm_store.recovery_policy import load_policy_for
from crm_store.services.stays import SurveyTiming, stay_bounds
from crm_store.settings import load_settings
from tests.fuzz.harness import BOOL, fuzz_settings, index, pick, record_run, target_inputs

ROWS = 20
TIMEZONE = "Europe/Berlin"
FIELD_LIMIT = 131_072  # the csv module's default field_size_limit

REFS = ["R-1001", "R-2002", "BK-3", "r-1001", "Z" + "9" * 63, "AB1-x", "X_12"] + [f"R-{n}" for n in range(5000, 5040)]
FIRST = ["Ann", "", "Zo\u00eb", "Jean, Luc", 'O"Neil', "Ann\nMarie", "\u202eevil", "\U0001F600", "A" * 80,
         "\u0645\u0631\u062d\u0628\u0627", "  Bo  "]
LAST = ["Lee", "", "Rossi", "\u6f22\u5b57", "B" * 80, "d'Este; Jr", "\u200bEk"]
EMAILS = ["", "ann@example.com", "ANN@EXAMPLE.COM", "x" * 240 + "@example.com", "\u00fcn\u00ef@ex\u00e4mple.de"]
PHONES = ["", "+44 20 7946 0001", "0044 20 7946 0001", "030 1234567", "(030) 12.34/56-7"]
ROOMS = ["", "412", "12b", "A-1", "0123456789"]
STATUSES = ["booked", "in_house", "checked_out", "cancelled", "no_show", "BOOKED", " booked "]
LANGUAGES = ["", "en", "pt-BR", "IT"]
# One way to break a row: (column, bad values, the reason's prefix); "departure<" puts departure before arrival.
BREAKS: list[tuple[str, list[str], str]] = [
    ("reservation_ref", ["", "  ", "ab", "R 1", "\u03a91234", "x" * 65, "-R1"], "reservation_ref:"),
    ("arrival", ["2026-02-30", "28/05/2026", "", "2026-6-1", "tomorrow", "2026-13-01"], "arrival:"),
    ("departure", ["2026-02-30", "", "2026/06/01"], "departure:"),
    ("departure<", [""], "departure: before arrival"),
    ("status", ["", "arrived", "checkedout", "\u200bbooked"], "status:"),
    ("email", ["ann@", "@x.com", "a b@c.d", "x" * 300 + "@e.com", "ann@@example.com"], "email:"),
    ("phone", ["abc", "12", "+" + "1" * 20, "+44 (0) 20 EXT 5"], "phone:"),
    ("room", ["room 1", "ROOM-NUMBER-12", "#4", "\u00e91"], "room:"),
    ("language", ["english please", "e", "12"], "language:"),
    ("first_name", ["C" * 81], "first_name:"),
    ("names", [""], "last_name: missing"),
    ("fields-", [""], "expected "),
    ("fields+", ["extra"], "expected "),
    ("nul", ["A\x00B"], "unreadable CSV"),
    ("huge", ["h" * (FIELD_LIMIT + 10)], "unreadable CSV"),
]
FILE_BREAKS = ["missing_column", "repeated_column", "semicolons", "empty", "utf16", "latin1"]


@dataclasses.dataclass
class Row:
    """One data row: its cells by column name, and how it was broken (None: a good row)."""

    cells: dict[str, str]
    broken: str | None = None
    reason: str = ""
    bad_value: str = ""


@dataclasses.dataclass
class CsvFile:
    """One generated file: its rows, layout and encoding, and what breaks it as a whole (if anything)."""

    rows: list[Row | None]  # None: a blank row
    order: list[str]
    upper: bool
    newline: str
    bom: bool
    extra_column: bool
    quote_all: bool
    file_break: str | None
    batch_size: int


@st.composite
def good_row(draw: st.DrawFn) -> Row:
    """Draw a valid row (a first or last name is always there)."""
    arrival = date(2026, 1, 1) + timedelta(days=draw(index(500)))
    first, last = pick(draw, FIRST), pick(draw, LAST)
    if not first.strip() and not last.strip():
        last = "Lee"
    return Row({
        "reservation_ref": pick(draw, REFS), "first_name": first, "last_name": last, "email": pick(draw, EMAILS),
        "phone": pick(draw, PHONES), "room": pick(draw, ROOMS), "arrival": arrival.isoformat(),
        "departure": (arrival + timedelta(days=draw(index(15)))).isoformat(), "status": pick(draw, STATUSES),
        "language": pick(draw, LANGUAGES),
    })


GOOD = good_row()


@st.composite
def any_row(draw: st.DrawFn) -> Row | None:
    """Draw a good row (most), a row broken in one way, or a blank row."""
    choice = draw(index(20))
    if choice == 0:
        return None
    row = draw(GOOD)
    if choice < 13:
        return row
    column, values, reason = pick(draw, BREAKS)
    value = pick(draw, values)
    cells = dict(row.cells)
    if column == "departure<":
        arrival = date.fromisoformat(cells["arrival"])
        cells["departure"] = (arrival - timedelta(days=1 + draw(index(30)))).isoformat()
    elif column == "names":
        cells["first_name"] = cells["last_name"] = value
    elif column in ("nul", "huge"):
        cells["first_name"] = value
    elif column not in ("fields-", "fields+"):
        cells[column] = value
    return Row(cells, broken=column, reason=reason, bad_value=value)


ROW = any_row()


@st.composite
def csv_file(draw: st.DrawFn) -> CsvFile:
    """Draw a file of ROWS rows with its layout; one in eight is broken as a whole."""
    rows = [draw(ROW) for _ in range(ROWS)]
    order = list(HEADER)
    for i in range(len(order) - 1, 0, -1):  # a drawn permutation of the columns
        j = draw(index(i + 1))
        order[i], order[j] = order[j], order[i]
    file_break = pick(draw, FILE_BREAKS) if draw(index(8)) == 0 else None
    return CsvFile(rows, order, draw(BOOL), pick(draw, ["\n", "\r\n", "\r"]), draw(BOOL), draw(index(4)) == 0,
                   draw(index(4)) == 0, file_break, pick(draw, [500] * 6 + [3, 1]))


FILES = csv_file()


def _cell(value: str, quote_all: bool, delimiter: str = ",") -> str:
    if quote_all or any(ch in value for ch in (delimiter, '"', "\n", "\r")):
        return '"' + value.replace('"', '""') + '"'
    return value


def render(spec: CsvFile) -> tuple[bytes, list[tuple[int, Row]], str | None]:
    """Return the file's bytes, each data row with its physical line number, and the expected file error."""
    delimiter = ";" if spec.file_break == "semicolons" else ","
    names = list(spec.order)
    if spec.file_break == "missing_column":
        names.remove(names[0])
    header = [n.upper() if spec.upper else n for n in names]
    if spec.file_break == "repeated_column":
        header.append(header[0])
    if spec.extra_column:
        header.append("Notes")
    lines = [delimiter.join(_cell(h, spec.quote_all, delimiter) for h in header)]
    placed: list[tuple[int, Row]] = []
    line = 2
    for row in spec.rows:
        if row is None:
            text = "" if line % 2 else delimiter * (len(header) - 1)
        else:
            values = [row.cells[n] for n in names]
            if spec.file_break == "repeated_column":
                values.append(values[0])
            if spec.extra_column:
                values.append("VIP, late")
            if row.broken == "fields-":
                values.pop()
            elif row.broken == "fields+":
                values.append(row.bad_value)
            text = delimiter.join(_cell(v, spec.quote_all, delimiter) for v in values)
            placed.append((line, row))
        lines.append(text)
        line += 1 + len(re.findall(r"\r\n|\r|\n", text))
    body = spec.newline.join(lines) + spec.newline
    expected_error = {
        "missing_column": "missing column(s)", "repeated_column": "appears twice", "semicolons": "missing column(s)",
        "empty": "empty", "utf16": "not UTF-8", "latin1": "not UTF-8",
    }.get(spec.file_break or "")
    if spec.file_break == "empty":
        return b"", [], expected_error
    if spec.file_break == "utf16":
        return body.encode("utf-16"), placed, expected_error
    if spec.file_break == "latin1":
        encoded = body.encode("latin-1", "replace")
        if encoded.isascii():
            encoded += "\u00e9".encode("latin-1")  # make sure it is not UTF-8
        return encoded, placed, expected_error
    return (b"\xef\xbb\xbf" if spec.bom else b"") + body.encode("utf-8"), placed, expected_error


def _normalised(row: Row) -> Any:
    try:
        return _reservation(row.cells)
    except ValidationError:
        return None


def expected_outcome(placed: list[tuple[int, Row]]) -> tuple[list[tuple[int, Row]], list[tuple[int, str]]]:
    """Return the rows that must land and the (line, reason prefix) of the rows that must be rejected."""
    landed: list[tuple[int, Row]] = []
    rejected: list[tuple[int, str]] = []
    first_seen: dict[str, tuple[int, Any]] = {}
    for line, row in placed:
        if row.broken is not None:
            rejected.append((line, row.reason))
            continue
        reservation = _normalised(row)
        assert reservation is not None, row  # the generator's good rows are valid
        earlier = first_seen.get(reservation.reference)
        if earlier is not None and earlier[1] != reservation:
            rejected.append((line, f"reservation_ref: repeats line {earlier[0]} with different data"))
            continue
        first_seen.setdefault(reservation.reference, (line, reservation))
        landed.append((line, row))
    return landed, rejected


# ----------------------------------------------------------------------------------- the test


@pytest.fixture
def csv_field_limit() -> Any:
    """Restore the csv module's field size limit after the test (the import must not change it)."""
    import csv

    limit = csv.field_size_limit()
    yield limit
    assert csv.field_size_limit() == limit
    csv.field_size_limit(limit)


def test_pms_import_fuzz_good_rows_land_bad_rows_rejected_by_line(
    pg_url: str, tmp_path: Path, csv_field_limit: int
) -> None:
    settings = load_settings({"DATABASE_URL": pg_url, "HOTEL_TIMEZONE": TIMEZONE})
    timing = SurveyTiming.from_rules(load_policy_for(settings).surveys, settings.tz)
    engine = make_engine(pg_url)
    session_factory = make_session_factory(engine)
    from crm_store.clock import SystemClock

    clock = SystemClock()
    path = tmp_path / "stays.csv"
    model: dict[str, dict[str, Any]] = {}
    totals = {"files": 0, "rows": 0, "landed": 0, "rejected": 0, "file_errors": 0, "cli": 0}

    def stay_count() -> int:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(Stay)).scalar_one())

    def remember(landed: list[tuple[int, Row]]) -> None:
        for _, row in landed:
            reservation = _normalised(row)
            state = model.setdefault(reservation.reference, {"room": None})
            state["bounds"] = stay_bounds(reservation.arrival, reservation.departure, timing.tz)
            state["status"] = reservation.status.value
            if reservation.room is not None:
                state["room"] = reservation.room

    # Stays that exist before the fuzz; the fuzz's references overlap them.
    seed = "\n".join([",".join(HEADER), "R-1001,Seed,Guest,seed@example.com,,101,2026-05-30,2026-06-02,in_house,en",
                      "R-2002,Seed,Other,,,,2026-05-30,2026-06-02,booked,"]) + "\n"
    path.write_text(seed, encoding="utf-8")
    report = import_file(path, session_factory, clock, timing)
    assert (report.created, report.rejected) == (2, 0)
    remember([(2, Row(dict(zip(HEADER, seed.splitlines()[1].split(","))))),
              (3, Row(dict(zip(HEADER, seed.splitlines()[2].split(",")))))])
    with session_factory() as session:
        guest_of = {s.reservation_ref: s.guest_id for s in session.execute(select(Stay)).scalars()}

    @fuzz_settings(mean_batch=ROWS)
    @given(spec=FILES)
    def run(spec: CsvFile) -> None:
        data, placed, file_error = render(spec)
        path.write_bytes(data)
        totals["files"] += 1
        totals["rows"] += len(spec.rows)
        use_cli = totals["files"] % 10 == 0
        before = stay_count()
        if file_error is not None:
            with pytest.raises(ImportFileError) as info:
                import_file(path, session_factory, clock, timing, batch_size=spec.batch_size)
            assert file_error in str(info.value), str(info.value)
            if file_error in ("missing column(s)", "appears twice"):
                assert ",".join(HEADER) in str(info.value)  # the message shows the expected header
            assert stay_count() == before
            totals["file_errors"] += 1
            return
        landed, rejected = expected_outcome(placed)
        if use_cli:
            out, err = io.StringIO(), io.StringIO()
            code = command(argparse.Namespace(file=str(path), batch_size=spec.batch_size), settings, out=out, err=err)
            assert code == (1 if rejected else 0), (code, err.getvalue()[:500])
            lines = out.getvalue().splitlines()
            summary = lines[0]
            assert f"rejected {len(rejected)}" in summary and f"{len(landed) + len(rejected)} rows" in summary
            got = [(int(m.group(1)), m.group(2)) for m in (re.match(r"line (\d+): (.*)", x) for x in lines[1:]) if m]
            totals["cli"] += 1
        else:
            report = import_file(path, session_factory, clock, timing, batch_size=spec.batch_size)
            assert report.created + report.updated + report.unchanged == len(landed)
            got = [(r.line, r.reason) for r in report.rejections]
        assert [line for line, _ in got] == [line for line, _ in rejected], (got, rejected)
        for (line, reason), (_, prefix) in zip(got, rejected):
            assert reason.startswith(prefix), (line, reason, prefix)
        for (_, row), (_, reason) in zip([p for p in placed if p[1].broken], got):
            if len(row.bad_value.strip()) > 3:
                assert row.bad_value.strip() not in reason, reason  # reasons never echo the value
        remember(landed)
        totals["landed"] += len(landed)
        totals["rejected"] += len(rejected)
        assert stay_count() == len(model)

    started = time.monotonic()
    run()
    seconds = time.monotonic() - started

    # Every stay holds what the last good row for its reference said; broken rows changed nothing.
    with session_factory() as session:
        stays = {s.reservation_ref: s for s in session.execute(select(Stay)).scalars()}
    assert set(stays) == set(model)
    for ref, state in model.items():
        stay = stays[ref]
        status = str(getattr(stay.status, "value", stay.status))
        assert ((stay.arrival, stay.departure), status, stay.room) == (state["bounds"], state["status"], state["room"]), ref
    for ref, guest_id in guest_of.items():
        assert stays[ref].guest_id == guest_id, f"{ref} changed guest"
    engine.dispose()

    record_run("pms_import", inputs=totals["rows"], files=totals["files"], landed=totals["landed"],
               rejected=totals["rejected"], file_errors=totals["file_errors"], via_cli=totals["cli"],
               seconds=round(seconds))
    assert totals["rows"] >= target_inputs() * 0.9, totals
