"""ctrl+p: the app's own commands, beside Textual's. What is offered follows what exists: a
sync, mapping and opening command per integration, a filter command per reconciliation view."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from msp_tui.overview import integration_summaries, psa_summary
from msp_tui.reconcile import FILTERS
from msp_tui.sources import PSA_TITLES, psa_words
from screens.shown import plain

PSA_FORM_HELP = {
    "ConnectWise Manage": "ConnectWise Manage: site, company and API keys",
    "Autotask": "Autotask: API user, secret and integration code",
}


@dataclass(frozen=True)
class Command:
    title: str
    help: str
    run: Callable[[], object]


class MspCommands(Provider):
    async def startup(self) -> None:
        # The store is read once per opening of the palette, off the UI thread.
        self._summaries, self._psa, self._words = await asyncio.to_thread(
            lambda: (integration_summaries(), psa_summary(), psa_words())
        )

    def commands(self) -> list[Command]:
        from screens.alerts import AlertsScreen
        from screens.integration import IntegrationScreen
        from screens.psa_form import PsaForm
        from screens.reconcile import ReconcileScreen
        from screens.wizard import ConnectWizard

        app = self.app
        from screens.home import CATALOG

        found = [
            Command(f"Connect {title}", blurb, self._opens(ConnectWizard, vendor))
            for vendor, (title, blurb) in CATALOG.items()
        ]
        psa_title = "Connect the PSA" if self._psa is None else "Change the PSA connection"
        connected = self._words.psa if self._psa is not None else None
        psa_help = PSA_FORM_HELP.get(connected, " or ".join(PSA_TITLES.values()))
        found.append(Command(psa_title, psa_help, self._opens(PsaForm)))
        found.append(Command("Sync all", "The PSA and every pulled vendor", self._sync_all))
        found.append(Command("Schedule syncs", "Daily, weekly or monthly; serve or cron runs it",
                             self._schedule))  # fmt: skip
        if self._psa is not None:
            found.append(Command("Sync the PSA",
                                 f"Companies, products and {self._words.agreement}s",
                                 partial(app.start_sync, ["psa"])))  # fmt: skip
        found += [
            Command(
                f"Reconcile: {title.lower()}",
                "Vendor quantities beside the PSA's",
                self._opens(ReconcileScreen, which),
            )
            for which, title in FILTERS.items()
        ]
        found.append(Command("Alerts", "Vendor alerts and their tickets",
                             self._opens(AlertsScreen)))  # fmt: skip
        found.append(Command("Push the outbox", "Write waiting decisions to the PSA now",
                             app.push_outbox))  # fmt: skip
        for s in self._summaries:
            name = plain(s.name)
            found.append(Command(f"Open {name}", f"{s.vendor_title} integration",
                                 self._opens(IntegrationScreen, s.name)))  # fmt: skip
            found.append(Command(f"Map accounts of {name}", "The accounts board",
                                 self._opens(ConnectWizard, integration=s.name,
                                             start="accounts")))  # fmt: skip
            found.append(Command(f"Map services of {name}", "The services board",
                                 self._opens(ConnectWizard, integration=s.name,
                                             start="services")))  # fmt: skip
            if s.kind == "pull":
                found.append(Command(f"Sync {name}", f"Pull {s.vendor_title} counts now",
                                     partial(app.start_sync, [s.name])))  # fmt: skip
        return found

    def _sync_all(self) -> None:
        if not self.app.start_sync():
            self.app.notify("Nothing to sync yet: connect the PSA or a pulled vendor first.")

    def _schedule(self) -> None:
        from screens.home import HomeScreen
        from screens.schedule_form import ScheduleForm

        if isinstance(self.app.screen, HomeScreen):  # its card shows the new schedule
            self.app.screen.action_schedule()
        else:
            self.app.push_screen(ScheduleForm())

    def _opens(self, screen: type, *args, **kwargs) -> Callable[[], object]:
        """A command that makes the screen when it is chosen, not when it is listed."""
        return lambda: self.app.push_screen(screen(*args, **kwargs))

    async def discover(self) -> Hits:
        for command in self.commands():
            yield DiscoveryHit(command.title, command.run, help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self.commands():
            score = matcher.match(command.title)
            if score > 0:
                yield Hit(score, matcher.highlight(command.title), command.run, help=command.help)
