"""Every screen and dialog at 80x24, as SVGs kept in tests/__snapshots__: a change of layout or
wording shows in review as a changed picture. After a deliberate change, look at the new
pictures and accept them with `pytest tests/test_snapshots.py --snapshot-update`.

Each picture is taken once the screen is ready (a condition is waited on, never a pause), from
a store with fixed names and times (tests/office.py), with no toast on screen."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from functools import partial

import pytest
from office import AT, office
from pilot_tools import wait_until
from textual.command import CommandList, CommandPalette
from textual.widgets import Input, Static

from msp_tui.app import MspTuiApp
from msp_tui.context import Context
from msp_tui.reconcile import ReconciliationLine
from msp_tui.store.models import Alert, Integration, VendorAccount
from screens.alerts import AlertsScreen
from screens.help import HelpScreen
from screens.home import Card, HomeScreen
from screens.integration import IntegrationScreen
from screens.mapping_panel import MappingPanel
from screens.psa_form import PsaForm
from screens.reconcile import (
    AdjustModal,
    AgreementModal,
    FilterPicker,
    ReconcileList,
    ReconcileScreen,
)
from screens.wizard import ConfirmModal, ConnectWizard, PartnerKeyModal

# The pictures are the screens' code, the same on either engine; they run in the SQLite pass
# (on PostgreSQL the header would name the database URL instead of store.db).
pytestmark = pytest.mark.sqlite_only

Ready = Callable[[MspTuiApp], bool]


@dataclass(frozen=True)
class Until:
    """In a key sequence: wait until this holds before the next key."""

    holds: Ready


def take(snap_compare, ctx: Context, keys: list[str | Callable] = (), ready: Ready | None = None):
    """The picture after pressing `keys` from Home (a callable in `keys` is called with the
    app instead), once `ready` holds."""
    app = MspTuiApp(ctx, serve_port=0)

    async def run_before(pilot) -> None:
        await wait_until(pilot, lambda: isinstance(app.screen, HomeScreen)
                         and isinstance(app.focused, Card))  # fmt: skip
        for key in keys:
            if isinstance(key, Until):
                await wait_until(pilot, partial(key.holds, app))
            elif callable(key):
                outcome = key(app)
                if isinstance(outcome, Awaitable):
                    await outcome
            else:
                await pilot.press(key)
        if ready is not None:
            await wait_until(pilot, lambda: ready(app))
        # Screens read the store in threads and fill in: the picture waits for what they read.
        await wait_until(pilot, lambda: all(getattr(s, "settled", True) for s in app.screen_stack))
        # Focus lands after a refresh: wait for it where the screen has anything to focus.
        await wait_until(pilot, lambda: app.screen.focused is not None
                         or not app.screen.focus_chain)  # fmt: skip
        app.clear_notifications()
        await wait_until(pilot, lambda: not app.sync_state.syncing and not app._notifications)
        # A text cursor blinks every 0.5 s: on a busy machine the picture could catch it off.
        for screen in app.screen_stack:
            for field in screen.query(Input):
                field.cursor_blink = False  # and shown, where the field has the focus

    return snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def to_card(key: str) -> Callable:
    async def focus(app: MspTuiApp) -> None:
        card = next(c for c in app.screen.query(Card) if c.card.key == key)
        card.focus()

    return focus


def screen_is(kind: type, also: Ready | None = None) -> Ready:
    return lambda app: isinstance(app.screen, kind) and (also is None or also(app))


# --- a first run: nothing connected ------------------------------------------------------------


def test_home_on_a_first_run(snap_compare, ctx: Context) -> None:
    assert take(snap_compare, ctx)


def marked(label_id: str) -> Ready:
    """The form's ▸ marks the field with the focus: the form is mounted and focused."""
    return lambda app: "▸" in str(app.screen.query_one(f"#label-{label_id}").render())


def test_the_psa_form(snap_compare, ctx: Context) -> None:
    assert take(snap_compare, ctx, ["enter"], screen_is(PsaForm, marked("site")))


def test_a_vendor_wizard_asks_to_connect_the_psa_first(snap_compare, ctx: Context) -> None:
    assert take(snap_compare, ctx, [to_card("connect:spamtitan"), "enter"],
                screen_is(ConfirmModal))  # fmt: skip


# --- an office at work: the PSA and SpamTitan connected -----------------------------------------


@pytest.fixture
def at_work(ctx: Context) -> Context:
    office()
    Alert.create(integration=Integration.get(), account_external_id="1", alert_id="a1",
                 vendor_account=VendorAccount.get(VendorAccount.external_id == "1"),
                 message_id="m1", title="Quarantine full", priority=2, state="created",
                 ticket_id=4711, ticket_company="Acme Dental", ticket_board="Alerts",
                 created_at=AT, updated_at=AT)  # fmt: skip
    return ctx


def test_home_at_work(snap_compare, at_work: Context) -> None:
    assert take(snap_compare, at_work)


def test_the_help_screen(snap_compare, at_work: Context) -> None:
    assert take(snap_compare, at_work, ["question_mark"], screen_is(HelpScreen))


