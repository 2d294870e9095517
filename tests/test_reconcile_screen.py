"""The reconciliation screen, driven by keys, writing to the ConnectWise simulator."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from pilot_tools import go_to, wait_until
from recon_world import FAST, demo_external, line_for, sim_quantity
from textual import events
from textual.widgets import Input, OptionList

from adapters.sandbox.world import NEW_REVENUE, RECONCILE
from msp_tui.app import MspTuiApp
from msp_tui.reconcile import FILTERS, Group, ReconciliationLine
from msp_tui.store.models import AuditEvent, Decision, PsaAgreement
from screens.reconcile import (
    AdjustModal,
    AgreementModal,
    FilterPicker,
    ReconcileList,
    ReconcileScreen,
)
from screens.wizard import ConfirmModal

SIZE = (80, 24)


def start_app(demo, ctx) -> MspTuiApp:
    app = MspTuiApp(ctx, serve_port=0, demo=demo)
    app.adapter_options = FAST
    return app


async def open_reconcile(pilot, app: MspTuiApp) -> ReconcileScreen:
    await wait_until(pilot, lambda: app.screen.query("Card"))
    await pilot.press("c")
    await wait_until(pilot, lambda: isinstance(app.screen, ReconcileScreen) and app.screen.loaded)
    return app.screen


def table(screen: ReconcileScreen) -> ReconcileList:
    return screen.query_one(ReconcileList)


def shown_lines(screen: ReconcileScreen) -> list[ReconciliationLine]:
    return [row for row in table(screen).rows if isinstance(row, ReconciliationLine)]


async def outbox_round(pilot, app: MspTuiApp, after: int) -> None:
    await wait_until(pilot, lambda: app.outbox_rounds > after)


async def test_approve_writes_the_vendor_quantity_to_the_psa(mapped) -> None:
    demo, ctx = mapped
    line = line_for(demo, RECONCILE)
    assert sim_quantity(demo, line) != float(line.vendor_quantity)
    app = start_app(demo, ctx)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_reconcile(pilot, app)
        await go_to(pilot, screen, line.key)
        detail = str(screen.query_one("#reconcile-detail").content)
        assert "30-day maximum, weekends included" in detail
        assert f"Vendor {line.vendor_quantity:,.0f}" in detail
        rounds = app.outbox_rounds
        await pilot.press("a")
        await outbox_round(pilot, app, rounds)
        # The simulator's addition now holds the vendor's quantity ...
        assert sim_quantity(demo, line) == float(line.vendor_quantity)
        decision = Decision.get(Decision.psa_company == line.company_id)
        assert decision.state == "pushed" and decision.action == "approve"
        assert decision.psa_quantity_seen == line.psa_quantity
        actions = [e.action for e in AuditEvent.select().order_by(AuditEvent.id)]
        assert "decision.approve" in actions and "push.pushed" in actions
        # ... and the handled line has left the list for this period.
        assert line.key not in {row.key for row in shown_lines(screen)}
        await pick_filter(pilot, app, screen, "Handled")
        [handled] = [row for row in shown_lines(screen) if row.key == line.key]
        assert handled.status == "no_change"


async def test_new_revenue_asks_for_the_agreement_and_adds_a_line(mapped) -> None:
    demo, ctx = mapped
    line = line_for(demo, NEW_REVENUE)
    agreements = list(PsaAgreement.select().where(PsaAgreement.company == line.company_id))
    live = [a for a in agreements if not a.cancelled]
    assert live, "the seeded world gives new-revenue companies a live agreement"
    app = start_app(demo, ctx)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_reconcile(pilot, app)
        await go_to(pilot, screen, line.key)
        rounds = app.outbox_rounds
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, AgreementModal))
        await pilot.press("enter")  # the first live agreement
        await outbox_round(pilot, app, rounds)
        chosen = sorted(live, key=lambda a: a.name)[0]
        added = demo.world.agreement_additions(chosen.external_id)
        assert [a.quantity for a in added if a.quantity == float(line.vendor_quantity)]
        assert Decision.get(Decision.psa_company == line.company_id).state == "pushed"


async def test_adjust_takes_a_quantity_and_an_effective_date(mapped) -> None:
    demo, ctx = mapped
    line = line_for(demo, RECONCILE)
    app = start_app(demo, ctx)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_reconcile(pilot, app)
        await go_to(pilot, screen, line.key)
        rounds = app.outbox_rounds
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, AdjustModal))
        await pilot.press("end", *["backspace"] * 10, "x", "enter")
        assert "must be a number" in str(app.screen.query_one("#adjust-error").content)
        await pilot.press("backspace", "4", "2", "enter")
        await outbox_round(pilot, app, rounds)
    decision = Decision.get(Decision.psa_company == line.company_id)
    assert decision.action == "adjust" and decision.target_quantity == Decimal(42)
    assert decision.effective_date is not None and decision.state == "pushed"
    assert sim_quantity(demo, line) == 42.0


async def test_bulk_dismiss_confirms_the_revenue_change_and_a_new_count_brings_lines_back(
    mapped,
) -> None:
    demo, ctx = mapped
    app = start_app(demo, ctx)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_reconcile(pilot, app)
        await pick_filter(pilot, app, screen, "Reconcile")
        first, second = shown_lines(screen)[:2]
        await go_to(pilot, screen, first.key)
        await pilot.press("space")
        await go_to(pilot, screen, second.key)
        await pilot.press("space")
        assert screen.selected == {first.key, second.key}
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        total = first.impact + second.impact
        assert f"{total:+,.2f}" in app.screen.question
        await pilot.press("y")
        await wait_until(pilot, lambda: isinstance(app.screen, ReconcileScreen))
        assert {first.key, second.key}.isdisjoint(row.key for row in shown_lines(screen))
        states = [d.state for d in Decision.select()]
        assert states == ["dismissed", "dismissed"]
        # The vendor counts more for the first company: the next sync brings its line back.
        group = next(g for g, c in demo.world.truth.items()
                     if c == first.company_external_id)  # fmt: skip
        usage = demo.world.domain_groups[group].usage
        usage[demo.world.today - timedelta(days=1)] = int(first.vendor_quantity) + 5
        app.start_sync(["spamtitan"])
        await wait_until(pilot, lambda: not app.sync_state.syncing)
        await pilot.press("r")
        keys = {row.key for row in shown_lines(screen)}
        assert first.key in keys and second.key not in keys


async def test_a_conflict_is_shown_with_both_numbers(mapped) -> None:
    demo, ctx = mapped
    line = line_for(demo, RECONCILE)
    app = start_app(demo, ctx)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_reconcile(pilot, app)
        await go_to(pilot, screen, line.key)
        # Someone edits the agreement in ConnectWise after the line was shown.

        demo.world.additions[demo_external(line)].quantity = 999.0
        rounds = app.outbox_rounds
        await pilot.press("a")
        await outbox_round(pilot, app, rounds)
        assert sim_quantity(demo, line) == 999.0  # never overwritten
        await go_to(pilot, screen, line.key)
        row = table(screen).highlighted_item
        assert row.decision.state == "conflict"
        detail = str(screen.query_one("#reconcile-detail").content)
        assert "now says 999" in detail and "nothing was overwritten" in detail
        assert not isinstance(row, Group)


async def pick_filter(pilot, app, screen: ReconcileScreen, title: str) -> None:
    """f, then the filter by its title in the picker's list, then enter."""
    await pilot.press("f")
    await wait_until(pilot, lambda: isinstance(app.screen, FilterPicker))
    options = app.screen.query_one(OptionList)
    for _ in range(options.option_count):
        if str(options.get_option_at_index(options.highlighted).prompt) == title:
            break
        await pilot.press("down")
    await pilot.press("enter")
    await wait_until(pilot, lambda: app.screen is screen and FILTERS[screen.which] == title)


