"""The PSA form: connect ConnectWise Manage, Autotask or HaloPSA from the app, each with its own
fields (screens/psa_fields.py). Check makes the real calls and names the field that is wrong; Save
checks, keeps the keys in the secret store and syncs the PSA's companies and products. A store
has one PSA: saving the other kind replaces the one there, after asking."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Input, Label, RadioButton, RadioSet, Static

from adapters.errors import Secret
from msp_tui.psa_setup import PSA_KINDS, PsaSetupError, drop_other_psas
from msp_tui.sources import psa_secret_scope, psa_words
from msp_tui.store.models import PsaConnection
from screens.fields import field_row, mark_focused
from screens.footer import Footer
from screens.indicator import AppHeader
from screens.psa_fields import (
    ALL_FIELDS,
    ASKED,
    ERROR_INPUTS,
    FIELDS,
    accepted,
    check,
    save,
    saved_values,
)
from screens.shown import shown

STORED = "stored: leave empty to keep"


class KindChoice(RadioSet):
    """The PSA kinds. A RadioSet starts its keyboard highlight at its first button; this one
    starts it at the kind chosen, so enter there keeps it."""

    def on_mount(self) -> None:
        # Called before RadioSet's own mount handler, which highlights the first button.
        self.call_after_refresh(self._highlight_pressed)

    def _highlight_pressed(self) -> None:
        if self.pressed_index >= 0:
            self._selected = self.pressed_index


class PsaForm(Screen[bool]):
    """Dismissed with True once a connection is saved."""

    BINDINGS = [
        Binding("ctrl+r", "check", "Check", id="psa.check", priority=True,
                tooltip="Call the PSA with these settings; nothing is saved."),
        Binding("ctrl+s", "save", "Save", id="psa.save", priority=True,
                tooltip="Check, save (keys to the secret store) and sync the PSA."),
        Binding("escape", "cancel", "Cancel", id="psa.cancel",
                tooltip="Back; asks first if typed settings would be lost."),
    ]  # fmt: skip
    HELP = """\
