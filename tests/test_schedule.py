"""Scheduled syncs: when they fall, the CLI that sets them, one run per due time across real
processes, `msp-tui serve` running one, and the Home card and form that show and set it."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import subprocess
import sys
from datetime import datetime, timedelta

import pytest
from pilot_tools import wait_until
from processes import share_psa_keys, share_secrets, wait_while_running

from msp_tui.app import MspTuiApp
from msp_tui.cli import main
from msp_tui.schedule import (
    LastRun,
    Schedule,
    ScheduleError,
    current_schedule,
    last_run,
    next_run,
    overdue,
    run_if_due,
    save_schedule,
)
from msp_tui.store.models import SyncRun, utcnow
from screens.home import Card
from screens.schedule_form import ScheduleForm
from serve_process import start_serve, stop_serve


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.parametrize(
    ("every", "options", "after", "expected"),
    [
        ("daily", {}, "2026-12-02T01:59", "2026-12-02T02:00"),
        ("daily", {}, "2026-12-02T02:00", "2026-12-03T02:00"),  # strictly after
        ("weekly", {"weekday": "mon"}, "2026-12-02T09:00", "2026-12-07T02:00"),  # a Wednesday
        ("weekly", {"weekday": "Wednesday"}, "2026-12-02T01:00", "2026-12-02T02:00"),
        ("monthly", {"day": 1}, "2026-12-02T00:00", "2027-01-01T02:00"),
        ("monthly", {"day": 31}, "2027-02-01T00:00", "2027-02-28T02:00"),  # the month's last
        ("monthly", {"day": 30}, "2028-02-01T00:00", "2028-02-29T02:00"),  # a leap year
        ("monthly", {"day": 31}, "2027-01-31T02:00", "2027-02-28T02:00"),
    ],
)
def test_the_next_run_in_utc(every, options, after, expected) -> None:
    schedule = Schedule.make(every, "02:00", "UTC", **options)
    assert schedule.next_after(at(after)) == at(expected)


def test_the_next_run_keeps_the_wall_clock_across_daylight_saving() -> None:
    london = Schedule.make("daily", "02:00", "Europe/London")
    assert london.next_after(at("2026-07-01T12:00")) == at("2026-07-02T01:00")  # BST: UTC+1
    assert london.next_after(at("2026-12-01T12:00")) == at("2026-12-02T02:00")  # GMT
    new_york = Schedule.make("weekly", "23:30", "America/New_York", weekday="sun")
    assert new_york.next_after(at("2026-12-02T00:00")) == at("2026-12-07T04:30")  # Sun, UTC-5


@pytest.mark.parametrize(
    ("every", "at_", "zone", "options", "says"),
    [
        ("hourly", "02:00", "UTC", {}, "daily, weekly, monthly"),
        ("daily", "25:00", "UTC", {}, "HH:MM"),
        ("daily", "2pm", "UTC", {}, "HH:MM"),
        ("daily", "02:00", "Mars/Base", {}, "unknown time zone"),
        ("weekly", "02:00", "UTC", {}, "mon, tue"),
        ("weekly", "02:00", "UTC", {"weekday": "someday"}, "mon, tue"),
        ("monthly", "02:00", "UTC", {"day": 0}, "1 to 31"),
        ("monthly", "02:00", "UTC", {"day": 32}, "1 to 31"),
    ],
)
def test_a_schedule_that_cannot_be_kept_says_why(every, at_, zone, options, says) -> None:
    with pytest.raises(ScheduleError, match=says):
        Schedule.make(every, at_, zone, **options)


def test_the_cli_sets_shows_and_stops_the_schedule(db_path, capsys) -> None:
    db = ["--db", str(db_path)]
    assert main([*db, "schedule", "show"]) == 0
    assert "no scheduled sync" in capsys.readouterr().out
    assert main([*db, "schedule", "set", "weekly", "--day", "fri", "--at", "06:30",
                 "--timezone", "Europe/London"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "weekly on Friday at 06:30 Europe/London" in out and "next run: Fri" in out
    assert main([*db, "schedule", "show", "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["schedule"]["every"] == "weekly" and facts["last_run"] is None
    assert facts["next_run"].endswith(":30:00Z") and not facts["overdue"]
    for bad, says in (
        (["set", "daily", "--at", "7"], "HH:MM"),
        (["set", "daily", "--at", "07:00", "--day", "3"], "--day is for weekly and monthly"),
        (["set", "monthly", "--at", "07:00", "--day", "first"], "1-31"),
        (["set", "weekly", "--at", "07:00"], "needs its day"),
    ):
        assert main([*db, "schedule", *bad]) == 2
        assert says in capsys.readouterr().err
    assert current_schedule().every == "weekly"  # a refused change changes nothing
    assert main([*db, "schedule", "off"]) == 0
    assert current_schedule() is None
    # cron's line with the schedule off: nothing runs, nothing is said, exit 0
    assert main([*db, "schedule", "run", "--due"]) == 0
    assert capsys.readouterr().out == "scheduled syncs are off\n"


def due_schedule(minutes_ago: int = 30) -> Schedule:
    """A daily schedule set a day ago whose time passed `minutes_ago` minutes ago."""
    now = utcnow()
    passed = now - timedelta(minutes=minutes_ago)
    schedule = Schedule.make("daily", passed.strftime("%H:%M"), "UTC")
    return dataclasses.replace(schedule, set_at=(now - timedelta(days=1)).isoformat())


def psa_runs() -> int:
    return SyncRun.select().where(SyncRun.psa_connection.is_null(False)).count()


def test_a_due_schedule_runs_once_and_then_waits_for_its_next_time(mapped) -> None:
    _, ctx = mapped
    assert asyncio.run(run_if_due(ctx.secrets)) is None  # no schedule: nothing runs
    schedule = due_schedule()
    save_schedule(schedule)
    assert overdue(next_run(schedule, last_run()))
    before = psa_runs()
    outcomes = asyncio.run(run_if_due(ctx.secrets))
    assert [o.source for o in outcomes] == ["psa:connectwise", "spamtitan"]
    assert all(o.ok for o in outcomes) and psa_runs() == before + 1
    last = last_run()
    assert last.ok and last.detail == "2 sources synced" and last.finished_at
    assert next_run(schedule, last) > utcnow() and not overdue(next_run(schedule, last))
    assert asyncio.run(run_if_due(ctx.secrets)) is None  # not due again until tomorrow
    assert psa_runs() == before + 1


def test_a_failed_scheduled_sync_is_recorded_and_shown(mapped, capsys) -> None:
    demo, ctx = mapped
    save_schedule(due_schedule())
    ctx.secrets.delete("spamtitan", "api_key")
    outcomes = asyncio.run(run_if_due(ctx.secrets))
    assert [o.ok for o in outcomes] == [True, False]
    last = last_run()
    assert last.ok is False and last.detail.startswith("spamtitan: ")
    assert main(["--db", str(demo.store), "schedule", "show"]) == 0
    assert ", failed: spamtitan: " in capsys.readouterr().out
    assert main(["--db", str(demo.store), "schedule", "run"]) == 1  # now, due or not
    printed = capsys.readouterr()
    assert "psa:connectwise: ok in" in printed.out
    assert "msp-tui: scheduled sync of spamtitan failed: " in printed.err


def schedule_run(db: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "msp_tui", "--db", db, "schedule", "run", "--due", "--json"]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, text=True)  # fmt: skip


@pytest.fixture
def due_for_a_second_process(mapped, monkeypatch):
    """The mapped demo with a due schedule, its keys in the file secret store where another
    process (cron's, serve) finds them."""
    demo, ctx = mapped
    share_psa_keys(ctx)
    share_secrets(ctx, "spamtitan", ("api_key",))
    monkeypatch.setenv("MSP_TUI_SECRETS", "file")
    save_schedule(due_schedule())
    return demo


def test_cron_runners_started_together_run_it_once(due_for_a_second_process) -> None:
    """Three real `msp-tui schedule run --due` processes at once (three hosts' cron lines)."""
    demo = due_for_a_second_process
    before = psa_runs()
    runners = [schedule_run(str(demo.store)) for _ in range(3)]
    answers = []
    for runner in runners:
        out, _ = runner.communicate(timeout=120)
        assert runner.returncode == 0, out
        answers.append(json.loads(out)["ran"])
    assert sorted(answers) == [False, False, True]
    assert psa_runs() == before + 1 and last_run().ok


def test_serve_runs_a_due_schedule(due_for_a_second_process) -> None:
    demo = due_for_a_second_process
    served = start_serve(demo.store)
    try:
        wait_while_running(served.process, lambda: (last_run() or LastRun("")).ok is not None,
                           timeout=60)  # fmt: skip
        assert last_run().ok, "".join(served.output)
    finally:
        stop_serve(served)


async def test_home_shows_the_schedule_and_its_form_sets_it(mapped) -> None:
    _, ctx = mapped
    app = MspTuiApp(ctx, serve_port=0)

    def card_text() -> str:
        cards = [c for c in app.screen.query(Card) if c.card.key == "schedule"]
        return str(cards[0].render()) if cards else ""

    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: "Off · enter sets" in card_text())
        card = next(c for c in app.screen.query(Card) if c.card.key == "schedule")
        card.focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ScheduleForm))
        form = app.screen
        status = form.query_one("#schedule-status")
        assert "No scheduled sync" in str(status.render())
        await pilot.press("right", "right", "right", "space")  # Off, Daily, Weekly, Monthly
        await wait_until(pilot, lambda: "Day: 1-31" in str(status.render()))
        form.query_one("#schedule-day").focus()
        await pilot.press(*"31")
        form.query_one("#schedule-at").focus()
        await pilot.press("ctrl+u", *"3:15")
        form.query_one("#schedule-zone").focus()
        await pilot.press("ctrl+u", *"Nowhere/Land")
        await wait_until(pilot, lambda: "Unknown time zone" in str(status.render()))
        await pilot.press("ctrl+s")  # refused: the form stays, says why
        await wait_until(pilot, lambda: "✗" in str(status.render()))
        assert current_schedule() is None
        await pilot.press("ctrl+u", *"UTC")
        await wait_until(pilot, lambda: "next run" in str(status.render()))
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: "Monthly on day 31" in card_text())
        saved = current_schedule()
        assert (saved.every, saved.day, saved.at, saved.timezone) == ("monthly", 31, "03:15", "UTC")
        # Opened again, the choice highlighted is the saved one: left moves to Weekly.
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ScheduleForm))
        status = app.screen.query_one("#schedule-status")
        await pilot.press("left", "space")
        await wait_until(pilot, lambda: "A weekly sync needs its day" in str(status.render()))
        await pilot.press("escape")  # back, unchanged
        await wait_until(pilot, lambda: "Monthly on day 31" in card_text())
        assert current_schedule().every == "monthly"
