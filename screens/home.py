"""Home: the integrations, their status and counts, or how to get started when there are none."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from msp_tui.overview import IntegrationSummary, integration_summaries

EMPTY_STATE = """\
[b]No integrations yet.[/b]

msp-tui compares what your vendors count (SpamTitan, Mailprotector) with what your PSA \
(ConnectWise Manage) bills, and fixes the agreements you approve.

To begin: connect the PSA, add a vendor integration, map its accounts and services, then \
reconcile. Press [b]?[/b] for help on any screen, [b]ctrl+p[/b] for every command, [b]q[/b] to quit.
"""


class EmptyState(Static, can_focus=True):
    HELP = """\
## Getting started
An integration connects one vendor account (SpamTitan, Mailprotector) to msp-tui.
Once the PSA is connected and a vendor added, its accounts and services are mapped to
ConnectWise companies and products, and the numbers can be reconciled.
"""


class IntegrationTable(DataTable):
    HELP = """\
## Integrations
Each row is a connected vendor: its status, when it last synced, how many accounts and
services it reported, and how many accounts still need mapping to a PSA company.
"""


class HomeScreen(Screen):
    BINDINGS = [
        Binding("r", "refresh", "Refresh", id="home.refresh", tooltip="Read the store again."),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="home"):
            yield EmptyState(EMPTY_STATE, id="empty-state")
            yield IntegrationTable(id="integrations", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(IntegrationTable)
        table.add_columns(
            "Integration", "Vendor", "Status", "Last sync", "Accounts", "Services", "Unmapped"
        )
        self.action_refresh()

    def action_refresh(self) -> None:
        self.show(integration_summaries())

    def show(self, summaries: list[IntegrationSummary]) -> None:
        table = self.query_one(IntegrationTable)
        table.clear()
        for s in summaries:
            last_sync = s.last_sync_at.strftime("%Y-%m-%d %H:%M") if s.last_sync_at else "never"
            table.add_row(
                s.name,
                s.vendor_title,
                s.status_title,
                last_sync,
                str(s.accounts),
                str(s.services),
                str(s.unmapped_accounts),
                key=s.name,
            )
        empty = self.query_one(EmptyState)
        empty.display = not summaries
        table.display = bool(summaries)
        (table if summaries else empty).focus()