async def test_the_first_heading_is_in_view_when_the_screen_opens(mapped) -> None:
    """B6: the cursor lands on the first line and its heading stays on screen."""
    demo, ctx = mapped
    app = start_app(demo, ctx)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_reconcile(pilot, app)
        table = screen.query_one(ReconcileList)
        await wait_until(pilot, lambda: table.size.height > 0 and table.cursor == 1)
        assert isinstance(table.rows[0], Group)
        await wait_until(pilot, lambda: table.scroll_offset.y == 0)
        assert "▸" in app.export_screenshot()


async def test_keys_typed_fast_after_slash_go_to_the_search_not_the_list(mapped) -> None:
    """Typed ahead, as over a slow SSH link, "/bay" arrives at once: every key after / is the
    search's, and none reaches the list, where a is Approve (a write to the PSA)."""
    demo, ctx = mapped
    app = start_app(demo, ctx)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_reconcile(pilot, app)
        await go_to(pilot, screen, line_for(demo, RECONCILE).key)  # on a line: a would approve
        for key, character in (("slash", "/"), ("b", "b"), ("a", "a"), ("y", "y")):
            # As the terminal driver hands keys over: all queued before the first is handled.
            app._driver.process_message(events.Key(key, character))
        search = screen.query_one("#reconcile-search", Input)
        await wait_until(pilot, lambda: search.value == "bay")
        assert search.has_focus
        assert not Decision.select().exists()
