"""Test the PMS CSV import: header checks, broken rows with line numbers, batching and idempotency."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

import bot.pms_import as pms_import
from bot.pms_import import (
    HEADER,
    ImportAborted,
    ImportFileError,
    Rejection,
    command,
    decode,
    format_report,
    import_text,
    parse,
)
from crm_store.model import FollowUp, Guest, Stay
from crm_store.services.stays import SurveyTiming
from crm_store.settings import load_settings

HEAD = ",".join(HEADER)
GOOD = [
    "R-1001,Ann,Lee,ann@example.com,+44 20 7946 0001,412,2026-05-28,2026-06-03,booked,en",
    "R-1002,Bo,Ek,bo@example.se,,501,2026-05-20,2026-05-25,checked_out,sv",
    "R-1003,Cy,Roy,,+1 212 555 0100,,2026-06-10,2026-06-12,in_house,",
]


def _csv(*lines: str, head: str = HEAD, newline: str = "\n") -> str:
    return newline.join([head, *lines]) + newline


def _reasons(text: str) -> list[tuple[int, str]]:
    return [(r.line, r.reason) for r in parse(text).rejections]


def test_parse_good_rows_keeps_line_numbers() -> None:
    parsed = parse(_csv(*GOOD))
    assert [line for line, _ in parsed.rows] == [2, 3, 4]
    assert parsed.rejections == [] and parsed.warnings == []
    assert parsed.rows[0][1].guest.email == "ann@example.com"


def test_parse_bom_and_crlf_are_accepted() -> None:
    text = decode(("\ufeff" + _csv(*GOOD, newline="\r\n")).encode("utf-8"))
    parsed = parse(text)
    assert len(parsed.rows) == 3
    assert parsed.rows[2][1].status is not None and parsed.rows[2][1].status.value == "in_house"


def test_parse_header_in_other_order_and_case_with_extra_column_warns() -> None:
    head = "Status,Departure,Arrival,Room,Phone,Email,Last_Name,First_Name,Reservation_Ref,Language,notes"
    parsed = parse(_csv("booked,2026-06-03,2026-05-28,412,,ann@example.com,Lee,Ann,R-1,en,VIP", head=head))
    assert parsed.rows[0][1].reference == "R-1"
    assert parsed.warnings == ["ignoring unknown column(s): notes"]


@pytest.mark.parametrize(
    ("head", "message"),
    [
        ("reservation_ref,first_name,last_name,email,phone,room,arrival,departure,status", "missing column(s) language"),
        ("ref,name,email", "missing column(s) reservation_ref, first_name, last_name"),
        (HEAD + ",email", "column 'email' appears twice"),
        ("", "the first line must be the header"),
    ],
)
def test_parse_wrong_header_raises_a_clear_error(head: str, message: str) -> None:
    with pytest.raises(ImportFileError) as info:
        parse(head + "\n" + GOOD[0] + "\n")
    assert message in str(info.value)
    assert HEAD in str(info.value)


def test_parse_empty_file_raises() -> None:
    with pytest.raises(ImportFileError, match="empty"):
        parse("")


def test_decode_non_utf8_raises() -> None:
    with pytest.raises(ImportFileError, match="not UTF-8"):
        decode(HEAD.encode() + b"\nR-1,Jos\xe9,Lee\n")


def test_parse_broken_rows_are_rejected_with_line_number_and_reason() -> None:
    text = _csv(
        GOOD[0],  # line 2
        ",Ann,Lee,,,,2026-05-28,2026-06-03,booked,en",  # 3 missing ref
        "R-2,Ann,Lee,,,,2026-02-30,2026-06-03,booked,en",  # 4 bad date
        "R-3,Ann,Lee,,,,2026-06-05,2026-06-03,booked,en",  # 5 departure before arrival
        "R-4,Ann,Lee,,,,2026-05-28,2026-06-03,arrived,en",  # 6 bad status
        "R-5,Ann,Lee,ann@,,,2026-05-28,2026-06-03,booked,en",  # 7 bad email
        "R-6,Ann,Lee,,,,2026-05-28,2026-06-03,booked",  # 8 missing column value
        "R-7,Ann,Lee,,,,2026-05-28,2026-06-03,booked,en,extra",  # 9 extra value
        "R-1001,Ann,Lee,ann@example.com,+44 20 7946 0001,999,2026-05-28,2026-06-03,booked,en",  # 10 conflicting dup
        GOOD[0],  # 11 identical duplicate: fine
        "R-8,,,,,,2026-05-28,2026-06-03,booked,en",  # 12 no name
        "R-9,Ann,Lee,,,,28/05/2026,2026-06-03,booked,en",  # 13 wrong date format
        "R-10,Ann,Lee,,,,2026-05-28,2026-06-03,,en",  # 14 missing status
    )
    assert _reasons(text) == [
        (3, "reservation_ref: missing"),
        (4, "arrival: not a valid calendar date"),
        (5, "departure: before arrival"),
        (6, "status: expected one of booked, in_house, checked_out, cancelled, no_show"),
        (7, "email: not an e-mail address"),
        (8, "expected 10 fields as in the header, found 9"),
        (9, "expected 10 fields as in the header, found 11"),
        (10, "reservation_ref: repeats line 2 with different data"),
        (12, "last_name: missing: a first or last name is required"),
        (13, "arrival: expected a date as YYYY-MM-DD"),
        (14, "status: missing"),
    ]
    assert [line for line, _ in parse(text).rows] == [2, 11]


def test_parse_reasons_never_echo_guest_data() -> None:
    text = _csv("R-5,Ann,Lee,secret-address@,,,2026-05-28,2026-06-03,booked,en")
    assert "secret" not in _reasons(text)[0][1]


def test_parse_multiline_quoted_field_keeps_later_line_numbers_right() -> None:
    text = _csv('R-1,"Ann\nMarie",Lee,,,,2026-05-28,2026-06-03,booked,en', "R-2,Bo,Ek,,,,2026-05-28,2026-05-01,booked,en")
    parsed = parse(text)
    assert [line for line, _ in parsed.rows] == [2]
    assert parsed.rows[0][1].guest.first_name == "Ann Marie"
    assert _reasons(text) == [(4, "departure: before arrival")]


def test_parse_blank_lines_are_skipped() -> None:
    parsed = parse(_csv(GOOD[0], "", ",,,,,,,,,", GOOD[1]))
    assert [line for line, _ in parsed.rows] == [2, 5]
    assert parsed.rejections == []


def test_import_text_counts_created_then_unchanged_then_updated(session_factory, clock, rows) -> None:
    timing = SurveyTiming()
    first = import_text(_csv(*GOOD, "R-X,,,,,,2026-05-28,2026-06-03,booked,en"), session_factory, clock, timing)
    assert (first.created, first.updated, first.unchanged, first.rejected) == (3, 0, 0, 1)
    assert first.rejections == [Rejection(5, "last_name: missing: a first or last name is required")]
    second = import_text(_csv(*GOOD), session_factory, clock, timing)
    assert (second.created, second.updated, second.unchanged, second.rejected) == (0, 0, 3, 0)
    third = import_text(_csv(GOOD[0].replace(",412,", ",414,"), *GOOD[1:]), session_factory, clock, timing)
    assert (third.created, third.updated, third.unchanged) == (0, 1, 2)
    assert rows.count(Stay) == 3 and rows.count(Guest) == 3
    [survey] = rows.all(FollowUp)
    assert survey.idempotency_key == "survey:R-1002"


def test_import_text_small_batches_match_guests_across_batches(session_factory, clock, rows) -> None:
    lines = [f"R-{i:04d},Ann,Lee,ann@example.com,,{100 + i},2026-05-28,2026-06-03,checked_out,en" for i in range(7)]
    report = import_text(_csv(*lines), session_factory, clock, SurveyTiming(), batch_size=3)
    assert report.created == 7
    assert rows.count(Guest) == 1
    assert rows.count(FollowUp) == 7


def test_import_text_database_error_rejects_only_that_row(session_factory, clock, rows, monkeypatch) -> None:
    real = pms_import.apply_reservations

    def flaky(uow, now, reservations, timing):  # type: ignore[no-untyped-def]
        if any(r.reference == "R-1002" for r in reservations):
            raise IntegrityError("INSERT", {}, Exception("boom"))
        return real(uow, now, reservations, timing)

    monkeypatch.setattr(pms_import, "apply_reservations", flaky)
    report = import_text(_csv(*GOOD), session_factory, clock, SurveyTiming())
    assert (report.created, report.rejected) == (2, 1)
    assert report.rejections == [Rejection(3, "database error (IntegrityError)")]
    assert rows.count(Stay) == 2


def test_import_text_database_failing_every_row_aborts(session_factory, clock, monkeypatch) -> None:
    def broken(uow, now, reservations, timing):  # type: ignore[no-untyped-def]
        raise OperationalError("SELECT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(pms_import, "apply_reservations", broken)
    with pytest.raises(ImportAborted, match="line 2"):
        import_text(_csv(*GOOD), session_factory, clock, SurveyTiming())


def test_format_report_lists_counts_then_rejections() -> None:
    report = pms_import.ImportReport(created=2, rejections=[Rejection(7, "email: not an e-mail address")], seconds=1.25)
    assert format_report(report, "x.csv") == [
        "Imported x.csv: 3 rows in 1.2 s: created 2, updated 0, unchanged 0, rejected 1",
        "line 7: email: not an e-mail address",
    ]


def test_command_exit_codes_and_output(tmp_path: Path, session_factory) -> None:
    db_url = str(session_factory.kw["bind"].url)
    settings = load_settings({"DATABASE_URL": db_url, "HOTEL_TIMEZONE": "Europe/Berlin"})
    good = tmp_path / "good.csv"
    good.write_text(_csv(*GOOD), encoding="utf-8")
    bad_row = tmp_path / "bad-row.csv"
    bad_row.write_text(_csv(GOOD[0], "R-9,Ann,Lee,,,,2026-05-28,2026-05-01,booked,en"), encoding="utf-8")
    bad_head = tmp_path / "bad-head.csv"
    bad_head.write_text("ref;name\n1;x\n", encoding="utf-8")

    def run(path: Path) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = command(argparse.Namespace(file=str(path), batch_size=500), settings, out=out, err=err)
        return code, out.getvalue(), err.getvalue()

    code, out, _ = run(good)
    assert code == 0 and "created 3" in out
    code, out, _ = run(bad_row)
    assert code == 1 and "line 3: departure: before arrival" in out
    code, _, err = run(bad_head)
    assert code == 2 and "wrong header" in err
    code, _, err = run(tmp_path / "missing.csv")
    assert code == 2 and "cannot read" in err


def test_example_stays_sample_has_eight_good_rows_and_two_broken() -> None:
    text = decode((Path(__file__).resolve().parents[3] / "examples" / "stays-sample.csv").read_bytes())
    parsed = parse(text)
    assert len(parsed.rows) == 8
    assert [(r.line, r.reason) for r in parsed.rejections] == [
        (10, "email: not an e-mail address"),
        (11, "departure: before arrival"),
    ]
