"""Command line: `python -m bot run|serve|scheduler|chat|migrate|stays|report`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

from crm_store.settings import SettingsError, load_settings


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the chosen command."""
    parser = argparse.ArgumentParser(prog="python -m bot", description="Hotel guest-service assistant")
    sub = parser.add_subparsers(dest="command", required=True)
    run_p = sub.add_parser("run", help="migrate, then start and supervise every process of the profile")
    run_p.add_argument("--profile", choices=["embedded", "prod"], default=None,
                       help="process layout (default: PROFILE from the environment or .env, else embedded)")
    run_p.add_argument("--only", default=None, metavar="ROLES",
                       help="comma-separated roles to run on this host: actions,rasa,bot,scheduler (default: all)")
    sub.add_parser("init-tracker", help="create Rasa's tracker-store tables (before several replicas start)")
    sub.add_parser("serve", help="run the bot process only (ops HTTP)")
    sub.add_parser("migrate", help="apply database migrations")
    sched_p = sub.add_parser("scheduler", help="run the follow-up scheduler (SLA clocks, guest follow-ups)")
    sched_p.add_argument("--lock", choices=["auto", "none"], default=None,
                         help="leadership lock: auto (PostgreSQL advisory / SQLite file lock) or none")
    chat_p = sub.add_parser("chat", help="chat with the assistant as a guest from the terminal")
    chat_p.add_argument("--as", dest="name", help="guest name used for the sender id cli:<name>")
    stays_p = sub.add_parser("stays", help="PMS stay feed: import a CSV export (docs/pms-feed.md)")
    stays_sub = stays_p.add_subparsers(dest="stays_command", required=True)
    stays_import_p = stays_sub.add_parser("import", help="create or update stays from a PMS CSV export")
    stays_import_p.add_argument("file", help="CSV file with the documented header")
    stays_import_p.add_argument("--batch-size", type=int, default=500, help="rows per transaction (default 500)")
    report_p = sub.add_parser("report", help="survey figures of a date range, with a PNG chart")
    from bot.report import add_arguments as report_arguments

    report_arguments(report_p)
    args = parser.parse_args(argv)
    if getattr(args, "profile", None):
        os.environ["PROFILE"] = args.profile  # before loading settings; the children inherit it

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 2

    if args.command == "run":
        from bot.supervisor import run
        from crm_store.recovery_policy import PolicyError, load_policy_for

        try:
            load_policy_for(settings)
        except PolicyError as exc:
            print(f"Policy error: {exc}", file=sys.stderr)
            return 2
        from bot.supervisor import ROLES

        roles = [r.strip() for r in (args.only or ",".join(ROLES)).split(",") if r.strip()]
        unknown = sorted(set(roles) - set(ROLES))
        if unknown or not roles:
            print(f"--only: expected roles among {', '.join(ROLES)}", file=sys.stderr)
            return 2
        return run(settings, roles)
    if args.command == "init-tracker":
        from bot.supervisor import create_tracker_tables

        create_tracker_tables(settings.tracker_store_url)
        print("Tracker-store tables are in place.")
        return 0
    if args.command == "serve":
        from bot.serve import serve

        asyncio.run(serve(settings))
        return 0
    if args.command == "scheduler":
        from bot.scheduler.service import serve_scheduler
        from crm_store.recovery_policy import PolicyError

        try:
            return asyncio.run(serve_scheduler(settings, lock_mode=args.lock))
        except PolicyError as exc:
            print(f"Policy error: {exc}", file=sys.stderr)
            return 2
    if args.command == "migrate":
        from crm_store.db import migrate

        migrate(settings.database_url)
        print("Database is up to date.")
        return 0
    if args.command == "stays":
        from bot.pms_import import command

        return command(args, settings)
    if args.command == "report":
        from bot.report import command as report_command

        return report_command(args, settings)
    if args.command == "chat":
        from bot.chat import main as chat_main

        return chat_main(settings.rasa_client_urls, args.name)  # type: ignore[arg-type] - RasaClient takes a list too
    return 2


if __name__ == "__main__":
    sys.exit(main())
