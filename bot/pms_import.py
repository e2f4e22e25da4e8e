"""Import a PMS stay export (CSV) into crm_store: ``python -m bot stays import FILE.csv``.

The file is UTF-8 (a byte-order mark is fine) with Unix or Windows line ends and this header, in any
column order (unknown extra columns are ignored with a warning):

    reservation_ref,first_name,last_name,email,phone,room,arrival,departure,status,language

A bad row is rejected with its line number and reason and never stops the import. Good rows are written in
batches (one transaction per batch); if a batch fails in the database, its rows are retried one by one so
only the failing row is rejected. Importing the same file twice creates nothing new.
"""

from __future__ import annotations

import argparse
import csv
import io
import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import sessionmaker

from crm_store.clock import Clock
from crm_store.errors import ValidationError
from crm_store.services.stays import (
    CREATED,
    UNCHANGED,
    UPDATED,
    GuestData,
    Reservation,
    SurveyTiming,
    apply_reservations,
    normalise_reservation,
)
from crm_store.settings import Settings
from crm_store.unit_of_work import SqlUnitOfWork

log = logging.getLogger(__name__)

HEADER: tuple[str, ...] = (
    "reservation_ref",
    "first_name",
    "last_name",
    "email",
    "phone",
    "room",
    "arrival",
    "departure",
    "status",
    "language",
)
REQUIRED_VALUES: tuple[str, ...] = ("reservation_ref", "arrival", "departure", "status")
DEFAULT_BATCH_SIZE = 500
_FIELD_NAMES = {"reference": "reservation_ref"}


class ImportFileError(ValueError):
    """Refuse a file that cannot be imported at all (unreadable, not UTF-8, wrong header)."""


class ImportAborted(RuntimeError):
    """Stop an import whose database keeps failing for every row (not a problem of one row)."""


@dataclass(frozen=True)
class Rejection:
    """Say why the row starting on ``line`` was not imported."""

    line: int
    reason: str


@dataclass
class ImportReport:
    """Count what an import did and list its rejected rows."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rejected(self) -> int:
        """Return the number of rejected rows."""
        return len(self.rejections)

    @property
    def total(self) -> int:
        """Return the number of data rows seen."""
        return self.created + self.updated + self.unchanged + self.rejected

    def count(self, outcome: str) -> None:
        """Add one row with ``outcome`` (created, updated or unchanged)."""
        if outcome == CREATED:
            self.created += 1
        elif outcome == UPDATED:
            self.updated += 1
        elif outcome == UNCHANGED:
            self.unchanged += 1
        else:
            raise ValueError(f"unknown outcome {outcome!r}")


@dataclass(frozen=True)
class ParsedFile:
    """Hold a parsed file: valid reservations with their line numbers, rejections and warnings."""

    rows: list[tuple[int, Reservation]]
    rejections: list[Rejection]
    warnings: list[str]


def decode(data: bytes) -> str:
    """Return the file's text (UTF-8, optional BOM) or raise ImportFileError."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFileError(f"the file is not UTF-8 text (bad byte at offset {exc.start})") from None


def _column_map(header: Sequence[str]) -> tuple[dict[str, int], list[str]]:
    names = [cell.replace("\ufeff", "").strip().lower() for cell in header]
    expected = ",".join(HEADER)
    if not any(names):
        raise ImportFileError(f"the first line must be the header: {expected}")
    seen: dict[str, int] = {}
    for index, name in enumerate(names):
        if name in seen and name:
            raise ImportFileError(f"wrong header: column {name!r} appears twice; expected: {expected}")
        seen.setdefault(name, index)
    missing = [name for name in HEADER if name not in seen]
    if missing:
        raise ImportFileError(f"wrong header: missing column(s) {', '.join(missing)}; expected: {expected}")
    extra = [name or f"(blank, column {i + 1})" for i, name in enumerate(names) if name not in HEADER]
    warnings = [f"ignoring unknown column(s): {', '.join(extra)}"] if extra else []
    return {name: seen[name] for name in HEADER}, warnings


def _reason(exc: ValidationError) -> str:
    return f"{_FIELD_NAMES.get(exc.field, exc.field)}: {exc.message}"


def _reservation(values: dict[str, str]) -> Reservation:
    for name in REQUIRED_VALUES:
        if not values[name].strip():
            raise ValidationError(name, "missing")
    return normalise_reservation(
        reference=values["reservation_ref"],
        guest=GuestData(
            first_name=values["first_name"],
            last_name=values["last_name"],
            email=values["email"],
            phone=values["phone"],
            language=values["language"],
        ),
        room=values["room"],
        arrival=values["arrival"],
        departure=values["departure"],
        status=values["status"],
    )


def parse(text: str) -> ParsedFile:
    """Parse the CSV text: validate every row, reject bad ones and conflicting duplicates by line number."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFileError(f"the file is empty; expected the header: {','.join(HEADER)}") from None
    except csv.Error as exc:
        raise ImportFileError(f"the header line is not valid CSV ({exc})") from None
    columns, warnings = _column_map(header)
    width = len(header)
    rows: list[tuple[int, Reservation]] = []
    rejections: list[Rejection] = []
    first_seen: dict[str, tuple[int, Reservation]] = {}
    while True:
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            rejections.append(Rejection(line, f"unreadable CSV ({exc})"))
            continue
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != width:
            rejections.append(Rejection(line, f"expected {width} fields as in the header, found {len(cells)}"))
            continue
        values = {name: cells[index] for name, index in columns.items()}
        try:
            reservation = _reservation(values)
        except ValidationError as exc:
            rejections.append(Rejection(line, _reason(exc)))
            continue
        earlier = first_seen.get(reservation.reference)
        if earlier is not None:
            if earlier[1] != reservation:
                rejections.append(
                    Rejection(line, f"reservation_ref: repeats line {earlier[0]} with different data")
                )
                continue
        else:
            first_seen[reservation.reference] = (line, reservation)
        rows.append((line, reservation))
    return ParsedFile(rows, rejections, warnings)


def _write_batch(
    session_factory: sessionmaker, clock: Clock, batch: Sequence[tuple[int, Reservation]], timing: SurveyTiming
) -> list[str]:
    """Apply ``batch`` in one transaction and return each row's outcome (raises on a database error)."""
    uow = SqlUnitOfWork(session_factory)
    now = clock.now()
    with uow:
        outcomes = [outcome for outcome, _ in apply_reservations(uow, now, [r for _, r in batch], timing)]
        uow.commit()
    return outcomes


