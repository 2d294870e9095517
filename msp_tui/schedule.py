"""Scheduled syncs: daily at a time, weekly on a day, or monthly on a day of the month.

The schedule lives in the store (one per store, so every host and operator sees the same one),
with the last scheduled run beside it. `msp-tui serve` runs it; without serve, cron or a
systemd timer calls `msp-tui schedule run --due` every few minutes. Whoever runs it takes the
store's `schedule` lock first and reads the last run under it, so one run happens per due time
however many runners there are. A run missed while nothing was running (the server was down
at 02:00) is made up once, at the next check.

Times are wall-clock times in the schedule's time zone; the store keeps UTC.
"""

from __future__ import annotations

import calendar
import json
import logging
import os
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from msp_tui.store.db import process_lock, writing
from msp_tui.store.models import AppSetting, utcnow

log = logging.getLogger("msp_tui.schedule")

FREQUENCIES = ("daily", "weekly", "monthly")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SCHEDULE_KEY, LAST_KEY = "sync_schedule", "sync_schedule.last"
OVERDUE_AFTER = timedelta(minutes=20)  # cron's every-5-minutes line runs it well before this


class ScheduleError(ValueError):
    """A schedule that cannot be kept as given; the message says what to give instead."""


def local_zone() -> str:
    """This host's time zone name (TZ, else /etc/localtime's target), else UTC."""
    for name in (os.environ.get("TZ", "").lstrip(":"), _localtime_link()):
        if name and _zone_or_none(name) is not None:
            return name
    return "UTC"


def _localtime_link() -> str:
    try:
        target = str(Path("/etc/localtime").resolve())
    except OSError:
        return ""
    return target.split("/zoneinfo/", 1)[1] if "/zoneinfo/" in target else ""


