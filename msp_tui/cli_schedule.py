"""`msp-tui schedule`: show, set or stop the scheduled sync, and run it from cron."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from msp_tui.cli_base import CommandError, UsageError, say

if TYPE_CHECKING:
    from msp_tui.context import Context

EXAMPLES = """examples:
  msp-tui schedule set daily --at 02:00
  msp-tui schedule set weekly --day mon --at 06:30 --timezone Europe/London
  msp-tui schedule set monthly --day 1 --at 03:00
  msp-tui schedule off

'msp-tui serve' runs the schedule. Without it, let cron check every 5 minutes:
  */5 * * * * msp-tui schedule run --due
"""


def add_schedule_command(add_command, common: argparse.ArgumentParser) -> None:
    from msp_tui.cli import ExamplesFormatter

    schedule = add_command(
        "schedule", "sync everything daily, weekly or monthly",
        "The scheduled sync reads the PSA, then every pulled vendor, at the time set here."
        " The schedule is kept in the database, so every host sees the same one. 'msp-tui"
        " serve' runs it; without serve, cron or a systemd timer runs 'msp-tui schedule run"
        " --due' every few minutes (see the README). One run happens per due time however many"
        " of these run.",
    )  # fmt: skip
    schedule.formatter_class = ExamplesFormatter
    schedule.epilog = EXAMPLES
    actions = schedule.add_subparsers(dest="schedule_action", metavar="ACTION", required=True)
    show = actions.add_parser("show", help="the schedule, its next and its last run",
                              parents=[common], description="The schedule, when it runs next"
                              " and how its last run ended.")  # fmt: skip
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(handler=cmd_schedule_show)
    set_ = actions.add_parser(
        "set", help="set the schedule", parents=[common], formatter_class=ExamplesFormatter,
        description="Set when the scheduled sync runs.", epilog=EXAMPLES,
    )  # fmt: skip
    set_.add_argument("every", choices=["daily", "weekly", "monthly"], metavar="EVERY",
                      help="daily, weekly or monthly")  # fmt: skip
    set_.add_argument("--at", required=True, metavar="HH:MM", help="the time, 24-hour clock")
    set_.add_argument("--day", metavar="DAY", help="weekly: mon..sun; monthly: 1-31 (31 runs on"
                      " the last day of every month)")  # fmt: skip
    set_.add_argument("--timezone", metavar="ZONE", help="an IANA time zone such as"
                      " Europe/London (default: this host's)")  # fmt: skip
    set_.add_argument("--json", action="store_true", help="print the schedule as JSON")
    set_.set_defaults(handler=cmd_schedule_set)
    off = actions.add_parser("off", help="stop scheduled syncs", parents=[common],
                             description="Stop scheduled syncs (the record of the last run"
                             " is kept).")  # fmt: skip
    off.set_defaults(handler=cmd_schedule_off)
    run = actions.add_parser(
        "run", help="run the scheduled sync now (--due: only if it is due)", parents=[common],
        description="Run the scheduled sync now, as serve would: the PSA, then every pulled"
        " vendor, in full. With --due, only when it is due (for cron); exit 0 when it was not."
        " Exit 1 when a source failed.",
    )  # fmt: skip
    run.add_argument("--due", action="store_true", help="only if the schedule says it is due")
    run.add_argument("--json", action="store_true", help="print JSON")
    run.set_defaults(handler=cmd_schedule_run)


def schedule_facts() -> dict:
    from dataclasses import asdict

    from msp_tui.schedule import current_schedule, last_run, next_run, overdue

    schedule, last = current_schedule(), last_run()
    facts: dict = {"schedule": None, "next_run": None, "overdue": False,
                   "last_run": asdict(last) if last else None}  # fmt: skip
    if schedule is not None:
        facts["schedule"] = {**asdict(schedule), "describe": schedule.describe()}
        next_at = next_run(schedule, last)
        facts["next_run"] = next_at.isoformat() + "Z"
        facts["overdue"] = overdue(next_at)
    return facts


def _say_facts(facts: dict) -> None:
    from msp_tui.schedule import local_text

    schedule, last = facts["schedule"], facts["last_run"]
    zone = schedule["timezone"] if schedule else "UTC"
    if schedule is None:
        say("no scheduled sync (set one: msp-tui schedule set daily --at 02:00)")
    else:
        say(f"scheduled sync: {schedule['describe']} (set by {schedule['set_by'] or '?'})")
        say(f"next run: {local_text(facts['next_run'].rstrip('Z'), zone)}")
        if facts["overdue"]:
            say("msp-tui: the scheduled sync is overdue: is 'msp-tui serve' or the cron line"
                " ('msp-tui schedule run --due') running?", file=sys.stderr)  # fmt: skip
    if last is None:
        say("last run: never")
    else:
        state = {None: "running", True: "ok", False: "failed"}[last["ok"]]
        say(f"last run: {local_text(last['started_at'], zone)}, {state}: {last['detail']}")


def cmd_schedule_show(ctx: Context, args: argparse.Namespace) -> int:
    facts = schedule_facts()
    if args.json:
        print(json.dumps(facts, indent=2))
    else:
        _say_facts(facts)
    return 0


def cmd_schedule_set(ctx: Context, args: argparse.Namespace) -> int:
    from msp_tui.operator import current_operator
    from msp_tui.schedule import Schedule, ScheduleError, save_schedule

    day = args.day
    try:
        if args.every == "monthly" and day is not None:
            try:
                day = int(day)
            except ValueError:
                raise ScheduleError(f"--day for a monthly sync is 1-31, not {day!r}") from None
        schedule = Schedule.make(args.every, args.at, args.timezone,
                                 weekday=day if args.every == "weekly" else None,
                                 day=day if args.every == "monthly" else None,
                                 set_by=current_operator())  # fmt: skip
    except ScheduleError as exc:
        raise UsageError(str(exc)) from None
    if args.every == "daily" and day is not None:
        raise UsageError("--day is for weekly and monthly syncs")
    save_schedule(schedule)
    return cmd_schedule_show(ctx, args)


def cmd_schedule_off(ctx: Context, args: argparse.Namespace) -> int:
    from msp_tui.schedule import current_schedule, save_schedule

    if current_schedule() is None:
        say("no scheduled sync was set")
        return 0
    save_schedule(None)
    say("scheduled syncs are off")
    return 0


def cmd_schedule_run(ctx: Context, args: argparse.Namespace) -> int:
    import asyncio

    from msp_tui.schedule import run_if_due

    # --due with no schedule set is "not due": scheduled syncs turned off in the app need no
    # change to the crontab.
    outcomes = asyncio.run(run_if_due(ctx.secrets, force=not args.due))
    if outcomes is None:
        if args.json:
            print(json.dumps({"ran": False}))
        elif not args.due:
            raise CommandError("another msp-tui is running the scheduled sync right now")
        return 0
    if args.json:
        print(json.dumps({"ran": True, "outcomes": [o.as_json() for o in outcomes]}, indent=2))
    else:
        for o in outcomes:
            if o.ok:
                say(f"{o.source}: ok in {o.seconds:.1f} s")
            else:  # as `msp-tui sync` says it: on stderr, for cron's mail
                say(f"msp-tui: scheduled sync of {o.source} failed: {o.error}", file=sys.stderr)
    return 1 if any(not o.ok for o in outcomes) else 0