## PSA connection
Choose the PSA at the top (**left**/**right**, **enter**), then **tab** through its fields.
**ctrl+r** checks with real calls, **ctrl+s** checks, saves and syncs the PSA, **esc** goes
back. Keys and secrets go to the secret store, never to the database. ConnectWise Manage: the
API codebase is asked of your site. Autotask: the zone is looked up for the API user when
Zone URL is empty. HaloPSA: Tenant only for instances Halo hosts; Auth URL only when your
authorisation server is elsewhere. msp-tui works with one PSA: saving another kind replaces it
(it asks).
"""

    def __init__(self) -> None:
        super().__init__()
        self.connection = PsaConnection.select().order_by(PsaConnection.id).first()
        self.kind = self.connection.kind if self.connection else "connectwise"
        if self.kind not in FIELDS:
            self.kind = "connectwise"

    def compose(self) -> ComposeResult:
        self._read_saved()
        yield AppHeader()
        with VerticalScroll(id="psa-form"):
            yield Label("[b]Connect the PSA[/b]: the one msp-tui reads billing from and writes to")
            with KindChoice(id="psa-kind"):
                for kind in PSA_KINDS:
                    title = kind.title if kind.available else f"{kind.title} (soon)"
                    yield RadioButton(title, value=kind.key == self.kind, name=kind.key,
                                      disabled=not kind.available)  # fmt: skip
            yield Static(self._blurb(), id="psa-blurb", classes="hint")
            # Only the chosen kind's fields now; another kind's when it is first chosen (and
            # kept, with what was typed): every widget here costs the form's first frame.
            for kind in FIELDS:
                with Vertical(id=f"fields-{kind}", classes="psa-fields") as box:
                    box.display = kind == self.kind
                    if kind == self.kind:
                        yield from self._rows(kind)
            yield Static("", id="psa-status")
            with Horizontal(classes="buttons"):
                yield Button("Check (ctrl+r)", id="check", action="screen.check")
                yield Button("Save (ctrl+s)", id="save", variant="primary", action="screen.save")
                yield Button("Cancel (esc)", id="cancel", action="screen.cancel")
        yield Footer()

    def _read_saved(self) -> None:
        """What the saved connection holds, given to its inputs as they are made (an input's
        value set once it is mounted is validated and restyled again, on the form's first
        frame): its settings by input id, and the secrets kept for it."""
        self._saved: dict[str, str] = {}
        self._stored: dict[str, Secret] = {}  # input id -> the secret kept for it
        connection = self.connection
        if connection is not None and connection.kind in FIELDS:
            self._saved = saved_values(connection)
            scope = psa_secret_scope(connection)
            for f in FIELDS[connection.kind]:
                kept = self.app.ctx.secrets.get(scope, f.stored_as) if f.secret else None
                if kept:
                    self._stored[f.input_id] = Secret(kept)
        # What _typed() reads now: the saved settings, "" for every other field
        self._typed_at_start = tuple(self._saved.get(f.input_id, "").strip() for f in ALL_FIELDS)

    def on_mount(self) -> None:
        self.query_one(f"#{FIELDS[self.kind][0].input_id}", Input).focus()

    def on_descendant_focus(self, event) -> None:
        mark_focused(self, event.widget)

    def _rows(self, kind: str) -> list:
        return [field_row(f.label, f.input_id,
                          STORED if f.input_id in self._stored else f.placeholder,
                          masked=f.masked, value=self._saved.get(f.input_id, ""))
                for f in FIELDS[kind]]  # fmt: skip

    def value(self, input_id: str) -> str:
        """The field's text, stripped ("" for a kind whose fields were never shown)."""
        field = next(self.query(f"#{input_id}").results(Input), None)
        return field.value.strip() if field is not None else ""

    def _typed(self) -> tuple[str, ...]:
        return tuple(self.value(f.input_id) for f in ALL_FIELDS)

    # --- the kind ------------------------------------------------------------------------------

    def _blurb(self) -> str:
        return next(k.blurb for k in PSA_KINDS if k.key == self.kind)

    @on(RadioSet.Changed, "#psa-kind")
    def kind_chosen(self, event: RadioSet.Changed) -> None:
        self.kind = event.pressed.name or "connectwise"
        self._say("")
        self._show_kind()

    def _show_kind(self) -> None:
        for kind in FIELDS:
            box = self.query_one(f"#fields-{kind}")
            box.display = kind == self.kind
            if kind == self.kind and not box.children:
                box.mount_all(self._rows(kind))
        self.query_one("#psa-blurb", Static).update(self._blurb())

    def _replaced(self) -> PsaConnection | None:
        """The connection saving this kind would replace: the store's, of the other kind."""
        if self.connection is not None and self.connection.kind != self.kind:
            return self.connection
        return None

    # --- check and save ------------------------------------------------------------------------

    def _say(self, text: str) -> None:
        self.query_one("#psa-status", Static).update(text)

    def _secrets(self) -> dict[str, Secret] | None:
        """The typed or kept secret of each secret field; None (the form says what to fill in)
        when a field is empty."""
        fields = FIELDS[self.kind]
        stored = self._stored  # the saved connection's, by input id: none of the other kind's
        empty = [f for f in fields if not f.optional and not self.value(f.input_id)]
        # The settings first, then the keys (as the form always said it)
        missing = [f for f in empty if not f.secret]
        missing += [f for f in empty if f.secret and f.input_id not in stored]
        if missing:
            self._say(f"[yellow]Fill in: {', '.join(f.label for f in missing)}[/yellow]")
            self.query_one(f"#{missing[0].input_id}", Input).focus()
            return None
        return {f.input_id: Secret(self.value(f.input_id)) if self.value(f.input_id)
                else stored[f.input_id] for f in fields if f.secret}  # fmt: skip

    async def _check(self, secrets: dict[str, Secret]):
        values = {f.input_id: self.value(f.input_id) for f in FIELDS[self.kind]}
        return await check(self.kind, values, secrets, **self.app.adapter_options)

    def action_check(self) -> None:
        self.check_and_maybe_save(keep=False)

    def action_save(self) -> None:
        self.check_and_maybe_save(keep=True)

    @work(exclusive=True, group="psa-check", description="psa-check")
    async def check_and_maybe_save(self, keep: bool) -> None:
        secrets = self._secrets()
        if secrets is None:
            return
        self._say(f"Asking {ASKED[self.kind]}…")
        try:
            credentials = await self._check(secrets)
        except PsaSetupError as exc:
            self._say(f"[red]✗ {shown(exc)}[/red]")
            first = FIELDS[self.kind][0].input_id
            self.query_one(f"#{ERROR_INPUTS[self.kind].get(exc.field, first)}", Input).focus()
            return
        if not keep:
            self._say(accepted(self.kind, credentials))
            return
        replaced = self._replaced()
        if replaced is not None and not await self._replace_asked(replaced):
            self._say(f"Not saved: {psa_words(replaced.kind).psa} stays connected.")
            return
        self._save(credentials, replaced)

    async def _replace_asked(self, replaced: PsaConnection) -> bool:
        from screens.wizard import ConfirmModal

        words = psa_words(replaced.kind)
        old, new = words.psa, psa_words(self.kind).psa
        question = (f"msp-tui works with one PSA. Save {new} in place of {old}?\n{old}'s"
                    f" companies, products and {words.agreement}s, the mappings and decisions"
                    " made on them and its alert routes are deleted here; nothing changes in"
                    f" {old} itself.")  # fmt: skip
        return bool(await self.app.push_screen_wait(ConfirmModal(question)))

    def _save(self, credentials, replaced: PsaConnection | None) -> None:
        secrets = self.app.ctx.secrets
        name = {} if replaced is not None or self.connection is None else {
            "name": self.connection.name}  # fmt: skip
        saved = save(self.kind, secrets, credentials, **name)
        drop_other_psas(secrets, saved)  # one PSA per store, once the new one is in
        instead = f" in place of {psa_words(replaced.kind).psa}" if replaced else ""
        self.app.notify(f"{ASKED[self.kind]} connected{instead}: reading its companies and"
                        " products…")  # fmt: skip
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
        secret = ", ".join(f"#{f.input_id}" for f in ALL_FIELDS if f.secret)
        for field in self.query(secret).results(Input):
            field.value = ""  # typed keys and secrets leave memory with the form
