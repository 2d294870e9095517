"""Alerts: what vendors reported, and which became PSA tickets; failed ones can be retried."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Static

from msp_tui.alerts import AlertRow, alert_counts, alert_rows, retry_now
from msp_tui.sources import psa_words
from screens.footer import Footer
from screens.indicator import AppHeader
from screens.pairing import PairingList
from screens.shown import plain, shown

ALERTS_HELP = """\
## Alerts
Alerts pushed by vendors (Mailprotector and others), newest first. Each becomes one ticket on
the PSA board chosen for its integration, for the company its account is mapped to.

- **Created**: the ticket exists (its number is shown).
- **Queued**: waiting for the next round (every few seconds).
- **Failed**: the reason is shown below. "account not mapped": map the vendor account and
  it goes through by itself. A PSA error is tried again later, waiting longer each time;
  **t** retries the highlighted alert now, **T** every failed one.

**r** reads the list again; **esc** goes back.
"""
NO_ALERTS = (
    "No alerts yet. Vendors send them to the Vendor API once an integration has the Alerts"
    " module and a {board} (l on its card)."
)
STATE_STYLES = {"created": "$success", "queued": "$warning", "failed": "$error"}


class AlertList(PairingList):
    BINDINGS = [
        Binding("enter", "select", "Select", id="alert_list.select", show=False,
                tooltip="Nothing: t retries a failed alert."),
    ]  # fmt: skip


def format_alert(row: AlertRow, width: int) -> Content:
    when = row.created_at.strftime("%m-%d %H:%M")
    state = f"{row.state:<8}"
    ticket = f"#{row.ticket_id}" if row.ticket_id else ""
    right = f" {ticket:>8} {when}"
    room = max(1, width - len(state) - len(right) - 1)
    text = f"{plain(row.account)}: {plain(row.title)}"
    text = text if len(text) <= room else text[: room - 1] + "…"
    return Content.assemble((state, STATE_STYLES.get(row.state, "")), " ", text.ljust(room), right)


class AlertsScreen(Screen):
    HELP = ALERTS_HELP
    BINDINGS = [
        Binding("t", "retry", "Retry", id="alerts.retry",
                tooltip="Try the highlighted failed alert again now."),
        Binding("T", "retry_all", "Retry all", id="alerts.retry_all",
                tooltip="Try every failed alert again now."),
        Binding("r", "reload", "Refresh", id="alerts.reload", tooltip="Read the alerts again."),
        Binding("escape", "back", "Back", id="alerts.back", tooltip="Go back home."),
    ]  # fmt: skip
    LIMIT = 5_000

    def compose(self) -> ComposeResult:
        yield AppHeader()
        yield Static("", id="alerts-status")
        yield AlertList(format_alert, id="alert-list")
        yield Static("", id="alert-detail")
        yield Footer()

    def on_mount(self) -> None:
        self._board_word = psa_words().board  # where the PSA puts tickets: board, queue
        self.load()
        self.query_one(AlertList).focus()
        self.watch(self.app, "alert_rounds", self.load, init=False)

    def load(self) -> None:
        rows = alert_rows(self.LIMIT)
        table = self.query_one(AlertList)
        current = table.highlighted_item
        table.set_rows(rows)
        if current is not None:
            index = next((i for i, r in enumerate(rows) if r.id == current.id), None)
            if index is not None:
                table.move_cursor(index)
        counts = alert_counts()
        parts = [f"{counts[s]:,} {s}" for s in ("failed", "queued", "created")]
        self.query_one("#alerts-status", Static).update(
            "Alerts: " + " · ".join(parts)
            + ("" if len(rows) < self.LIMIT else f" (the newest {self.LIMIT:,} shown)")
        )  # fmt: skip
        self.show_detail(table.highlighted_item)

    @on(PairingList.Highlighted, "#alert-list")
    def highlighted(self, event: PairingList.Highlighted) -> None:
        self.show_detail(event.item)

    def show_detail(self, row: AlertRow | None) -> None:
        detail = self.query_one("#alert-detail", Static)
        if row is None:
            detail.update(NO_ALERTS.format(board=self._board_word))
            return
        lines = [
            f"[b]{shown(row.title)}[/b] · priority {row.priority}",
            f"{shown(row.integration)} · {shown(row.account)} ({shown(row.account_external_id)})"
            f" · alert {shown(row.alert_id)} · received {row.created_at:%Y-%m-%d %H:%M} UTC",
        ]
        company = shown(row.company) if row.company else "no PSA company (map the account)"
        word = self._board_word
        board = (f"the {word} {shown(row.board)}" if row.board
                 else f"no {word} (l on the integration)")  # fmt: skip
        if row.state == "created":
            lines.append(f"Ticket #{row.ticket_id} for {company} on {board}.")
        elif row.state == "failed":
            lines.append(f"Its ticket goes to {company} on {board}.")
            lines.append(f"[$error]Failed[/]: {shown(row.last_error or '?')}")
            if row.next_attempt_at is not None:
                lines.append(f"Next try {row.next_attempt_at:%H:%M:%S} UTC (t: now).")
        else:
            lines.append(f"Queued: a ticket for {company} on {board} within seconds.")
        detail.update("\n".join(lines))

    def action_retry(self) -> None:
        row = self.query_one(AlertList).highlighted_item
        if row is None or row.state != "failed":
            self.notify("Only a failed alert can be retried.")
            return
        retry_now([row.id])
        self.app.deliver_alerts()
        self.notify("Trying again…", timeout=3)

    def action_retry_all(self) -> None:
        count = retry_now()
        if count:
            self.app.deliver_alerts()
        self.notify(f"Trying {count} failed alert{'s' * (count != 1)} again…", timeout=3)

    def action_reload(self) -> None:
        self.load()

    def action_back(self) -> None:
        self.dismiss()
