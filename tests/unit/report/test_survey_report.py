"""Generate survey data and check the report's figures and its PNG chart (service, command and CLI)."""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy.orm import sessionmaker

from bot.report import command, format_report
from crm_store.db import make_engine, make_session_factory, migrate
from crm_store.model import (
    FollowUp,
    FollowUpStatus,
    Guest,
    InvitationStatus,
    Stay,
    StayStatus,
    SurveyInvitation,
    SurveyResponse,
)
from crm_store.services.survey_report import nps_score, survey_report
from crm_store.settings import REPO_ROOT, load_settings
from crm_store.unit_of_work import SqlUnitOfWork

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAY = (date(2026, 5, 1), date(2026, 5, 31))


def at(day: int, hour: int = 10, month: int = 5) -> datetime:
    """Return 2026-<month>-<day> <hour>:00 UTC."""
    return datetime(2026, month, day, hour, 0, tzinfo=timezone.utc)


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """Return a migrated SQLite database seeded with a month of surveys."""
    url = f"sqlite:///{tmp_path}/report.db"
    migrate(url)
    engine = make_engine(url)
    seed(make_session_factory(engine))
    engine.dispose()
    return url


def seed(sessions: sessionmaker) -> None:
    """Write May 2026: 10 eligible check-outs (6 invited, 4 answered), 5 completed surveys, pulse checks."""
    with sessions() as s:
        guests = [Guest(first_name=f"G{i}", verified=True) for i in range(12)]
        s.add_all(guests)
        s.flush()
        stays = []
        for i, guest in enumerate(guests):
            stay = Stay(reservation_ref=f"R-{i:03d}", guest_id=guest.id, room=str(400 + i), arrival=at(1 + i),
                        departure=at(3 + i, 12), status=StayStatus.CHECKED_OUT)
            s.add(stay)
            stays.append(stay)
        s.flush()
        # survey_invite follow-ups: i < 6 sent, 6-7 no_identity, 8 opted_out, 9 pending; 10 planned in April
        results = ["sent"] * 6 + ["no_identity", "no_identity", "opted_out", None]
        for i, result in enumerate(results):
            planned = at(4 + i)
            payload = {"reservation_ref": stays[i].reservation_ref, "planned_at": planned.isoformat()}
            if result:
                payload["result"] = result
            s.add(FollowUp(kind="survey_invite", subject=stays[i].reservation_ref, payload=payload, due_at=planned,
                           status=FollowUpStatus.PENDING if result is None else
                           FollowUpStatus.SENT if result == "sent" else FollowUpStatus.CANCELLED,
                           attempts=1, idempotency_key=f"survey:{stays[i].reservation_ref}"))
        s.add(FollowUp(kind="survey_invite", subject="R-010", due_at=at(28, 10, 4), status=FollowUpStatus.SENT,
                       attempts=1, idempotency_key="survey:R-010",
                       payload={"planned_at": at(28, 10, 4).isoformat(), "result": "sent"}))
        invitations = []
        for i in range(6):
            invitation = SurveyInvitation(guest_id=guests[i].id, stay_id=stays[i].id, sent_at=at(4 + i),
                                          status=InvitationStatus.ANSWERED if i < 4 else InvitationStatus.SENT)
            s.add(invitation)
            invitations.append(invitation)
        s.flush()
        # completed surveys: week of 4 May: 10, 9, 3; week of 18 May: 8, 5 (the 5 is spontaneous)
        answers = [
            (0, 10, (5, 5, 5, 4), ["breakfast", "staff"], "positive", at(5)),
            (1, 9, (4, 4, 5, 4), ["staff"], "positive", at(6)),
            (2, 3, (2, 3, 1, 2), ["cleanliness", "noise"], "negative", at(7)),
            (3, 8, (3, 4, 4, None), ["breakfast"], "mixed", at(19)),
            (11, 5, (4, 2, 4, 3), ["noise"], "negative", at(20)),
        ]
        for guest_index, nps, (service, facilities, cleanliness, value), topics, sentiment, when in answers:
            s.add(SurveyResponse(
                guest_id=guests[guest_index].id, stay_id=stays[guest_index].id,
                invitation_id=invitations[guest_index].id if guest_index < 6 else None,
                nps=nps, service=service, facilities=facilities, cleanliness=cleanliness, value=value,
                topics=topics, sentiment=sentiment, completed=True, submitted_at=when, created_at=when,
            ))
        s.add(SurveyResponse(guest_id=guests[4].id, nps=7, completed=False, created_at=at(12)))  # unfinished
        s.add(SurveyResponse(guest_id=guests[5].id, nps=0, service=1, completed=True, submitted_at=at(2, 10, 6),
                             created_at=at(2, 10, 6)))  # June: outside the range
        pulses = [("sent", 5), ("sent", 2), ("no_identity", None)]
        for i, (result, score) in enumerate(pulses):
            payload = {"result": result, **({"answer": score} if score else {})}
            s.add(FollowUp(kind="pulse_check", subject=f"R-P{i}", due_at=at(10 + i), status=FollowUpStatus.SENT,
                           attempts=1, idempotency_key=f"pulse:R-P{i}", payload=payload))
        s.commit()


