"""One connected integration: reopen mapping, add Alerts, rotate the key, sync, disconnect."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from msp_tui import connect
from msp_tui.overview import integration_summaries
from msp_tui.push.keys import new_partner_key
from msp_tui.sources import psa_words
from msp_tui.store.db import writing
from msp_tui.store.models import Integration
from screens.footer import Footer
from screens.indicator import AppHeader
from screens.shown import shown
from screens.wizard import ConfirmModal, ConnectWizard, PartnerKeyModal


class IntegrationScreen(Screen[None]):
    BINDINGS = [
        Binding(
            "m",
            "map('accounts')",
            "Accounts",
            id="integration.map_accounts",
            tooltip="Map vendor accounts to PSA companies.",
        ),
        Binding(
            "v",
            "map('services')",
            "Services",
            id="integration.map_services",
            tooltip="Map vendor services to PSA products.",
        ),
        Binding(
            "l",
            "alerts",
            "Alerts",
            id="integration.alerts",
            tooltip="Add the Alerts module or change its board.",
        ),
        Binding("s", "sync", "Sync", id="integration.sync", tooltip="Sync this integration."),
        Binding(
            "k",
            "rotate",
            "Rotate key",
            id="integration.rotate",
            tooltip="A new partner key; the old one stops at once.",
        ),
        Binding(
            "d",
            "disconnect",
            "Disconnect",
            id="integration.disconnect",
            tooltip="Delete this integration and its vendor accounts.",
        ),
        Binding("escape", "app.pop_screen", "Home", id="integration.home", tooltip="Back to Home."),
    ]
    HELP = """\
## Integration
**m** map accounts, **v** map services, **l** alerts, **s** sync (pulled vendors),
**k** rotate the partner key (push vendors), **d** disconnect, **esc** Home.
New vendor accounts that arrive later show as unmapped: press **m** to map them.
"""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.integration_name = name

    def compose(self) -> ComposeResult:
        yield AppHeader()
        with VerticalScroll(id="integration"):
            yield Static("", id="integration-summary")
        yield Footer()

    def on_mount(self) -> None:
        self.show()

    def on_screen_resume(self) -> None:
        self.show()

    def show(self) -> None:
        summary = next(
            (s for s in integration_summaries() if s.name == self.integration_name), None
        )
        if summary is None:  # just disconnected; the disconnect closes this screen
            return
        integration = Integration.get(Integration.name == self.integration_name)
        route = integration.alert_route.first()
        self.query_one("#integration-summary", Static).update(
            f"[b]{summary.vendor_title} · {shown(summary.name)}[/b] ({summary.kind})\n"
            f"Status: {shown(summary.health.line())} · modules: {integration.modules}\n"
            + (f"Next: {summary.health.next_step}\n" if summary.health.next_step else "")
            + f"{summary.accounts:,} accounts ({summary.unmapped_words}) ·"
            f" {summary.services} services\n"
            + (
                f"Alert tickets go to the {psa_words().board} {shown(route.board_name)}\n"
                if route
                else ""
            )
            + (
                "\nCounts are the maximum licences over the last 30 days, weekends included;"
                " the SpamTitan portal leaves weekends out, so it may show less."
                if summary.vendor == "spamtitan"
                else ""
            )
        )

    def action_map(self, step: str) -> None:
        self.app.push_screen(ConnectWizard(integration=self.integration_name, start=step))

    def action_alerts(self) -> None:
        self.app.push_screen(ConnectWizard(integration=self.integration_name, start="alerts"))

    def action_sync(self) -> None:
        if not self.app.start_sync([self.integration_name]):
            self.notify("This vendor pushes its counts; there is nothing to pull.")

    def action_rotate(self) -> None:
        integration = Integration.get(Integration.name == self.integration_name)
        if integration.kind != "push":
            self.notify("SpamTitan uses an API key: add the integration again to change it.")
            return

        def rotate(yes: bool | None) -> None:
            if yes:
                key = new_partner_key(integration)
                if getattr(self.app, "demo", None) is not None:
                    self.app.demo.partner_keys[integration.name] = key
                self.app.push_screen(PartnerKeyModal(key, self.app.vendor_api_url()))

        self.app.push_screen(
            ConfirmModal("Make a new partner key? The current one stops working at once."), rotate
        )

    def action_disconnect(self) -> None:
        integration = Integration.get(Integration.name == self.integration_name)
        accounts = integration.accounts.count()

        def disconnect(yes: bool | None) -> None:
            if yes:
                with writing():
                    integration.delete_instance()
                self.app.ctx.secrets.delete(integration.name, "api_key")
                self.notify(f"Disconnected {integration.name}.")
                self.dismiss(None)

        self.app.push_screen(
            ConfirmModal(
                f"Disconnect {integration.name}? Its {accounts} vendor accounts, their counts and"
                " mappings are deleted."
            ),
            disconnect,
        )


__all__ = ["IntegrationScreen", "connect"]
