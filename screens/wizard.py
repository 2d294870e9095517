"""The connect wizard: Module - Credentials - (Alerts) - Accounts - Services - Review.

Every step can go Back or Cancel without losing anything: the integration is saved as soon as
its credentials work, and every mapping is saved the moment it is made (msp_tui.mapping).
Long work (authenticating, syncing, loading a 5,000-row board) runs in workers.

Opening it is quick (issue 19): only the first step's widgets are made (the others when first
shown), nothing heavy is imported (the matcher is imported in the board's worker), and the
question about a missing PSA comes over the first step once that is on screen.
"""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widget import Widget
from textual.widgets import (
    Button,
    Checkbox,
    ContentSwitcher,
    Input,
    Label,
    LoadingIndicator,
    OptionList,
    Static,
)
from textual.widgets.option_list import Option

from adapters.errors import AdapterError, Secret
from msp_tui import connect
from msp_tui.operator import current_operator
from msp_tui.overview import data_stamp, integration_summaries
from msp_tui.sources import psa_words
from msp_tui.store.models import Integration
from screens.fields import field_row, mark_focused
from screens.footer import Footer
from screens.indicator import AppHeader
from screens.shown import shown

STEP_TITLES = {
    "module": "Module",
    "credentials": "Credentials",
    "alerts": "Alerts",
    "accounts": "Accounts",
    "services": "Services",
    "review": "Review",
}
PUSH_STEPS = """\
In the Mailprotector Console:
  1. Integrations > Gradient MSP: paste the partner key, click [b]Enable[/b].
  2. Link the customers you bill, then click [b]Update Counts[/b].
Then press [b]Check Connection[/b] here to see what arrived.
"""


BOARD_STEPS = ("accounts", "services")

NO_PSA = """\
No PSA is connected yet. The mapping steps pair this vendor's accounts with the PSA's \
companies, so connect the PSA (ConnectWise Manage, Autotask or HaloPSA) first? (n: go on; the \
boards fill in once it is connected and synced.)"""


class PartnerKeyModal(ModalScreen[None]):
    """The partner key, shown this once, with copy to clipboard (OSC 52 works over SSH)."""

    BINDINGS = [
        Binding("c", "copy", "Copy", id="key.copy", tooltip="Copy the key (OSC 52)."),
        Binding("escape", "dismiss", "Done", id="key.done", tooltip="I have copied it."),
    ]

    def __init__(self, key: str, base_url: str) -> None:
        super().__init__()
        self._key = key
        self.base_url = base_url

    def compose(self) -> ComposeResult:
        with Vertical(id="key-dialog"):
            yield Label("[b]Partner key[/b] — shown once, it will not be shown again")
            yield Static(self._key, id="partner-key")
            yield Static(f"Vendor API base URL: {self.base_url}\n\n{PUSH_STEPS}")
            with Horizontal(classes="buttons"):
                yield Button("Copy to clipboard", id="copy", variant="primary")
                yield Button("I have copied it", id="done")

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self._key)
        self.notify("Copied with OSC 52: paste it into the vendor's console.")
        self.query_one("#done", Button).focus()  # enter copies first, then closes

    @on(Button.Pressed, "#copy")
    def copy_pressed(self) -> None:
        self.action_copy()

    @on(Button.Pressed, "#done")
    def done_pressed(self) -> None:
        self.dismiss(None)

    def on_unmount(self) -> None:
        self._key = ""  # the only copy in memory goes with the dialog


class ConfirmModal(ModalScreen[bool]):
    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes", tooltip="Go ahead."),
        Binding("n,escape", "answer(False)", "No", id="confirm.no", tooltip="Leave it."),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog"):
            yield Static(self.question)
            with Horizontal(classes="buttons"):
                yield Button("Yes (y)", id="yes", variant="error")
                yield Button("No (n)", id="no")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class StepBar(Static):
    def show(self, steps: list[str], current: str) -> None:
        parts = []
        for step in steps:
            title = STEP_TITLES[step]
            parts.append(f"[reverse b] {title} [/]" if step == current else f" {title} ")
        self.update(" -".join(parts))


