from __future__ import annotations

from pathlib import Path

import httpx
from pilot_tools import wait_until
from textual.command import CommandList, CommandPalette

from adapters.sandbox.mailprotector import VENDOR_KEY, gradient_token
from msp_tui.app import MspTuiApp, NewDataLanded
from msp_tui.context import Context
from msp_tui.overview import integration_summaries
from msp_tui.push.keys import new_partner_key
from msp_tui.store.models import (
    AccountMapping,
    Integration,
    PsaCompany,
    PsaConnection,
    UsageCount,
    VendorAccount,
    VendorService,
)
from screens.help import HelpScreen
from screens.home import Card, EmptyState, integration_card
from serve_process import start_serve, stop_serve


async def test_home_shows_the_empty_state_at_80x24_and_q_quits(ctx: Context) -> None:
    app = MspTuiApp(ctx)
    async with app.run_test(size=(80, 24)) as pilot:
        empty = app.screen.query_one(EmptyState)
        assert empty.display
        assert "No integrations yet." in str(empty.content)
        assert empty.region.width <= 80 and empty.region.height > 0
        kinds = [c.card.kind for c in app.screen.query(Card)]
        assert kinds == ["psa", "catalog", "catalog"]
        # A first run starts with the PSA: its card holds the focus.
        assert isinstance(app.focused, Card) and app.focused.card.key == "psa"
        await pilot.press("q")
        await wait_until(pilot, lambda: not app.is_running)
    assert app.return_code == 0


async def test_home_lists_integrations_with_counts(ctx: Context) -> None:
    spamtitan = Integration.create(
        name="spamtitan", vendor="spamtitan", kind="pull", status="active"
    )
    for n in range(3):
        VendorAccount.create(integration=spamtitan, external_id=str(n), name=f"Customer {n}")
    app = MspTuiApp(ctx)
    async with app.run_test(size=(80, 24)) as pilot:
        cards = {c.card.key: c for c in app.screen.query(Card)}
        assert not app.screen.query_one(EmptyState).display
        card = cards["spamtitan"]
        assert card.card.title == "SpamTitan · spamtitan"
        # Never synced: it says so and what to do, not "Active".
        assert card.card.lines[0] == "Waiting for the first sync · last sync never"
        assert card.card.lines[1] == "Next: press s to sync"
        assert card.card.lines[2] == "3 accounts · 0 services · 3 unmapped"

        assert app.focused.card.key == "psa"  # no PSA yet: the first thing to do
        await pilot.press("down")
        assert app.focused is card
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = app.screen.text
        # the screen's own keys first, then the focused card's help, then the generic keys
        assert text.index("## Keys here") < text.index("## Cards") < text.index("## Everywhere")
        assert text.index("Sync the PSA") < text.index("Leave msp-tui")
        assert app.screen.query_one("#help-body").region.width == 80  # the whole width
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, HelpScreen))
        await pilot.press("f1", "f1")  # F1 toggles it too
        await wait_until(pilot, lambda: not isinstance(app.screen, HelpScreen))
        await pilot.press("slash", *"mail")
        assert [c.card.key for c in app.screen.query(Card)] == ["connect:mailprotector"]


def test_the_card_says_how_many_licences_sit_on_unmapped_accounts(ctx: Context) -> None:
    spamtitan = Integration.create(name="spamtitan", vendor="spamtitan", kind="pull")
    service = VendorService.create(integration=spamtitan, external_id="t", name="Total Licenses")
    company = PsaCompany.create(connection=PsaConnection.create(
        name="cw", site="cw.example.com", company_identifier="msp", client_id="x"),
        external_id=1, identifier="ACME", name="Acme")  # fmt: skip
    for n, counts in enumerate([(5, 40), (700,), (12,), (3,)]):
        account = VendorAccount.create(integration=spamtitan, external_id=str(n),
                                       name=f"Customer {n}", excluded=n == 3)  # fmt: skip
        for quantity in counts:  # the latest count is the one that counts
            UsageCount.create(account=account, service=service, quantity=quantity)
    AccountMapping.create(vendor_account=VendorAccount.get(external_id="2"), psa_company=company,
                          method="manual", operator="tester")  # fmt: skip
    [summary] = integration_summaries()
    assert summary.unmapped_licences == 740  # 40 + 700: not the mapped one, not the excluded
    assert integration_card(summary).lines[-1] == (
        "4 accounts · 1 services · 2 unmapped, 740 licences"
    )