def test_the_command_palette(snap_compare, at_work: Context) -> None:
    def listed(app) -> bool:
        screen = app.screen
        return isinstance(screen, CommandPalette) and screen.query_one(CommandList).option_count

    assert take(snap_compare, at_work, ["ctrl+p", *"rec"], listed)


def test_the_integration_screen(snap_compare, at_work: Context) -> None:
    assert take(snap_compare, at_work, [to_card("spamtitan"), "enter"],
                screen_is(IntegrationScreen))  # fmt: skip


def test_the_disconnect_question(snap_compare, at_work: Context) -> None:
    assert take(snap_compare, at_work, [to_card("spamtitan"), "enter", "d"],
                screen_is(ConfirmModal))  # fmt: skip


def test_the_wizard_first_step(snap_compare, at_work: Context) -> None:
    assert take(snap_compare, at_work, [to_card("connect:spamtitan"), "enter"],
                screen_is(ConnectWizard))  # fmt: skip


def test_the_wizard_credentials(snap_compare, at_work: Context) -> None:
    assert take(snap_compare, at_work, [to_card("connect:spamtitan"), "enter", "ctrl+n"],
                screen_is(ConnectWizard, lambda app: app.screen.step == "credentials"
                          and marked("url")(app)))  # fmt: skip


def board_ready(step: str) -> Ready:
    def ready(app) -> bool:
        panels = app.screen.query(f"#{step} MappingPanel")
        if not panels:
            return False
        panel = panels.first(MappingPanel)  # the vendor list in use, its row in the detail
        vendor = panel.list_for("vendor")
        item = vendor.highlighted_item
        detail = str(panel.query_one("#mapping-detail", Static).content)
        # The detail follows the focus a message later: on a busy machine the picture was
        # taken between the two, with the detail of the other list or none.
        return (vendor.has_focus and panel._detail_side == "vendor" and item is not None
                and detail.startswith(item.label))  # fmt: skip

    return screen_is(ConnectWizard, ready)


def test_the_account_mapping_board(snap_compare, at_work: Context) -> None:
    assert take(snap_compare, at_work, [to_card("spamtitan"), "enter", "m"],
                board_ready("accounts"))  # fmt: skip


def test_the_service_mapping_board(snap_compare, at_work: Context) -> None:
    assert take(snap_compare, at_work, [to_card("spamtitan"), "enter", "v"],
                board_ready("services"))  # fmt: skip


def test_the_review_step(snap_compare, at_work: Context) -> None:
    def review(app) -> bool:
        return screen_is(ConnectWizard)(app) and app.screen.step == "review"

    async def to_review(app) -> None:
        app.screen.go("review")

    assert take(snap_compare, at_work, [to_card("spamtitan"), "enter", "v", to_review], review)


def test_the_partner_key_dialog(snap_compare, at_work: Context) -> None:
    async def show(app) -> None:
        app.push_screen(PartnerKeyModal("msptui_EXAMPLE-KEY-shown-once", "https://msp.example.com"))

    assert take(snap_compare, at_work, [show], screen_is(PartnerKeyModal))


def lines_shown(app) -> bool:
    """The lines are read and the detail pane describes the highlighted one."""
    if not (isinstance(app.screen, ReconcileScreen) and app.screen.lines):
        return False
    return "revenue change" in str(app.screen.query_one("#reconcile-detail").render())


def test_reconciliation(snap_compare, at_work: Context, monkeypatch) -> None:
    monkeypatch.setattr("screens.reconcile.current_period", lambda: "2026-11")
    assert take(snap_compare, at_work, ["c"], lines_shown)


def test_the_reconciliation_filter(snap_compare, at_work: Context, monkeypatch) -> None:
    monkeypatch.setattr("screens.reconcile.current_period", lambda: "2026-11")
    assert take(snap_compare, at_work, ["c", "f"], screen_is(FilterPicker))


def test_the_alerts_screen(snap_compare, at_work: Context) -> None:
    assert take(snap_compare, at_work, ["a"], screen_is(AlertsScreen))


class FixedDate(date):
    """The adjust dialog's effective date defaults to today: the picture must not."""

    @classmethod
    def today(cls) -> date:
        return date(2026, 11, 30)


def to_line(company: str) -> Callable:
    def highlight(app: MspTuiApp) -> None:
        table = app.screen.query_one(ReconcileList)
        lines = [isinstance(row, ReconciliationLine) and row.company_name for row in table.rows]
        table.move_cursor(lines.index(company))

    return highlight


def test_the_adjust_dialog(snap_compare, at_work: Context, monkeypatch) -> None:
    monkeypatch.setattr("screens.reconcile.current_period", lambda: "2026-11")
    monkeypatch.setattr("screens.reconcile.date", FixedDate)
    assert take(snap_compare, at_work, ["c", Until(lines_shown), to_line("Acme Dental"), "e"],
                screen_is(AdjustModal))  # fmt: skip


def test_the_new_revenue_agreement_choice(snap_compare, at_work: Context, monkeypatch) -> None:
    monkeypatch.setattr("screens.reconcile.current_period", lambda: "2026-11")
    assert take(snap_compare, at_work, ["c", Until(lines_shown), to_line("Cobalt Freight"), "a"],
                screen_is(AgreementModal))  # fmt: skip