class ConnectWizard(Screen[None]):
    BINDINGS = [
        Binding(
            "ctrl+n",
            "next",
            "Next",
            id="wizard.next",
            priority=True,
            tooltip="The next step (the step's checks must pass).",
        ),
        Binding(
            "ctrl+o",
            "back",
            "Back",
            id="wizard.back",
            priority=True,
            tooltip="The previous step; nothing is lost.",
        ),
        Binding(
            "escape,q",
            "cancel",
            "Cancel",
            id="wizard.cancel",
            tooltip="Back to Home; what was saved stays saved (it asks if something would"
            " be lost).",
        ),
    ]
    HELP = """\
## Connect wizard
Steps: Module, Credentials, Alerts (when chosen), Accounts, Services, Review.
**ctrl+n** next, **ctrl+o** back, **esc** cancel. Mappings are saved as you make them.
"""

    def __init__(
        self, vendor: str | None = None, integration: str | None = None, start: str | None = None
    ) -> None:
        super().__init__()
        self.integration: Integration | None = (
            Integration.get(Integration.name == integration) if integration else None
        )
        self.vendor = self.integration.vendor if self.integration else vendor
        self.kind = connect.VENDORS[self.vendor][1]
        self.step = start or ("accounts" if self.integration else "module")
        self.authenticated = self.integration is not None
        self.alert_board = None
        self._built: set[str] = set()  # the steps whose widgets are made (see `_build`)
        self._board_stamps: dict[str, tuple[int, ...]] = {}  # the store when a board was read
        self._finishing = False  # Finish pressed: the rest happens once

    # --- layout --------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield AppHeader()
        yield StepBar(id="step-bar")
        with ContentSwitcher(initial=self.step, id="steps"):
            # Only the step shown first is made now (and Module, whose boxes say which steps
            # there are); the others are made when first shown (`_build`).
            for step in dict.fromkeys(("module", self.step)):
                self._built.add(step)
                with self._holder(step):
                    yield from self._step(step)
        with Horizontal(id="wizard-nav"):
            yield Button("Back", id="back")
            yield Button("Next", id="next", variant="primary")
            yield Button("Cancel", id="cancel")
        yield Footer()

    def _step(self, step: str) -> ComposeResult:
        """What a step shows."""
        if step == "module":
            title = connect.VENDORS[self.vendor][0]
            yield Label(f"[b]Connect {title}[/b]: which modules?")
            yield Checkbox("Billing: usage counts to reconcile", True, id="mod-billing")
            yield Checkbox("Alerts: vendor alerts become PSA tickets", False, id="mod-alerts")
        elif step == "credentials":
            yield from self._credentials()
        elif step == "alerts":
            yield Label(self._alerts_intro(), id="alerts-intro")
            yield Button("Check Permissions", id="check-permissions")
            yield Static("", id="alerts-status")
            yield OptionList(id="boards")
        elif step in BOARD_STEPS:
            yield self._reading()
        else:
            yield Static("", id="review-summary")
            yield Static("", id="finish-reason")
            yield Button("Finish", id="finish", variant="success", disabled=True)

    @staticmethod
    def _holder(step: str) -> Widget:
        return Vertical(id=step) if step in BOARD_STEPS else VerticalScroll(id=step)

    def _build(self, step: str) -> None:
        """Make a step's widgets the first time it is shown. They are in the DOM (and can be
        queried) at once; they are drawn with the next frame."""
        if step not in self._built:
            self._built.add(step)
            holder = self._holder(step)
            self.query_one("#steps", ContentSwitcher).mount(holder)
            holder.mount_compose(self._step(step))

    def _credentials(self) -> ComposeResult:
        demo = getattr(self.app, "demo", None)
        if self.kind == "pull":
            yield Static(  # a Static wraps; a Label was cut at 80 columns (B8)
                "[b]SpamTitan API[/b]: the URL of your SpamTitan server and an API key"
                " (Settings > User Management > RestAPI Keys).",
                classes="hint",
            )
            yield field_row("URL", "url", "https://spamtitan.example.com",
                            value=demo.spamtitan_url if demo else "")  # fmt: skip
            yield field_row("API key", "api-key", "the key, shown once in SpamTitan",
                            masked=True, value=demo.spamtitan_key if demo else "")  # fmt: skip
            yield Button("Authenticate", id="authenticate", variant="primary")
            yield LoadingIndicator(id="auth-spinner", classes="-hidden")
            yield Static("", id="auth-status")
        else:
            yield Label("[b]Mailprotector pushes to msp-tui[/b] with a partner key made here.")
            yield Static(PUSH_STEPS, id="push-steps")
            yield Button("Check Connection", id="check-connection", variant="primary")
            yield Static("", id="connection-status")
            if demo:
                yield Label("Demo: play the vendor console")
                with Horizontal(classes="buttons"):
                    yield Button("Enable", id="demo-enable")
                    yield Button("Update Counts", id="demo-counts")
                    yield Button("Send Alerts", id="demo-alerts")

    def on_mount(self) -> None:
        self._psa_syncing = False
        self.watch(self.app, "sync_state", self._psa_sync_seen)
        if self.integration is None and connect.psa_connection() is None:
            # Asked over the first step, once that is on screen (the wizard shows at once).
            self.call_after_refresh(self.app.push_screen, ConfirmModal(NO_PSA), self._connect_psa)
        if self.integration is not None:
            modules = self.integration.modules.split(",")
            self.query_one("#mod-billing", Checkbox).value = "billing" in modules
            self.query_one("#mod-alerts", Checkbox).value = (
                "alerts" in modules or self.step == "alerts"
            )
        self.go(self.step)

    def _connect_psa(self, yes: bool | None) -> None:
        if yes:
            from screens.psa_form import PsaForm

            self.app.push_screen(PsaForm())

    def _psa_sync_seen(self, state) -> None:
        """A board read before the PSA's first sync ended had no companies or products: the
        board shown is read again, and an accounts board already left behind has its exact
        matches mapped now (the operator may have gone on before the PSA had companies)."""
        syncing = state.psa_syncing
        if self._psa_syncing and not syncing:
            if self.step in BOARD_STEPS:
                self.load_board(self.step)
            if self.step != "accounts" and "accounts" in self._built:
                self.map_exact_matches()
        self._psa_syncing = syncing

    @work(thread=True, group="exact-matches", description="exact-matches")
    def map_exact_matches(self) -> None:
        from msp_tui.mapping import load_account_board

        load_account_board(self.integration, current_operator())
        self.app.call_from_thread(self._exact_matches_mapped)

    def _exact_matches_mapped(self) -> None:
        if self.step == "review":  # they count towards Finish
            self.review()

    def on_descendant_focus(self, event) -> None:
        mark_focused(self, event.widget)

    def steps(self) -> list[str]:
        alerts = self.query_one("#mod-alerts", Checkbox).value
        steps = ["module", "credentials"] + (["alerts"] if alerts else [])
        return [*steps, "accounts", "services", "review"]

    def go(self, step: str) -> None:
        kept = None
        self._build(step)
        self.step = step
        self.query_one(StepBar).show(self.steps(), step)
        self.query_one("#steps", ContentSwitcher).current = step
        self.query_one("#back", Button).disabled = step == self.steps()[0]
        self.query_one("#next", Button).display = step != "review"
        if step == "credentials":
            self.enter_credentials()
        elif step == "alerts":  # the PSA may have been connected since the wizard opened
            self.query_one("#alerts-intro", Label).update(self._alerts_intro())
        elif step in BOARD_STEPS:
            kept = self._board_kept(step)
        elif step == "review":
            self.review()
        # The step left behind is hidden but would keep the focus: no key may reach it (enter
        # would press its button again). A board being read takes the focus when it is shown
        # (`_show_board`); another step once its widgets are composed (a field row makes its
        # box when mounted), before the frame that shows it is written.
        self.set_focus(None)
        if step in BOARD_STEPS and kept is not None:
            kept.action_focus_list("vendor")  # where suggestions are accepted
        elif step not in BOARD_STEPS:
            self.call_after_refresh(self._focus_step)

    def _board_kept(self, step: str):
        """The board of an earlier visit, kept (and taking keys at once) while nothing has been
        stored since it was read (`data_stamp`: a sync, a push, accounts read again); else
        it is read again, and shows loading until then (no key goes to a board about to go)."""
        holder = self.query_one(f"#{step}", Vertical)
        panels = holder.query("MappingPanel")
        if panels and self._board_stamps.get(step) == data_stamp():
            return panels.first()
        if panels:
            panels.first().display = False  # gone from the next frame: never a stale board
            holder.remove_children()
            holder.mount(self._reading())
        self.load_board(step)
        return None

    @staticmethod
    def _reading() -> Static:
        """Until the board is read: still text, not a spinner, whose 60 frames a second took
        the interpreter lock from the thread reading the board (0.1 s alone, 0.5 s beside it)."""
        return Static("Reading the board…", classes="hint")

    def _focus_step(self) -> None:
        for widget in self.query_one(f"#{self.step}").query("*"):
            if widget.focusable and widget.display:
                widget.focus()
                return

    def _focus_chain_of(self) -> list[Widget]:
        """The focused widget and its ancestors (empty when nothing has the focus)."""
        return list(self.focused.ancestors_with_self) if self.focused else []

    # --- navigation ----------------------------------------------------------------------------

    def action_next(self) -> None:
        problem = self.check_step()
        if problem:
            self.notify(problem, severity="warning")
            return
        steps = self.steps()
        if self.step in steps and self.step != steps[-1]:
            self.go(steps[steps.index(self.step) + 1])

    def action_back(self) -> None:
        steps = self.steps()
        if self.step in steps and self.step != steps[0]:
            self.go(steps[steps.index(self.step) - 1])

    def action_cancel(self) -> None:
        if not self._typed_unsaved():
            self.dismiss(None)
            return

        def answered(leave: bool | None) -> None:
            if leave:
                self.dismiss(None)

        self.app.push_screen(ConfirmModal("Leave without connecting? The URL and API key you"
                                          " typed are not saved."), answered)  # fmt: skip

    def _typed_unsaved(self) -> bool:
        """Mappings and a made partner key are saved as they happen; only credentials typed
        and not yet authenticated would be lost."""
        if self.kind != "pull" or self.integration is not None:
            return False
        return any(i.value.strip() for i in self.query("#url, #api-key").results(Input))

    def check_step(self) -> str | None:
        if self.step == "module" and not (
            self.query_one("#mod-billing", Checkbox).value
            or self.query_one("#mod-alerts", Checkbox).value
        ):
            return "choose Billing, Alerts or both"
        if self.step == "credentials" and self.integration is None:
            return "authenticate first: a working key is needed to read the accounts"
        if self.step == "alerts" and self.alert_board is None:
            return (f"choose the {psa_words().board} alert tickets go to (Check Permissions"
                    " lists them)")  # fmt: skip
        return None

    @on(Button.Pressed, "#next")
    def next_pressed(self) -> None:
        self.action_next()

    @on(Button.Pressed, "#back")
    def back_pressed(self) -> None:
        self.action_back()

    @on(Button.Pressed, "#cancel")
    def cancel_pressed(self) -> None:
        self.action_cancel()

    def modules(self) -> str:
        chosen = [m for m in ("billing", "alerts") if self.query_one(f"#mod-{m}", Checkbox).value]
        return ",".join(chosen) or "billing"

    # --- credentials ---------------------------------------------------------------------------

    def enter_credentials(self) -> None:
        if self.kind == "push" and self.integration is None:
            self.make_partner_key()

    @work(exclusive=True, group="partner-key", description="partner-key")
    async def make_partner_key(self) -> None:
        # The Vendor API first: the URL shown with the key must be where it really listens.
        base_url = await self.app.vendor_api_ready()
        if self.integration is not None:
            return
        name = connect.unique_name(self.vendor)
        self.integration, key = connect.create_push_integration(name, self.modules(), base_url)
        if getattr(self.app, "demo", None) is not None:
            self.app.demo.partner_keys[self.integration.name] = key
        self.app.push_screen(PartnerKeyModal(key, base_url))

    @on(Input.Submitted, "#api-key")
    @on(Input.Submitted, "#url")
    @on(Button.Pressed, "#authenticate")
    def authenticate_pressed(self) -> None:
        url = self.query_one("#url", Input).value.strip()
        key = self.query_one("#api-key", Input).value
        if not url or not key:
            # enter in a field goes on to the one still empty (the URL first)
            empty = self.query_one("#url" if not url else "#api-key", Input)
            empty.focus()
            self.query_one("#auth-status", Static).update(
                "Now the API key; enter authenticates." if url else "Enter the URL first."
            )
            return
        self.query_one("#auth-status", Static).update("Authenticating…")
        self.query_one("#authenticate", Button).disabled = True
        self.query_one("#auth-spinner").remove_class("-hidden")
        self.authenticate(url, Secret(key))

    @work(exclusive=True, group="authenticate", description="authenticate")
    async def authenticate(self, url: str, key: Secret) -> None:
        try:
            await self._authenticate(url, key)
        finally:
            self.query_one("#auth-spinner").add_class("-hidden")

    async def _authenticate(self, url: str, key: Secret) -> None:
        status = self.query_one("#auth-status", Static)
        try:
            groups = await connect.check_spamtitan(url, key)
        except (AdapterError, ValueError) as exc:
            status.update(f"[red]✗ {shown(exc)}[/red]")
            self.query_one("#authenticate", Button).disabled = False
            return
        status.update(f"✓ Authenticated: {groups} domain groups. Reading accounts…")
        if self.integration is None:
            try:
                self.integration = connect.save_pull_integration(
                    self.app.ctx.secrets,
                    connect.unique_name(self.vendor),
                    url,
                    key,
                    self.modules(),
                    checked=True,
                )
            except connect.ConnectError as exc:
                status.update(f"[red]✗ {shown(exc)}[/red]")
                return
        from msp_tui.sync import sync_pull

        outcome = await sync_pull(self.integration, self.app.ctx.secrets, mode="full")
        if outcome.ok:
            status.update(
                f"✓ Authenticated: {outcome.counts.get('accounts', 0)} accounts read."
                " Press ctrl+n for the next step."
            )
        else:
            status.update(f"[red]✗ reading accounts failed: {shown(outcome.error)}[/red]")
        self.authenticated = True
        self.app.look_for_new_data()

    @on(Button.Pressed, "#check-connection")
    def check_connection(self) -> None:
        status = self.query("#connection-status").results(Static)
        shown_in = next(status, None)
        if self.integration is None or shown_in is None:  # gone: the wizard is closing
            return
        found = connect.check_connection(self.integration)
        health = next(s.health for s in integration_summaries() if s.name == self.integration.name)
        shown_in.update(
            f"Status: [b]{shown(health.line())}[/b] · {found.accounts} accounts ·"
            f" {found.services} services received"
        )

    @on(Button.Pressed, "#demo-enable")
    @on(Button.Pressed, "#demo-counts")
    @on(Button.Pressed, "#demo-alerts")
    def demo_console(self, event: Button.Pressed) -> None:
        self.play_vendor((event.button.id or "").removeprefix("demo-"))

    @work(group="demo-vendor", description="demo-vendor")
    async def play_vendor(self, action: str) -> None:
        import httpx

        from adapters.sandbox.mailprotector import MailprotectorConsole

        demo = self.app.demo
        key = demo.partner_keys.get(self.integration.name) if self.integration else None
        if key is None:
            self.notify("The demo's vendor console has no partner key for this integration: make"
                        " one with k (rotate) on its card.", severity="warning")  # fmt: skip
            return
        try:
            async with MailprotectorConsole(self.app.vendor_api_url(), key,
                                            demo.mailprotector_customers) as console:  # fmt: skip
                if action == "enable":
                    await console.enable()
                    self.notify("Vendor console: Enable done (customers and products sent).")
                elif action == "alerts":
                    for n, customer in enumerate(demo.mailprotector_customers[:3]):
                        await console.send_alert(customer.id, f"Outbound spam from {customer.name}",
                                                 "A mailbox sent 4,000 messages in an hour.",
                                                 alert_id=f"demo-{n}", priority=n + 1)  # fmt: skip
                    self.notify("Vendor console: 3 alerts sent (a on Home shows them).")
                else:
                    sent = await console.update_counts()
                    self.notify(f"Vendor console: Update Counts sent {sent} counts.")
        except httpx.HTTPStatusError as exc:
            try:
                said = ": " + str(exc.response.json()["message"])
            except (ValueError, KeyError, TypeError):
                said = ""
            self.notify(f"Vendor console: the Vendor API answered {exc.response.status_code}"
                        f"{said}", severity="error")  # fmt: skip
        except (httpx.HTTPError, ValueError) as exc:
            self.notify(f"Vendor console: the Vendor API did not answer ({type(exc).__name__})",
                        severity="error")  # fmt: skip
        self.check_connection()

    # --- alerts --------------------------------------------------------------------------------

    @staticmethod
    def _alerts_intro() -> str:
        return f"[b]Alerts[/b]: choose the PSA {psa_words().board} for alert tickets."

    @on(Button.Pressed, "#check-permissions")
    def check_permissions(self) -> None:
        board = psa_words().board
        self.query_one("#alerts-status", Static).update(f"Asking the PSA for its {board}s…")
        self.load_boards()

    @work(exclusive=True, group="boards", description="boards")
    async def load_boards(self) -> None:
        status = self.query_one("#alerts-status", Static)
        try:
            boards = await connect.psa_boards(self.app.ctx.secrets)
        except connect.ConnectError as exc:
            status.update(f"[red]✗ {shown(exc)}[/red]")
            return
        except AdapterError as exc:
            status.update(f"[red]✗ {shown(exc)}[/red]")
            return
        self._boards = boards
        options = self.query_one("#boards", OptionList)
        options.clear_options()
        options.add_options([Option(shown(b.name), id=str(b.external_id)) for b in boards])
        status.update(f"{len(boards)} {psa_words().board}s: pick the one for alert tickets"
                      " (enter).")  # fmt: skip
        if boards:
            options.highlighted = 0
        options.focus()

    @on(OptionList.OptionSelected, "#boards")
    def board_chosen(self, event: OptionList.OptionSelected) -> None:
        board = next(b for b in self._boards if str(b.external_id) == event.option.id)
        if self.integration is not None:
            connect.set_alert_route(self.integration, board)
        self.alert_board = board
        self.query_one("#alerts-status", Static).update(
            f"✓ Alert tickets go to [b]{shown(board.name)}[/b]."
        )

    # --- mapping -------------------------------------------------------------------------------

    @work(exclusive=True, group="board", thread=True, description="board")
    def load_board(self, step: str) -> None:
        # Imported here, in the thread: the matcher brings numpy and rapidfuzz (~0.2 s).
        from msp_tui.mapping import load_service_board, read_account_board

        # The lists only: the panel shows them at once, then runs the matcher in a thread.
        loader = read_account_board if step == "accounts" else load_service_board
        stamp = data_stamp()
        board = loader(self.integration, current_operator())
        self.app.call_from_thread(self._show_board, step, board, stamp)

    async def _show_board(self, step: str, board, stamp: tuple[int, ...]) -> None:
        from screens.mapping_panel import MappingPanel

        self._board_stamps[step] = stamp
        holder = self.query_one(f"#{step}", Vertical)
        # The board of an earlier visit goes first: focus must land on the new one, never on a
        # widget that is being removed (which left the keyboard with nowhere to go).
        await holder.remove_children()
        panel = MappingPanel(board)
        await holder.mount(panel)
        if self.step == step:
            panel.action_focus_list("vendor")

    def on_mapping_panel_changed(self) -> None:
        # A board's matcher may land after the operator has moved on to Review (its exact
        # matches count towards Finish).
        if self.step == "review":
            self.review()

    # --- review --------------------------------------------------------------------------------

    def review(self) -> None:
        ready = connect.ready_to_finish(self.integration)
        summary = (
            f"[b]{shown(self.integration.name)}[/b] ({connect.VENDORS[self.vendor][0]},"
            f" modules: {self.integration.modules})\n"
            f"{ready.accounts} accounts mapped · {ready.services} service mappings"
        )
        if self.alert_board is not None:
            board = psa_words().board
            summary += f"\nAlert tickets go to the {board} {shown(self.alert_board.name)}"
        self.query_one("#review-summary", Static).update(summary)
        self.query_one("#finish-reason", Static).update(
            f"[yellow]{shown(ready.why_not)}[/yellow]"
            if ready.why_not
            else "Ready: Finish saves and syncs."
        )
        finish = self.query_one("#finish", Button)
        finish.disabled = not ready.ready
        review = self.query_one("#review")
        if ready.ready and self.step == "review" and review not in self._focus_chain_of():
            # Ready since Review opened (a board's matcher stored its exact matches after the
            # operator moved on): enter finishes, as when Review opens ready.
            finish.focus()

    @on(Button.Pressed, "#finish")
    def finish(self) -> None:
        if not self._finishing:
            self._finishing = True
            self.read_for_home()

    @work(exclusive=True, group="finish", thread=True, description="finish")
    def read_for_home(self) -> None:
        """Home as it is now, read before the syncs start and take the machine's cores: Home
        opens on the new integration's card, never a frame of "No integrations yet"."""
        from screens.home import read_home

        self.app.call_from_thread(self._finished, read_home())

    def _finished(self, home) -> None:
        if self.kind == "pull":
            self.app.start_sync([self.integration.name])
        self.app.start_sync(["psa"])
        self.dismiss(home)
