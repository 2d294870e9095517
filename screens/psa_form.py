"""The PSA form: connect ConnectWise Manage from the app (the PSAs that come next get their own
fields here). Check makes the real calls and names the field that is wrong; Save checks, keeps
the keys in the secret store and syncs the PSA's companies and products."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, RadioButton, RadioSet, Static

from adapters.errors import Secret
from msp_tui.psa_setup import (
    PSA_KINDS,
    ConnectWiseSettings,
    PsaSetupError,
    check_connectwise,
    save_connectwise,
    stored_keys,
)
from msp_tui.store.models import PsaConnection
from screens.fields import field_row, mark_focused
from screens.indicator import AppHeader
from screens.shown import shown

# (input id, label, placeholder, masked); the field names match PsaSetupError.field
CONNECTWISE_FIELDS = (
    ("site", "Site", "na.myconnectwise.net (your ConnectWise address)", False),
    ("company", "Company ID", "the company you log in with", False),
    ("public-key", "Public key", "API member's public key", True),
    ("private-key", "Private key", "API member's private key", True),
    ("client-id", "Client ID", "from developer.connectwise.com", False),
)
FIELD_INPUTS = {"Site": "site", "Company ID": "company", "Public and private key": "public-key",
                "Client ID": "client-id"}  # fmt: skip


class PsaForm(Screen[bool]):
    """Dismissed with True once a connection is saved."""

    BINDINGS = [
        Binding("ctrl+r", "check", "Check", id="psa.check", priority=True,
                tooltip="Call ConnectWise with these settings; nothing is saved."),
        Binding("ctrl+s", "save", "Save", id="psa.save", priority=True,
                tooltip="Check, save (keys to the secret store) and sync the PSA."),
        Binding("escape", "cancel", "Cancel", id="psa.cancel",
                tooltip="Back; asks first if typed settings would be lost."),
    ]  # fmt: skip
    HELP = """\
## PSA connection
**tab** moves between fields, **ctrl+r** checks with real calls, **ctrl+s** checks, saves and
syncs the PSA, **esc** goes back. The keys go to the secret store, never to the database; the
API codebase is asked of your site, so there is nothing to look up.
"""

    def __init__(self) -> None:
        super().__init__()
        self.connection = PsaConnection.select().order_by(PsaConnection.id).first()

    def compose(self) -> ComposeResult:
        yield AppHeader()
        with VerticalScroll(id="psa-form"):
            yield Label("[b]Connect the PSA[/b]: the one msp-tui reads billing from and writes to")
            with RadioSet(id="psa-kind"):
                for kind in PSA_KINDS:
                    title = kind.title if kind.available else f"{kind.title} (soon)"
                    yield RadioButton(title, value=kind.key == "connectwise",
                                      disabled=not kind.available)  # fmt: skip
            yield Static(PSA_KINDS[0].blurb, id="psa-blurb", classes="hint")
            for input_id, label, placeholder, masked in CONNECTWISE_FIELDS:
                yield field_row(label, input_id, placeholder, masked=masked)
            yield Static("", id="psa-status")
            with Horizontal(classes="buttons"):
                yield Button("Check (ctrl+r)", id="check", action="screen.check")
                yield Button("Save (ctrl+s)", id="save", variant="primary", action="screen.save")
                yield Button("Cancel (esc)", id="cancel", action="screen.cancel")
        yield Footer()

    def on_mount(self) -> None:
        self._stored = None
        if self.connection is not None:
            self.value("site", self.connection.site)
            self.value("company", self.connection.company_identifier)
            self.value("client-id", self.connection.client_id)
            self._stored = stored_keys(self.app.ctx.secrets, self.connection)
            if self._stored is not None:
                for key in ("public-key", "private-key"):
                    self.query_one(f"#{key}", Input).placeholder = "stored: leave empty to keep"
        self._typed_at_start = self._typed()
        self.query_one("#site", Input).focus()

    def on_descendant_focus(self, event) -> None:
        mark_focused(self, event.widget)

    def value(self, input_id: str, value: str | None = None) -> str:
        field = self.query_one(f"#{input_id}", Input)
        if value is not None:
            field.value = value
        return field.value.strip()

    def _typed(self) -> tuple[str, ...]:
        return tuple(self.value(input_id) for input_id, *_ in CONNECTWISE_FIELDS)

    # --- check and save ------------------------------------------------------------------------

    def _say(self, text: str) -> None:
        self.query_one("#psa-status", Static).update(text)

    def _form(self) -> tuple[ConnectWiseSettings, Secret, Secret] | None:
        settings = ConnectWiseSettings(self.value("site"), self.value("company"),
                                       self.value("client-id"))  # fmt: skip
        missing = settings.missing()
        typed = [self.value("public-key"), self.value("private-key")]
        if not all(typed) and self._stored is None:
            missing += [label for (_, label, *_), key in zip(CONNECTWISE_FIELDS[2:4], typed,
                                                              strict=True) if not key]  # fmt: skip
        if missing:
            self._say(f"[yellow]Fill in: {', '.join(missing)}[/yellow]")
            first = next(i for i, label, *_ in CONNECTWISE_FIELDS if label == missing[0])
            self.query_one(f"#{first}", Input).focus()
            return None
        stored = self._stored or (None, None)
        public = Secret(typed[0]) if typed[0] else stored[0]
        private = Secret(typed[1]) if typed[1] else stored[1]
        return settings, public, private

    def action_check(self) -> None:
        self.check_and_maybe_save(save=False)

    def action_save(self) -> None:
        self.check_and_maybe_save(save=True)

    @work(exclusive=True, group="psa-check")
    async def check_and_maybe_save(self, save: bool) -> None:
        form = self._form()
        if form is None:
            return
        self._say("Asking ConnectWise…")
        try:
            credentials = await check_connectwise(*form, **self.app.adapter_options)
        except PsaSetupError as exc:
            self._say(f"[red]✗ {shown(exc)}[/red]")
            self.query_one(f"#{FIELD_INPUTS.get(exc.field, 'site')}", Input).focus()
            return
        if not save:
            self._say(f"[green]✓ ConnectWise accepted these settings[/green] (API"
                      f" {shown(credentials.codebase)}). ctrl+s saves them.")  # fmt: skip
            return
        save_connectwise(self.app.ctx.secrets, credentials, checked=True)
        self.app.notify("ConnectWise connected: reading its companies and products…")
        self.app.start_sync(["psa"])
        self.dismiss(True)

    def action_cancel(self) -> None:
        if self._typed() == self._typed_at_start:
            self.dismiss(False)
            return
        from screens.wizard import ConfirmModal

        def answered(leave: bool | None) -> None:
            if leave:
                self.dismiss(False)

        self.app.push_screen(ConfirmModal("Leave without saving? What you typed is not kept."),
                             answered)  # fmt: skip

    def on_unmount(self) -> None:
        for field in self.query("#public-key, #private-key").results(Input):
            field.value = ""  # typed keys leave memory with the form
