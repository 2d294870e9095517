"""The scheduled sync, set from the app: off, daily, weekly on a day or monthly on a day of the
month, at a time in a time zone. The next run is shown as it is typed; ctrl+s keeps it in the
store, where `msp-tui serve` (or cron's `msp-tui schedule run --due`) finds it."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Input, Label, RadioButton, RadioSet, Static

from msp_tui.schedule import (
    WEEKDAYS,
    Schedule,
    ScheduleError,
    current_schedule,
    last_run,
    local_text,
    local_zone,
    next_run,
    save_schedule,
)
from screens.fields import field_row, mark_focused
from screens.footer import Footer
from screens.indicator import AppHeader
from screens.shown import sentence, shown

CHOICES = ("off", "daily", "weekly", "monthly")
DAY_HINTS = {
    "weekly": "mon, tue, wed, thu, fri, sat or sun",
    "monthly": "1-31 (31: the last day of every month)",
}
RUNNER_HINT = (
    "'msp-tui serve' runs the schedule; without it, a cron line runs"
    " 'msp-tui schedule run --due' every 5 minutes (see the README)."
)


def schedule_from(every: str, at: str, day: str, zone: str, operator: str) -> Schedule | None:
    """The schedule the form says (None: off); ScheduleError says what to fix."""
    if every == "off":
        return None
    if every == "monthly":
        try:
            number = int(day)
        except ValueError:
            raise ScheduleError(f"Day: {DAY_HINTS['monthly']}") from None
        return Schedule.make(every, at, zone, day=number, set_by=operator)
    return Schedule.make(every, at, zone, weekday=day if every == "weekly" else None,
                         set_by=operator)  # fmt: skip


class ScheduleForm(Screen[bool]):
    """Dismissed with True once the schedule is saved."""

    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="schedule.save", priority=True,
                tooltip="Keep this schedule in the store."),
        Binding("escape", "cancel", "Cancel", id="schedule.cancel",
                tooltip="Back without changing the schedule."),
    ]  # fmt: skip
    HELP = """\
## Scheduled sync
The PSA, then every pulled vendor, read in full at the time set here. **left/right** then
**space** choose how often, **tab** moves between fields, **ctrl+s** saves, **esc** goes back
unchanged. The schedule is kept in the database, so every host and operator sees the same one.
"""

    def compose(self) -> ComposeResult:
        saved = current_schedule()
        yield AppHeader()
        with VerticalScroll(id="schedule-form"):
            yield Label("[b]Scheduled sync[/b]: the PSA, then every pulled vendor, in full")
            with RadioSet(id="schedule-every"):
                for choice in CHOICES:
                    yield RadioButton(choice.title(), value=choice == (saved.every if saved
                                                                       else "off"))  # fmt: skip
            day = ""
            if saved is not None and saved.weekday is not None:
                day = WEEKDAYS[saved.weekday]
            elif saved is not None and saved.day is not None:
                day = str(saved.day)
            yield field_row("At", "schedule-at", "HH:MM, 24-hour clock",
                            value=saved.at if saved else "02:00")  # fmt: skip
            yield field_row("Day", "schedule-day", "", value=day)
            yield field_row("Time zone", "schedule-zone", "Europe/London, America/New_York, UTC",
                            value=saved.timezone if saved else local_zone())  # fmt: skip
            yield Static("", id="schedule-status")
            yield Static(RUNNER_HINT, classes="hint")
            with Horizontal(classes="buttons"):
                yield Button("Save (ctrl+s)", id="save", variant="primary", action="screen.save")
                yield Button("Cancel (esc)", id="cancel", action="screen.cancel")
        yield Footer()

    def on_mount(self) -> None:
        every = self.query_one(RadioSet)
        # The highlight starts on the saved choice (a RadioSet starts it on the first button),
        # so left and right move from what is set.
        for _ in range(max(every.pressed_index, 0)):
            every.action_next_button()
        every.focus()
        self._preview()

    def on_descendant_focus(self, event) -> None:
        mark_focused(self, event.widget)

    def _every(self) -> str:
        pressed = self.query_one(RadioSet).pressed_index
        return CHOICES[max(pressed, 0)]

    def _value(self, input_id: str) -> str:
        return self.query_one(f"#{input_id}", Input).value.strip()

    def _schedule(self) -> Schedule | None:
        from msp_tui.operator import current_operator

        return schedule_from(self._every(), self._value("schedule-at"),
                             self._value("schedule-day"), self._value("schedule-zone"),
                             current_operator())  # fmt: skip

    @on(RadioSet.Changed)
    @on(Input.Changed)
    def _preview(self) -> None:
        every = self._every()
        day = self.query_one("#schedule-day", Input)
        day.placeholder = DAY_HINTS.get(every, "not used")
        day.disabled = every not in DAY_HINTS
        for input_id in ("schedule-at", "schedule-zone"):
            self.query_one(f"#{input_id}", Input).disabled = every == "off"
        status = self.query_one("#schedule-status", Static)
        try:
            schedule = self._schedule()
        except ScheduleError as exc:
            status.update(f"[yellow]{shown(sentence(exc))}[/yellow]")
            return
        if schedule is None:
            status.update("No scheduled sync: syncs run when you press s.")
            return
        when = local_text(next_run(schedule, last_run()), schedule.timezone)
        status.update(f"[green]{shown(sentence(schedule.describe()))}[/green] · next run"
                      f" {shown(when)}")  # fmt: skip

    def action_save(self) -> None:
        try:
            schedule = self._schedule()
        except ScheduleError as exc:
            self.query_one("#schedule-status", Static).update(
                f"[red]✗ {shown(sentence(exc))}[/red]"
            )
            return
        save_schedule(schedule)
        self.app.notify(f"Scheduled sync: {schedule.describe()}." if schedule
                        else "Scheduled syncs are off.")  # fmt: skip
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