def test_every_binding_we_declare_has_an_id() -> None:
    """Ids make keys remappable and let the footer and help explain themselves."""
    import importlib
    import pkgutil

    from textual.binding import Binding
    from textual.dom import DOMNode

    import screens

    for info in pkgutil.walk_packages(screens.__path__, "screens."):
        importlib.import_module(info.name)
    classes = [MspTuiApp]
    pending = list(DOMNode.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.startswith(("screens.", "msp_tui.")):
            classes.append(cls)
    declared = [(cls.__name__, b) for cls in classes for b in cls.__dict__.get("BINDINGS", [])]
    assert declared
    missing = [(name, b) for name, b in declared if not (isinstance(b, Binding) and b.id)]
    assert missing == []


async def push_accounts(base_url: str, key: str) -> None:
    headers = {"GRADIENT-TOKEN": gradient_token(VENDOR_KEY, key)}
    async with httpx.AsyncClient(base_url=base_url + "/api/vendor-api", headers=headers) as c:
        r = await c.post("/organization/accounts", json=[{"id": "7", "name": "Acme Dental"}])
        assert r.status_code == 201


async def test_the_tui_serves_the_vendor_api_and_notices_pushes(ctx: Context) -> None:
    key = new_partner_key(Integration.create(name="mp", vendor="mailprotector", kind="push"))
    app = MspTuiApp(ctx, serve_port=0)
    messages: list = []
    async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
        await wait_until(pilot, lambda: app.vendor_api is not None)
        assert app.vendor_api.owned and app.vendor_api.port
        await push_accounts(app.vendor_api.base_url, key)
        await wait_until(pilot, lambda: any(isinstance(m, NewDataLanded) for m in messages))
        assert app.new_data
    assert not app.vendor_api._thread.is_alive()  # stopped with the app


async def test_the_tui_leaves_pushes_to_a_running_serve(ctx: Context, db_path: Path) -> None:
    key = new_partner_key(Integration.create(name="mp", vendor="mailprotector", kind="push"))
    served = start_serve(db_path)
    try:
        port = int(served.url.rsplit(":", 1)[1])
        app = MspTuiApp(ctx, serve_port=port)
        messages: list = []
        async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
            await wait_until(pilot, lambda: app.vendor_api is not None)
            assert not app.vendor_api.owned
            await push_accounts(served.url, key)  # stored by the other process
            await wait_until(pilot, lambda: any(isinstance(m, NewDataLanded) for m in messages))
    finally:
        stop_serve(served)


async def test_home_keeps_a_card_focused(ctx: Context) -> None:
    """B5: Down past the last card went nowhere visible; Enter in the search did not open the
    only match; after a screen closed no card had focus."""
    app = MspTuiApp(ctx)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.focused, Card))
        cards = [c.card.key for c in app.screen.query(Card)]
        for _ in range(len(cards)):
            await pilot.press("down")
            assert isinstance(app.focused, Card)
        assert app.focused.card.key == "psa"  # round the ring, back to where it began
        await pilot.press("up")
        assert isinstance(app.focused, Card)
        await pilot.press("slash", *"spam", "enter")  # the only match opens
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ConfirmModal")
        await pilot.press("escape")  # not now to connecting the PSA first
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ConnectWizard")
        await pilot.press("escape")  # and back Home, a card has the focus again
        await wait_until(pilot, lambda: type(app.screen).__name__ == "HomeScreen")
        await wait_until(pilot, lambda: isinstance(app.focused, Card))


async def test_esc_in_the_home_search_goes_back_to_the_cards(ctx: Context) -> None:
    app = MspTuiApp(ctx)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.focused, Card))
        await pilot.press("slash", *"mail")
        assert [c.card.key for c in app.screen.query(Card)] == ["connect:mailprotector"]
        await pilot.press("escape")  # cleared, hidden, and the keys go to the cards again
        await wait_until(pilot, lambda: isinstance(app.focused, Card))
        assert len(app.screen.query(Card)) == 3
        await pilot.press("down")
        assert isinstance(app.focused, Card)


async def test_a_terminal_under_80x24_is_told_so(ctx: Context) -> None:
    app = MspTuiApp(ctx)
    notes: list[str] = []
    async with app.run_test(size=(70, 20)) as pilot:
        app.notify = lambda message, **kw: notes.append(message)
        await pilot.resize_terminal(60, 20)
        await pilot.resize_terminal(100, 30)
        await pilot.resize_terminal(79, 24)
        await wait_until(pilot, lambda: len(notes) == 1)
        assert "The terminal is 79x24: msp-tui is laid out for 80x24" in notes[0]


async def test_the_command_palette_offers_the_apps_commands(ctx: Context) -> None:
    Integration.create(name="spamtitan", vendor="spamtitan", kind="pull", status="active")
    app = MspTuiApp(ctx)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.focused, Card))

        async def offered(query: str) -> list[str]:
            await pilot.press("ctrl+p")
            await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette))
            await pilot.press(*query)
            options = app.screen.query_one(CommandList)
            await wait_until(pilot, lambda: options.option_count > 0)
            return [str(options.get_option_at_index(i).prompt).split("\n")[0]
                    for i in range(options.option_count)]  # fmt: skip

        assert "Connect SpamTitan" in await offered("spam")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, CommandPalette))
        found = await offered("syn")
        assert {"Sync all", "Sync spamtitan"} <= set(found)
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, CommandPalette))
        assert (await offered("rec"))[0].startswith("Reconcile: ")
        await pilot.press("enter")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ReconcileScreen")