def apply_rows(
    session_factory: sessionmaker,
    clock: Clock,
    rows: Sequence[tuple[int, Reservation]],
    timing: SurveyTiming,
    report: ImportReport,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Callable[[int], object] | None = None,
) -> None:
    """Write ``rows`` in batches, counting outcomes in ``report``; retry a failed batch row by row."""
    for start in range(0, len(rows), max(1, batch_size)):
        batch = rows[start : start + max(1, batch_size)]
        try:
            outcomes = _write_batch(session_factory, clock, batch, timing)
        except (SQLAlchemyError, ValueError) as exc:
            log.warning("batch at line %d failed (%s); retrying its rows one by one", batch[0][0], type(exc).__name__)
            outcomes = []
            failures = 0
            for line, reservation in batch:
                try:
                    outcomes.extend(_write_batch(session_factory, clock, [(line, reservation)], timing))
                except (SQLAlchemyError, ValueError) as row_exc:
                    failures += 1
                    report.rejections.append(Rejection(line, f"database error ({type(row_exc).__name__})"))
            if failures == len(batch) and len(batch) > 1:
                raise ImportAborted(
                    f"the database refused every row from line {batch[0][0]} on ({type(exc).__name__}); "
                    "rows before it were imported; fix the database and run the import again"
                ) from exc
        for outcome in outcomes:
            report.count(outcome)
        if progress is not None:
            progress(len(batch))


def import_text(
    text: str,
    session_factory: sessionmaker,
    clock: Clock,
    timing: SurveyTiming,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    show_progress: bool | None = None,
    progress_file: TextIO | None = None,
) -> ImportReport:
    """Parse and import CSV ``text``; return the report (ImportFileError for a wrong header)."""
    started = time.perf_counter()
    parsed = parse(text)
    report = ImportReport(rejections=list(parsed.rejections), warnings=list(parsed.warnings))
    from tqdm import tqdm

    with tqdm(
        total=len(parsed.rows),
        unit="row",
        desc="importing stays",
        file=progress_file or sys.stderr,
        disable=(not show_progress) if show_progress is not None else None,
        mininterval=0.2,
    ) as bar:
        try:
            apply_rows(
                session_factory, clock, parsed.rows, timing, report, batch_size=batch_size, progress=bar.update
            )
        finally:
            report.rejections.sort(key=lambda r: r.line)
            report.seconds = time.perf_counter() - started
    return report


def import_file(
    path: Path,
    session_factory: sessionmaker,
    clock: Clock,
    timing: SurveyTiming,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    show_progress: bool | None = None,
) -> ImportReport:
    """Read ``path`` and import it; raise ImportFileError when the file cannot be read or has a wrong header."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ImportFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    return import_text(
        decode(data), session_factory, clock, timing, batch_size=batch_size, show_progress=show_progress
    )


def format_report(report: ImportReport, name: str = "") -> list[str]:
    """Return the human summary: counts, time, warnings, then one line per rejected row."""
    lines = [
        f"Imported {name or 'stays'}: {report.total} rows in {report.seconds:.1f} s: "
        f"created {report.created}, updated {report.updated}, unchanged {report.unchanged}, "
        f"rejected {report.rejected}"
    ]
    lines.extend(f"warning: {warning}" for warning in report.warnings)
    lines.extend(f"line {r.line}: {r.reason}" for r in report.rejections)
    return lines


def command(args: argparse.Namespace, settings: Settings, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run ``stays import FILE``: exit 0 when every row was imported, 1 when some were rejected, 2 on failure."""
    from crm_store.clock import SystemClock
    from crm_store.db import make_engine, make_session_factory

    out = out or sys.stdout
    err = err or sys.stderr
    name = str(args.file)
    if args.batch_size < 1:
        print("--batch-size must be at least 1", file=err)
        return 2
    from crm_store.recovery_policy import PolicyError, load_policy_for

    try:
        timing = SurveyTiming.from_rules(load_policy_for(settings).surveys, settings.tz)
    except PolicyError as exc:
        print(f"Policy error: {exc}", file=err)
        return 2
    engine = make_engine(settings.database_url)
    try:
        report = import_file(Path(name), make_session_factory(engine), SystemClock(), timing, batch_size=args.batch_size)
    except ImportFileError as exc:
        print(f"{name}: {exc}", file=err)
        return 2
    except ImportAborted as exc:
        print(f"{name}: import stopped: {exc}", file=err)
        return 2
    except SQLAlchemyError as exc:
        print(f"{name}: database error ({type(exc).__name__}); is it migrated? run: python -m bot migrate", file=err)
        return 2
    finally:
        engine.dispose()
    for line in format_report(report, name):
        print(line, file=out)
    return 1 if report.rejections else 0