def test_survey_report_figures_from_generated_data(db_url: str) -> None:
    engine = make_engine(db_url)
    report = survey_report(SqlUnitOfWork(make_session_factory(engine)), start=MAY[0], end=MAY[1])
    engine.dispose()
    assert (report.eligible, report.invited, report.pending) == (10, 6, 1)
    assert report.skipped == {"no_identity": 2, "opted_out": 1}
    assert report.coverage == pytest.approx(0.6)
    assert (report.answered_invitations, report.response_rate) == (4, pytest.approx(4 / 6))
    assert (report.responses, report.partial) == (5, 1)
    assert (report.promoters, report.passives, report.detractors) == (2, 1, 2)
    assert report.nps == pytest.approx(0.0)
    assert report.aspect_averages == pytest.approx(
        {"service": 18 / 5, "facilities": 18 / 5, "cleanliness": 19 / 5, "value": 13 / 4})
    assert report.aspect_counts["value"] == 4
    assert report.top_topics[:3] == [("breakfast", 2), ("noise", 2), ("staff", 2)]
    assert report.sentiments == {"positive": 2, "negative": 2, "mixed": 1}
    assert [(w.week_start.day, w.responses) for w in report.weekly] == [(27, 0), (4, 3), (11, 0), (18, 2), (25, 0)]
    assert [w.nps for w in report.weekly if w.nps is not None] == pytest.approx([100 / 3, -50.0])
    assert report.weekly[0].week_start == date(2026, 4, 27) and report.weekly[2].nps is None
    assert (report.pulse_asked, report.pulse_answered, report.pulse_low) == (2, 2, 1)
    assert report.pulse_average == pytest.approx(3.5)


def test_nps_score_edges() -> None:
    assert nps_score(0, 0, 0) is None
    assert nps_score(3, 0, 0) == 100.0
    assert nps_score(0, 1, 1) == -50.0


def test_report_command_prints_figures_and_writes_a_valid_png(db_url: str, tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    args = argparse.Namespace(start=MAY[0], end=MAY[1], out=tmp_path / "charts")
    assert command(args, load_settings({"DATABASE_URL": db_url}), out=out, err=err) == 0, err.getvalue()
    text = out.getvalue()
    assert "NPS: +0 from 5 completed surveys: promoters 2 (40%), passives 1 (20%), detractors 2 (40%)" in text
    assert "service 3.60 (5), facilities 3.60 (5), cleanliness 3.80 (5), value 3.25 (4)" in text
    assert "Response rate: 4 of 6 invited answered (67%); unfinished surveys: 1" in text
    assert "Coverage: 6 invited of 10 eligible check-outs (60%); not invited: no_identity 2, opted_out 1" in text
    assert "Top comment topics: breakfast 2, noise 2, staff 2, cleanliness 1" in text
    chart = tmp_path / "charts" / "survey-report-2026-05-01_2026-05-31.png"
    assert f"Chart: {chart}" in text
    data = chart.read_bytes()
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    from matplotlib import image

    pixels = image.imread(str(chart))
    assert pixels.shape[0] > 200 and pixels.shape[1] > 400


def test_report_command_empty_range_still_draws(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/empty.db"
    migrate(url)
    out = io.StringIO()
    args = argparse.Namespace(start=date(2026, 1, 1), end=date(2026, 1, 7), out=tmp_path)
    assert command(args, load_settings({"DATABASE_URL": url}), out=out, err=io.StringIO()) == 0
    assert "NPS: n/a from 0 completed surveys" in out.getvalue()
    assert format_report.__doc__
    assert (tmp_path / "survey-report-2026-01-01_2026-01-07.png").read_bytes()[:8] == PNG_SIGNATURE


def test_report_command_end_before_start_exits_2(db_url: str) -> None:
    args = argparse.Namespace(start=MAY[1], end=MAY[0], out=None)
    err = io.StringIO()
    assert command(args, load_settings({"DATABASE_URL": db_url}), out=io.StringIO(), err=err) == 2
    assert "--to is before --from" in err.getvalue()


def test_python_m_bot_report_cli(db_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": db_url, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "report", "--from", "2026-05-01", "--to", "2026-05-31", "--out", str(tmp_path)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "NPS: +0 from 5 completed surveys" in proc.stdout
    assert (tmp_path / "survey-report-2026-05-01_2026-05-31.png").exists()
