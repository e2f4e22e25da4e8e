"""Compute the survey figures of a date range: NPS, aspects, response rate, coverage, topics, pulse checks.

Dates are hotel-local calendar days, both ends included. Which rows count:

- **eligible**: checked-out stays whose invitation was planned in the range (``survey_invite`` follow-ups
  by their payload's ``planned_at``); **invited**: those sent; **skipped**: those not sent, by reason
  (``opted_out``, ``no_identity``, ``recently_surveyed``, ``too_late``, ...); **pending**: not yet due.
  Coverage = invited / eligible.
- **response rate**: invitations of the range that were answered / invited.
- **NPS and aspects**: completed surveys submitted in the range (invited or spontaneous). NPS = % promoters
  (9–10) − % detractors (0–6), from −100 to +100.
- **partial**: unfinished surveys started in the range.
- **pulse**: pulse checks due in the range: asked, answered, average score, scores of 1–2.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone, tzinfo

from sqlalchemy import select

from crm_store.model import FollowUp, FollowUpStatus, InvitationStatus, Stay, SurveyInvitation, SurveyResponse
from crm_store.services.pulse import KIND_PULSE_CHECK, LOW_PULSE_MAX
from crm_store.services.survey_invites import KIND_SURVEY_INVITE, SENT, parse_planned_at
from crm_store.services.surveys import ASPECTS, nps_group
from crm_store.unit_of_work import SqlUnitOfWork

MARGIN = timedelta(days=40)  # invitations are due within days of their planned time
TOP_TOPICS = 10  # ties in alphabetical order


@dataclass(frozen=True)
class WeekFigures:
    """Hold one week's NPS (week starting on Monday, hotel-local)."""

    week_start: date
    responses: int
    nps: float | None


@dataclass(frozen=True)
class SurveyReport:
    """Hold the survey figures of a date range (see the module docstring for what counts)."""

    start: date
    end: date
    eligible: int = 0
    invited: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    pending: int = 0
    answered_invitations: int = 0
    responses: int = 0
    partial: int = 0
    promoters: int = 0
    passives: int = 0
    detractors: int = 0
    aspect_averages: dict[str, float | None] = field(default_factory=dict)
    aspect_counts: dict[str, int] = field(default_factory=dict)
    top_topics: list[tuple[str, int]] = field(default_factory=list)
    sentiments: dict[str, int] = field(default_factory=dict)
    weekly: list[WeekFigures] = field(default_factory=list)  # every week of the range, empty ones too
    pulse_asked: int = 0
    pulse_answered: int = 0
    pulse_average: float | None = None
    pulse_low: int = 0

    @property
    def nps(self) -> float | None:
        """Return the Net Promoter Score (−100..+100), None without responses."""
        return nps_score(self.promoters, self.passives, self.detractors)

    @property
    def coverage(self) -> float | None:
        """Return invited / eligible (0..1), None when nothing was eligible."""
        return self.invited / self.eligible if self.eligible else None

    @property
    def response_rate(self) -> float | None:
        """Return answered / invited (0..1), None when nobody was invited."""
        return self.answered_invitations / self.invited if self.invited else None


def nps_score(promoters: int, passives: int, detractors: int) -> float | None:
    """Return % promoters − % detractors, None when there are no answers."""
    total = promoters + passives + detractors
    return 100.0 * (promoters - detractors) / total if total else None


