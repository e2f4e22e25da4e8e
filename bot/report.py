"""Print the survey report of a date range and draw its chart: ``python -m bot report --from D --to D``.

The chart (PNG) has two panels: NPS by week and the average of each aspect. It is written to ``docs/``
by default, or to ``--out DIR``, as ``survey-report-<from>_<to>.png``.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import TextIO

from crm_store.services.survey_report import SurveyReport
from crm_store.settings import REPO_ROOT, Settings

DEFAULT_OUT = REPO_ROOT / "docs"


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "n/a"


def _num(value: float | None, digits: int = 1, signed: bool = False) -> str:
    if value is None:
        return "n/a"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def format_report(report: SurveyReport, tz_name: str) -> list[str]:
    """Return the report's lines, for people."""
    total = report.responses
    lines = [
        f"Survey report {report.start.isoformat()} to {report.end.isoformat()} (hotel time {tz_name})",
        f"NPS: {_num(report.nps, 0, signed=True)} from {total} completed surveys: "
        f"promoters {report.promoters} ({_pct(report.promoters, total)}), "
        f"passives {report.passives} ({_pct(report.passives, total)}), "
        f"detractors {report.detractors} ({_pct(report.detractors, total)})",
        "Aspects (1-5): " + ", ".join(
            f"{name} {_num(report.aspect_averages.get(name), 2)} ({report.aspect_counts.get(name, 0)})"
            for name in report.aspect_averages
        ),
        f"Response rate: {report.answered_invitations} of {report.invited} invited answered "
        f"({_pct(report.answered_invitations, report.invited)}); unfinished surveys: {report.partial}",
        f"Coverage: {report.invited} invited of {report.eligible} eligible check-outs "
        f"({_pct(report.invited, report.eligible)}); not invited: "
        + (", ".join(f"{reason} {count}" for reason, count in report.skipped.items()) or "none")
        + f"; not due yet: {report.pending}",
        "Top comment topics: " + (", ".join(f"{topic} {count}" for topic, count in report.top_topics) or "none"),
        "Comment sentiment: " + (", ".join(f"{name} {count}" for name, count in report.sentiments.items()) or "none"),
        f"Pulse checks: {report.pulse_asked} asked, {report.pulse_answered} answered, "
        f"average {_num(report.pulse_average, 2)}, low scores (1-2) {report.pulse_low}",
        "NPS by week (from Monday): " + (", ".join(
            f"{w.week_start.isoformat()} {_num(w.nps, 0, signed=True)} ({w.responses})" for w in report.weekly
        ) or "none"),
    ]
    return lines


def chart_path(report: SurveyReport, out_dir: Path) -> Path:
    """Return where the chart of ``report`` goes in ``out_dir``."""
    return out_dir / f"survey-report-{report.start.isoformat()}_{report.end.isoformat()}.png"


def write_chart(report: SurveyReport, path: Path) -> Path:
    """Draw NPS by week and the aspect averages into a PNG at ``path`` (Agg backend, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), dpi=100)
    try:
        weeks = report.weekly
        positions = range(len(weeks))
        heights = [w.nps if w.nps is not None else 0.0 for w in weeks]
        colours = ["#2ca02c" if h >= 0 else "#d62728" for h in heights]
        left.bar(positions, heights, color=colours, width=0.6)
        for x, week in zip(positions, weeks):
            label = f"{week.nps:+.0f}\nn={week.responses}" if week.nps is not None else "no\nanswers"
            y = week.nps if week.nps is not None else 0.0
            left.annotate(label, (x, y), textcoords="offset points", xytext=(0, 4 if y >= 0 else -22),
                          ha="center", fontsize=7)
        left.set_xticks(list(positions))
        left.set_xticklabels([w.week_start.strftime("%d %b") for w in weeks], rotation=30, ha="right", fontsize=8)
        left.set_xlim(-0.6, max(len(weeks), 1) - 0.4)
        left.axhline(0, color="#999999", linewidth=0.8)
        left.set_ylim(-110, 110)
        left.set_title(f"NPS by week, from Monday (overall {_num(report.nps, 0, signed=True)})")
        left.set_ylabel("NPS")
        names = list(report.aspect_averages)
        averages = [report.aspect_averages[name] or 0.0 for name in names]
        bars = right.bar(names, averages, color=["#2ca02c", "#ff7f0e", "#17becf", "#9467bd"][: len(names)])
        for bar, name in zip(bars, names):
            value = report.aspect_averages[name]
            right.annotate(_num(value, 2), (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                           textcoords="offset points", xytext=(0, 3), ha="center", fontsize=9)
        right.set_ylim(0, 5.4)
        right.set_title("Average aspect scores (1-5)")
        fig.suptitle(f"Guest surveys {report.start.isoformat()} to {report.end.isoformat()}")
        fig.tight_layout()
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)
    return path


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare ``--from``, ``--to`` and ``--out``."""
    parser.add_argument("--from", dest="start", type=_date, required=True, help="first day, YYYY-MM-DD (hotel time)")
    parser.add_argument("--to", dest="end", type=_date, required=True, help="last day, YYYY-MM-DD (included)")
    parser.add_argument("--out", type=Path, default=None, help="folder for the PNG chart (default: docs/)")


def command(args: argparse.Namespace, settings: Settings, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run ``report``: print the figures and write the chart; exit 2 on bad dates or an unreachable database."""
    from sqlalchemy.exc import SQLAlchemyError

    from crm_store.db import make_engine, make_session_factory
    from crm_store.services.survey_report import survey_report
    from crm_store.unit_of_work import SqlUnitOfWork

    out = out or sys.stdout
    err = err or sys.stderr
    if args.end < args.start:
        print("--to is before --from", file=err)
        return 2
    engine = make_engine(settings.database_url)
    try:
        report = survey_report(SqlUnitOfWork(make_session_factory(engine)), start=args.start, end=args.end,
                               tz=settings.tz)
    except SQLAlchemyError as exc:
        print(f"database error ({type(exc).__name__}); is it migrated? run: python -m bot migrate", file=err)
        return 2
    finally:
        engine.dispose()
    for line in format_report(report, settings.hotel_timezone):
        print(line, file=out)
    path = write_chart(report, chart_path(report, args.out or DEFAULT_OUT))
    print(f"Chart: {path}", file=out)
    return 0