def _zone_or_none(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


@dataclass(frozen=True)
class Schedule:
    every: str  # daily | weekly | monthly
    at: str  # HH:MM, wall-clock time in `timezone`
    timezone: str
    weekday: int | None = None  # weekly: 0 is Monday
    day: int | None = None  # monthly: 1-31; past a month's end, its last day
    set_by: str = ""
    set_at: str = ""  # UTC, ISO 8601

    @classmethod
    def make(cls, every: str, at: str, timezone: str | None = None, weekday: str | None = None,
             day: int | None = None, set_by: str = "") -> Schedule:  # fmt: skip
        """A checked schedule from what an operator typed; ScheduleError says what is wrong."""
        if every not in FREQUENCIES:
            raise ScheduleError(f"every is one of {', '.join(FREQUENCIES)}, not {every!r}")
        at_time = parse_time(at)
        zone = timezone or local_zone()
        if _zone_or_none(zone) is None:
            raise ScheduleError(f"unknown time zone {zone!r} (an IANA name: Europe/London,"
                                " America/New_York, UTC)")  # fmt: skip
        weekday_n = None
        if every == "weekly":
            key = (weekday or "").strip().lower()[:3]
            if key not in WEEKDAYS:
                raise ScheduleError("a weekly sync needs its day: mon, tue, wed, thu, fri, sat"
                                    " or sun")  # fmt: skip
            weekday_n = WEEKDAYS.index(key)
        if every == "monthly" and (day is None or not 1 <= day <= 31):
            raise ScheduleError("a monthly sync needs its day of the month, 1 to 31 (31: the"
                                " last day of every month)")  # fmt: skip
        return cls(every, at_time.strftime("%H:%M"), zone, weekday_n,
                   day if every == "monthly" else None, set_by,
                   utcnow().replace(microsecond=0).isoformat())  # fmt: skip

    def describe(self) -> str:
        when = {
            "daily": "daily",
            "weekly": f"weekly on {calendar.day_name[self.weekday or 0]}",
            "monthly": f"monthly on day {self.day}" + (" (or the month's last)"
                                                      if (self.day or 0) > 28 else ""),
        }[self.every]  # fmt: skip
        return f"{when} at {self.at} {self.timezone}"

    def _runs_on(self, day: date) -> bool:
        if self.every == "weekly":
            return day.weekday() == self.weekday
        if self.every == "monthly":
            last = calendar.monthrange(day.year, day.month)[1]
            return day.day == min(self.day or 1, last)
        return True

    def next_after(self, moment: datetime) -> datetime:
        """The first scheduled time after `moment` (naive UTC in, naive UTC out)."""
        zone = ZoneInfo(self.timezone)
        local = moment.replace(tzinfo=UTC).astimezone(zone)
        at = parse_time(self.at)
        for offset in range(0, 63):  # a monthly day comes round within two months
            day = local.date() + timedelta(days=offset)
            if not self._runs_on(day):
                continue
            candidate = datetime.combine(day, at, tzinfo=zone).astimezone(UTC)
            if candidate > moment.replace(tzinfo=UTC):
                return candidate.replace(tzinfo=None)
        raise AssertionError("a schedule with no next run")  # every branch runs within 62 days


def local_text(moment: datetime | str | None, zone: str) -> str:
    """A stored UTC time as the schedule's wall clock: 'Mon 2026-12-07 02:00 Europe/London'."""
    if moment is None:
        return "never"
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    shown = moment.replace(tzinfo=UTC).astimezone(ZoneInfo(zone))
    return shown.strftime("%a %Y-%m-%d %H:%M ") + zone


def parse_time(text: str) -> time:
    try:
        hour, minute = (int(part) for part in text.strip().split(":"))
        return time(hour, minute)
    except ValueError:
        raise ScheduleError(f"the time is HH:MM on a 24-hour clock, such as 02:30, not"
                            f" {text!r}") from None  # fmt: skip


@dataclass
class LastRun:
    started_at: str  # UTC, ISO 8601
    finished_at: str | None = None
    ok: bool | None = None  # None while running
    detail: str = ""


def _read(key: str) -> dict | None:
    row = AppSetting.get_or_none(AppSetting.key == key)
    return json.loads(row.value) if row is not None else None


def _write(key: str, value: dict | None) -> None:
    with writing():
        if value is None:
            AppSetting.delete().where(AppSetting.key == key).execute()
            return
        text = json.dumps(value)
        AppSetting.insert(key=key, value=text).on_conflict(
            conflict_target=[AppSetting.key], update={AppSetting.value: text}
        ).execute()


def current_schedule() -> Schedule | None:
    found = _read(SCHEDULE_KEY)
    return Schedule(**found) if found else None


def save_schedule(schedule: Schedule | None) -> None:
    """Set the schedule (None: scheduled syncs off). The last run is kept, for the record."""
    _write(SCHEDULE_KEY, asdict(schedule) if schedule else None)


def last_run() -> LastRun | None:
    found = _read(LAST_KEY)
    return LastRun(**found) if found else None


def next_run(schedule: Schedule, last: LastRun | None) -> datetime:
    """When the schedule runs next: the first time after its last run, or after it was set."""
    since = datetime.fromisoformat(schedule.set_at)
    if last is not None:
        since = max(since, datetime.fromisoformat(last.started_at))
    return schedule.next_after(since)


def overdue(next_at: datetime, now: datetime | None = None) -> bool:
    """A next run (`next_run`) due long enough ago that no runner (serve, cron) can be running
    it."""
    return next_at + OVERDUE_AFTER < (now or utcnow())


async def run_if_due(secrets, now: datetime | None = None, force: bool = False):
    """Run the scheduled sync if it is due (or `force`), once across every runner of this store.
    Returns its outcomes, or None when nothing ran (not due, no schedule, another runner)."""
    from msp_tui.sync import sync_all, sync_sources

    with process_lock("schedule") as ours:
        if not ours:
            return None
        schedule = current_schedule()
        now = now or utcnow()
        if not force and (schedule is None or next_run(schedule, last_run()) > now):
            return None
        run = LastRun(started_at=now.replace(microsecond=0).isoformat())
        _write(LAST_KEY, asdict(run))  # before the sync: a runner after us sees it taken
        sources = sync_sources()
        outcomes = await sync_all(secrets, sources, "full")
        failed = [o for o in outcomes if not o.ok]
        run.finished_at = utcnow().replace(microsecond=0).isoformat()
        run.ok = not failed
        run.detail = (
            "; ".join(f"{o.source}: {o.error}" for o in failed) if failed
            else f"{len(outcomes)} source{'s' * (len(outcomes) != 1)} synced" if outcomes
            else "nothing to sync: connect the PSA or a pulled vendor"
        )  # fmt: skip
        _write(LAST_KEY, asdict(run))
        log.info("scheduled sync: %s", run.detail)
        return outcomes


async def schedule_loop(secrets, every_s: float = 60.0) -> None:
    """Check the schedule every `every_s` seconds until cancelled (`msp-tui serve` runs it)."""
    import asyncio

    while True:
        try:
            await run_if_due(secrets)
        except Exception:  # a bad round must not end the loop; the next check tries again
            log.exception("the scheduled sync failed")
        await asyncio.sleep(every_s)