def _bounds(start: date, end: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """Return [start 00:00, the day after end 00:00) hotel-local as aware UTC."""
    first = datetime.combine(start, time(0, 0), tzinfo=tz).astimezone(timezone.utc)
    last = datetime.combine(end + timedelta(days=1), time(0, 0), tzinfo=tz).astimezone(timezone.utc)
    return first, last


def _week_start(moment: datetime, tz: tzinfo) -> date:
    day = moment.astimezone(tz).date()
    return day - timedelta(days=day.weekday())


def _weeks(start: date, end: date) -> list[date]:
    """Return the Monday of every week that overlaps ``start``..``end``."""
    monday = start - timedelta(days=start.weekday())
    weeks = []
    while monday <= end:
        weeks.append(monday)
        monday += timedelta(days=7)
    return weeks


def survey_report(uow: SqlUnitOfWork, *, start: date, end: date, tz: tzinfo = timezone.utc) -> SurveyReport:
    """Return the figures of hotel-local days ``start``..``end`` (both included); reads only."""
    if end < start:
        raise ValueError("the end date is before the start date")
    low, high = _bounds(start, end, tz)
    with uow:
        session = uow.session
        invites = session.execute(
            select(FollowUp).where(
                FollowUp.kind == KIND_SURVEY_INVITE, FollowUp.due_at >= low - MARGIN, FollowUp.due_at < high + MARGIN
            )
        ).scalars().all()
        eligible_refs: list[str] = []
        sent_refs: list[str] = []
        skipped: Counter[str] = Counter()
        pending = 0
        for row in invites:
            payload = row.payload or {}
            planned = parse_planned_at(payload.get("planned_at")) or row.due_at
            if not low <= planned < high:
                continue
            eligible_refs.append(row.subject)
            result = payload.get("result")
            if result == SENT:
                sent_refs.append(row.subject)
            elif result:
                skipped[str(result)] += 1
            elif FollowUpStatus(row.status) in (FollowUpStatus.PENDING, FollowUpStatus.CLAIMED):
                pending += 1
            else:
                skipped[FollowUpStatus(row.status).value] += 1
        answered = 0
        if sent_refs:
            statuses = session.execute(
                select(SurveyInvitation.status)
                .join(Stay, Stay.id == SurveyInvitation.stay_id)
                .where(Stay.reservation_ref.in_(sent_refs))
            ).scalars().all()
            answered = sum(InvitationStatus(s) is InvitationStatus.ANSWERED for s in statuses)

        done = session.execute(
            select(SurveyResponse).where(
                SurveyResponse.completed.is_(True),
                SurveyResponse.submitted_at >= low,
                SurveyResponse.submitted_at < high,
            )
        ).scalars().all()
        partial = len(session.execute(
            select(SurveyResponse.id).where(
                SurveyResponse.completed.is_(False),
                SurveyResponse.created_at >= low,
                SurveyResponse.created_at < high,
            )
        ).all())
        groups: Counter[str] = Counter()
        weekly: dict[date, Counter[str]] = {}
        sums: dict[str, int] = {name: 0 for name in ASPECTS}
        counts: dict[str, int] = {name: 0 for name in ASPECTS}
        topics: Counter[str] = Counter()
        sentiments: Counter[str] = Counter()
        for response in done:
            group = nps_group(int(response.nps))
            groups[group] += 1
            weekly.setdefault(_week_start(response.submitted_at, tz), Counter())[group] += 1
            for name in ASPECTS:
                score = getattr(response, name)
                if score is not None:
                    sums[name] += int(score)
                    counts[name] += 1
            topics.update(str(t) for t in (response.topics or []))
            if response.sentiment:
                sentiments[str(response.sentiment)] += 1

        pulses = session.execute(
            select(FollowUp.payload).where(
                FollowUp.kind == KIND_PULSE_CHECK, FollowUp.due_at >= low, FollowUp.due_at < high
            )
        ).scalars().all()
        pulse_asked = sum((p or {}).get("result") == SENT for p in pulses)
        scores = [int(p["answer"]) for p in pulses if isinstance((p or {}).get("answer"), int)]

    return SurveyReport(
        start=start,
        end=end,
        eligible=len(eligible_refs),
        invited=len(sent_refs),
        skipped=dict(skipped.most_common()),
        pending=pending,
        answered_invitations=answered,
        responses=len(done),
        partial=partial,
        promoters=groups["promoter"],
        passives=groups["passive"],
        detractors=groups["detractor"],
        aspect_averages={n: (sums[n] / counts[n] if counts[n] else None) for n in ASPECTS},
        aspect_counts=counts,
        top_topics=sorted(topics.items(), key=lambda item: (-item[1], item[0]))[:TOP_TOPICS],
        sentiments=dict(sentiments.most_common()),
        weekly=[
            WeekFigures(week, sum(c.values()), nps_score(c["promoter"], c["passive"], c["detractor"]))
            for week, c in ((w, weekly.get(w, Counter())) for w in _weeks(start, end))
        ],
        pulse_asked=pulse_asked,
        pulse_answered=len(scores),
        pulse_average=sum(scores) / len(scores) if scores else None,
        pulse_low=sum(score <= LOW_PULSE_MAX for score in scores),
    )
