"""The connect wizard, walked with the keyboard against the simulators, for both vendors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pilot_tools import wait_until
from stored import stored_text

from msp_tui.app import MspTuiApp
from msp_tui.context import Context
from msp_tui.demo import Demo, open_demo, start_demo
from msp_tui.overview import integration_summaries
from msp_tui.store.models import (
    AccountMapping,
    Alert,
    AlertRoute,
    Integration,
    ServiceMapping,
    UsageCount,
    VendorAccount,
)
from screens.home import Card, EmptyState
from screens.indicator import SyncIndicator
from screens.mapping_panel import MappingPanel
from screens.wizard import ConfirmModal, ConnectWizard, PartnerKeyModal


@pytest.fixture
def demo(demo_db: str | None) -> Iterator[tuple[Demo, Context]]:
    demo, ctx = start_demo(seed=7, companies=120, db=demo_db)
    yield demo, ctx
    ctx.close()
    demo.stop()


async def open_card(pilot, app: MspTuiApp, key: str, no_psa: bool = False) -> ConnectWizard:
    while not (isinstance(app.focused, Card) and app.focused.card.key == key):
        await pilot.press("down")
    await pilot.press("enter")
    if no_psa:  # the wizard first offers to connect the PSA: not now
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("n")
    # mounted, on its first step, with something focused there
    await wait_until(pilot, lambda: isinstance(app.screen, ConnectWizard) and app.screen.focused)
    return app.screen


async def board_shown(pilot, wizard: ConnectWizard, step: str, before=None) -> MappingPanel:
    """Wait until the step's board, read in a thread, is on screen and holds the focus, and
    the matcher (a thread too) has filled in its exact matches and suggestions. A board shown
    on an earlier visit (`before`) stays until the new one replaces it."""

    def shown() -> bool:
        panels = wizard.query(f"#{step} MappingPanel")
        return (
            wizard.step == step
            and bool(panels)
            and panels.first() is not before
            and panels.first().has_focus_within
            and not panels.first(MappingPanel).matching
        )

    await wait_until(pilot, shown)
    return wizard.query_one(f"#{step} MappingPanel", MappingPanel)


def board_of(wizard: ConnectWizard, step: str) -> MappingPanel | None:
    panels = wizard.query(f"#{step} MappingPanel")
    return panels.first() if panels else None


async def map_and_finish(pilot, app: MspTuiApp, wizard: ConnectWizard) -> None:
    await pilot.press("ctrl+n")  # -> accounts (the board of a visit before, if nothing changed)
    await board_shown(pilot, wizard, "accounts")
    exact = AccountMapping.select().count()
    await pilot.press("f", "f")  # the vendor list (focused), filtered to suggestions
    await pilot.press("a")  # accept the highlighted suggestion
    assert AccountMapping.select().count() == exact + 1
    assert AccountMapping.select().where(AccountMapping.method == "suggested").count() == 1
    await pilot.press("ctrl+n")  # -> services
    await board_shown(pilot, wizard, "services")
    await pilot.press("a")
    assert ServiceMapping.select().count() >= 1
    await pilot.press("ctrl+n")  # -> review
    assert wizard.step == "review"
    finish = wizard.query_one("#finish")
    assert not finish.disabled
    # Review's Finish takes the focus by itself: enter finishes (keys never go nowhere).
    await wait_until(pilot, lambda: finish.has_focus)
    await pilot.press("enter")
    await wait_until(pilot, lambda: not isinstance(app.screen, ConnectWizard))


async def test_spamtitan_end_to_end(demo) -> None:
    demo_env, ctx = demo
    app = MspTuiApp(ctx, serve_port=0, demo=demo_env)
    async with app.run_test(size=(80, 24)) as pilot:
        wizard = await open_card(pilot, app, "connect:spamtitan")
        await pilot.press("ctrl+n")  # module -> credentials
        await pilot.press("ctrl+n")  # refused: not authenticated yet
        assert wizard.step == "credentials"
        await pilot.press("enter")  # the URL and key are filled in by the demo
        await wait_until(pilot, lambda: wizard.authenticated)
        integration = Integration.get(Integration.vendor == "spamtitan")
        assert VendorAccount.select().where(VendorAccount.integration == integration).count() > 50
        # Back and forth loses nothing.
        await pilot.press("ctrl+n")
        await board_shown(pilot, wizard, "accounts")
        mapped = AccountMapping.select().count()
        assert mapped > 30  # exact matches, mapped on open
        await pilot.press("ctrl+o")
        assert wizard.step == "credentials"
        assert AccountMapping.select().count() == mapped
        states: list[str] = []
        app.watch(app, "sync_state", lambda state: states.append(state.name), init=False)
        await map_and_finish(pilot, app, wizard)
        # Home comes back on the integration just connected (read before the syncs started).
        await wait_until(pilot, lambda: isinstance(app.focused, Card)
                         and app.focused.card.key == integration.name)  # fmt: skip
        assert not app.screen.query_one(EmptyState).display  # not "No integrations yet"
        await wait_until(pilot, lambda: "syncing" in states and not app.sync_state.syncing)
        assert UsageCount.select().join(VendorAccount).where(
            VendorAccount.integration == integration).count() > 0  # fmt: skip
        # Home shows what the sync brought when it ends: nothing is left "new" to press r for.
        await wait_until(pilot, lambda: app.sync_state.name == "idle")

        def card_says() -> str:
            cards = [c for c in app.screen.query(Card) if c.card.key == integration.name]
            return cards[0].card.lines[0] if cards else ""

        await wait_until(pilot, lambda: card_says().startswith("Active · last sync 2"))

        # A failing sync shows an error whose reason is read on focus.
        demo_env.servers[0].faults.unauthorized = 100
        await pilot.press("s")
        await wait_until(pilot, lambda: app.sync_state.name == "error")
        indicator = app.screen.query_one(SyncIndicator)
        indicator.focus()
        await wait_until(pilot, lambda: "401" in str(indicator.content))
        assert "401" in str(indicator.content)


async def test_mailprotector_end_to_end(demo) -> None:
    demo_env, ctx = demo
    app = MspTuiApp(ctx, serve_port=0, demo=demo_env)
    app.ALERT_POLL_S = 0.2  # the alert worker looks often, for the test
    async with app.run_test(size=(80, 24)) as pilot:
        wizard = await open_card(pilot, app, "connect:mailprotector")
        await pilot.press("tab", "space")  # tick Alerts too
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: isinstance(app.screen, PartnerKeyModal))
        key_shown = str(app.screen.query_one("#partner-key").content)
        assert key_shown.startswith("msptui_")
        # B3: the URL shown with the key is where the Vendor API really listens
        shown_with_key = " ".join(str(w.content) for w in app.screen.query("Static"))
        assert app.vendor_api is not None and app.vendor_api.port != 0
        assert f"Vendor API base URL: http://127.0.0.1:{app.vendor_api.port}" in shown_with_key
        await pilot.press("c", "escape")  # copy (OSC 52), then done
        assert app.clipboard == key_shown
        await wait_until(pilot, lambda: app.vendor_api is not None)
        wizard.query_one("#demo-enable").press()
        integration = Integration.get(Integration.vendor == "mailprotector")
        await wait_until(pilot, lambda: integration.services.count() == 8)  # Enable is done
        wizard.query_one("#demo-counts").press()
        await wait_until(pilot, lambda: Integration.get_by_id(integration.id).status == "active")
        wizard.query_one("#demo-alerts").press()  # queued now, tickets once routed and mapped
        await wait_until(pilot, lambda: Alert.select().count() == 3)
        wizard.query_one("#check-connection").press()
        status = wizard.query_one("#connection-status")
        # Counts arrived; what is left is said in the words Home and the CLI use.
        await wait_until(pilot, lambda: "Setup unfinished: map one account" in str(status.content))
        await pilot.press("ctrl+n")  # -> alerts
        assert wizard.step == "alerts"
        wizard.query_one("#check-permissions").press()
        await wait_until(pilot, lambda: wizard.query_one("#boards").option_count > 0)
        wizard.query_one("#boards").focus()
        await pilot.press("enter")
        assert AlertRoute.get(AlertRoute.integration == integration).board_name
        await map_and_finish(pilot, app, wizard)
        assert AccountMapping.select().join(VendorAccount).where(
            VendorAccount.integration == integration).count() > 10  # fmt: skip
        # The vendor's alerts became tickets for the mapped accounts, on the chosen board.
        route = AlertRoute.get(AlertRoute.integration == integration)

        def delivered() -> bool:
            mapped = {m.vendor_account_id for m in AccountMapping.select()}
            return all(a.state == "created" for a in Alert.select()
                       if a.vendor_account_id in mapped)  # fmt: skip

        await wait_until(pilot, delivered)
        # B2: choosing the alert board kept the status the vendor's pushes gave it
        assert Integration.get_by_id(integration.id).status == "active"
        [summary] = [s for s in integration_summaries() if s.name == integration.name]
        assert summary.health.key == "active", summary.health
        made = [a for a in Alert.select() if a.state == "created"]
        assert made and all(demo_env.world.tickets[a.ticket_id].board_id == route.board_id
                            for a in made)  # fmt: skip
        # the partner key was shown once and is stored nowhere in clear
        assert key_shown not in stored_text(demo_env.store)


async def test_a_connected_integration_rotates_its_key_and_disconnects(demo) -> None:
    demo_env, ctx = demo
    from msp_tui.connect import create_push_integration
    from msp_tui.store.models import PartnerKey

    integration, first_key = create_push_integration("mailprotector", "billing", "http://x")
    VendorAccount.create(integration=integration, external_id="1", name="Acme Dental")
    app = MspTuiApp(ctx, serve_port=0, demo=demo_env)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.focused, Card))
        assert app.focused.card.key == "mailprotector"
        assert app.focused.card.lines[-1] == "1 accounts · 0 services · 1 unmapped"
        await pilot.press("enter")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "IntegrationScreen")
        await pilot.press("k", "y")  # rotate, confirmed
        await wait_until(pilot, lambda: isinstance(app.screen, PartnerKeyModal))
        new_key = str(app.screen.query_one("#partner-key").content)
        assert new_key != first_key
        live = PartnerKey.select().where(PartnerKey.revoked_at.is_null())
        assert live.count() == 1
        await pilot.press("escape")
        await pilot.press("d", "y")  # disconnect, confirmed
        await wait_until(pilot, lambda: type(app.screen).__name__ == "HomeScreen")
        assert Integration.select().count() == 0
        assert VendorAccount.select().count() == 0


async def test_back_from_review_keeps_the_keyboard(demo) -> None:
    """B1: Review -> Back drew the services step with focus on a board being removed; no key
    worked any more, ctrl+q included."""
    demo_env, ctx = demo
    app = MspTuiApp(ctx, serve_port=0, demo=demo_env)
    async with app.run_test(size=(80, 24)) as pilot:
        wizard = await open_card(pilot, app, "connect:spamtitan")
        await pilot.press("ctrl+n", "enter")  # credentials, authenticate (filled in by the demo)
        await wait_until(pilot, lambda: wizard.authenticated)
        await pilot.press("ctrl+n")
        await board_shown(pilot, wizard, "accounts")
        await pilot.press("ctrl+n")
        services = await board_shown(pilot, wizard, "services")
        await pilot.press("ctrl+n")
        assert wizard.step == "review"
        await pilot.press("ctrl+o")  # back to services: nothing stored since, the board stays
        await wait_until(pilot, lambda: services.has_focus_within)
        assert board_of(wizard, "services") is services
        await pilot.press("ctrl+o")  # the keys still work
        assert wizard.step == "accounts"
        await pilot.press("ctrl+q")
        await wait_until(pilot, lambda: not app.is_running)


async def test_boards_read_before_the_psa_synced_fill_in_when_it_ends(demo_db) -> None:
    """The demo's PSA syncs as the app starts; an operator quick enough reads both boards
    before it ends (no companies, no products). When it ends, the board shown is read again,
    the accounts board left behind still gets its exact matches mapped, and Review's Finish,
    ready only then, takes the focus (enter on it went to the hidden board before)."""
    demo_env, ctx = open_demo(seed=7, companies=120, db=demo_db)
    try:
        demo_env.wait_until_serving()
        demo_env.synced = True  # the test starts the PSA's sync itself, at the services step
        app = MspTuiApp(ctx, serve_port=0, demo=demo_env)
        async with app.run_test(size=(80, 24)) as pilot:
            wizard = await open_card(pilot, app, "connect:spamtitan")
            await pilot.press("ctrl+n", "enter")  # credentials, authenticate (demo's values)
            await wait_until(pilot, lambda: wizard.authenticated)
            await pilot.press("ctrl+n")
            await wait_until(pilot, lambda: board_of(wizard, "accounts") is not None)
            await pilot.press("ctrl+n")
            empty = await board_shown(pilot, wizard, "services")
            assert not empty.board.psa
            app.start_sync(["psa"])
            services = await board_shown(pilot, wizard, "services", empty)
            assert services.board.psa  # read again when the sync ended
            await wait_until(pilot, lambda: AccountMapping.select().count() > 30)
            assert AccountMapping.select().where(AccountMapping.method != "exact").count() == 0
            await pilot.press("a", "ctrl+n")
            assert wizard.step == "review"
            finish = wizard.query_one("#finish")
            await wait_until(pilot, lambda: finish.has_focus)
            await pilot.press("enter")
            await wait_until(pilot, lambda: not isinstance(app.screen, ConnectWizard))
    finally:
        ctx.close()
        demo_env.stop()


async def test_the_demo_console_of_a_reopened_wizard_says_what_to_do(demo) -> None:
    """B4: the demo's console buttons in a wizard reopened through the card had no key and
    showed httpx's raw 401 text."""
    demo_env, ctx = demo
    from msp_tui.connect import create_push_integration

    integration, _ = create_push_integration("mailprotector", "billing,alerts", "http://x")
    app = MspTuiApp(ctx, serve_port=0, demo=demo_env)
    notes: list[str] = []
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        original = app.notify
        app.notify = lambda message, **kw: (notes.append(message), original(message, **kw))[1]
        await wait_until(pilot, lambda: isinstance(app.focused, Card))
        while app.focused.card.key != "mailprotector":
            await pilot.press("down")
        await pilot.press("enter")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "IntegrationScreen")
        await pilot.press("l")  # the wizard, reopened at its Alerts step
        await wait_until(pilot, lambda: isinstance(app.screen, ConnectWizard))
        await pilot.press("ctrl+o")  # back to the vendor console buttons
        app.screen.query_one("#demo-alerts").press()
        await wait_until(pilot, lambda: any("no partner key" in n for n in notes))
        assert not any("developer.mozilla.org" in n or "Client error" in n for n in notes)
        await pilot.press("escape")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "IntegrationScreen")
        await pilot.press("k", "y")  # rotate: the demo's console gets the new key
        await wait_until(pilot, lambda: isinstance(app.screen, PartnerKeyModal))
        await pilot.press("escape", "l")
        await wait_until(pilot, lambda: isinstance(app.screen, ConnectWizard))
        await pilot.press("ctrl+o")
        app.screen.query_one("#demo-enable").press()
        await wait_until(pilot, lambda: integration.services.count() == 8)
        app.screen.query_one("#demo-alerts").press()
        await wait_until(pilot, lambda: Alert.select().count() == 3)
        # the console's worker is done (it reports, then shows the connection) before leaving
        await wait_until(pilot, lambda: any("3 alerts sent" in n for n in notes))
        await wait_until(pilot, lambda: "Setup unfinished" in str(app.screen.query_one(
            "#connection-status").content))  # fmt: skip


async def test_leaving_asks_only_when_typed_credentials_would_be_lost(ctx) -> None:
    app = MspTuiApp(ctx, serve_port=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_card(pilot, app, "connect:spamtitan", no_psa=True)
        await pilot.press("q")  # nothing typed: q leaves the wizard, not the app
        await wait_until(pilot, lambda: not isinstance(app.screen, ConnectWizard))
        assert app.is_running
        wizard = await open_card(pilot, app, "connect:spamtitan", no_psa=True)
        await pilot.press("ctrl+n", *"https://st.example.com")
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("n")  # stay
        await wait_until(pilot, lambda: app.screen is wizard)
        assert wizard.query_one("#url").value == "https://st.example.com"
        await pilot.press("escape", "y")  # leave after all
        await wait_until(pilot, lambda: not isinstance(app.screen, (ConnectWizard, ConfirmModal)))
