"""The PSA form, typed into with the keyboard against the ConnectWise, Autotask and HaloPSA
simulators over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pilot_tools import wait_until
from stored import stored_text
from textual import events
from textual.widgets import Input, RadioSet

from adapters.connectwise import ConnectWiseCredentials
from adapters.errors import Secret
from adapters.sandbox import Faults, LoopbackServer, World, build_world
from adapters.sandbox.autotask import autotask_app
from adapters.sandbox.connectwise import CODEBASE, connectwise_app
from adapters.sandbox.halopsa import halopsa_app
from msp_tui.app import MspTuiApp
from msp_tui.cli import main
from msp_tui.context import Context
from msp_tui.psa_setup import save_connectwise
from msp_tui.store.models import PsaCompany, PsaConnection
from screens.home import Card, HomeScreen
from screens.psa_form import STORED, PsaForm
from screens.wizard import NO_PSA, ConfirmModal, ConnectWizard


@pytest.fixture
def cw() -> Iterator[tuple[LoopbackServer, World]]:
    world = build_world(seed=3, companies=40)
    with LoopbackServer(connectwise_app(world, Faults())) as server:
        yield server, world


@pytest.fixture
def at() -> Iterator[tuple[LoopbackServer, World]]:
    world = build_world(seed=3, companies=40)
    with LoopbackServer(autotask_app(world)) as server:
        yield server, world


@pytest.fixture
def halo() -> Iterator[tuple[LoopbackServer, World]]:
    world = build_world(seed=3, companies=40)
    with LoopbackServer(halopsa_app(world)) as server:
        yield server, world


def psa_card_text(app: MspTuiApp) -> str:
    """What the PSA card says; empty while Home's cards are being remounted."""
    cards = [c for c in app.screen.query(Card) if c.card.key == "psa"]
    return str(cards[0].render()) if cards else ""


def status(form: PsaForm) -> str:
    return str(form.query_one("#psa-status").render())


async def type_into(pilot, form: PsaForm, field: str, text: str) -> None:
    form.query_one(f"#{field}").focus()
    await pilot.press("ctrl+u", *text)  # ctrl+u: clear what the field held
    assert form.query_one(f"#{field}").value == text


async def checked(pilot, form: PsaForm, key: str = "ctrl+r") -> str:
    form.query_one("#psa-status").update("")
    await pilot.press(key)
    await wait_until(pilot, lambda: status(form) != "" and not status(form).startswith("Asking"))
    return status(form)


async def open_form(pilot, app: MspTuiApp) -> PsaForm:
    await pilot.press("ctrl+p", *"psa")
    await pilot.press("enter")
    await wait_until(pilot, lambda: isinstance(app.screen, PsaForm))
    return app.screen


async def choose_autotask(pilot, form: PsaForm) -> None:
    """From the first field, back to the PSA kinds; right moves to Autotask, enter picks it."""
    await pilot.press("shift+tab")
    assert isinstance(form.focused, RadioSet)
    await pilot.press("right", "enter")
    await wait_until(pilot, lambda: form.query_one("#fields-autotask").display)
    assert not form.query_one("#fields-connectwise").display


async def type_autotask(pilot, form: PsaForm, server: LoopbackServer, world: World,
                        secret: str) -> None:  # fmt: skip
    await type_into(pilot, form, "username", world.at_username)
    await type_into(pilot, form, "secret", secret)
    await type_into(pilot, form, "integration-code", world.at_integration_code)
    await type_into(pilot, form, "zone", f"{server.base_url}/atservicesrest/")


async def test_the_psa_card_opens_a_form_that_checks_saves_and_syncs(ctx: Context, cw) -> None:
    server, world = cw
    app = MspTuiApp(ctx, serve_port=0)
    async with app.run_test(size=(80, 24)) as pilot:
        # A first run: the PSA card holds the focus, enter opens the form.
        await wait_until(pilot, lambda: isinstance(app.focused, Card))
        assert app.focused.card.key == "psa"
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, PsaForm))
        form = app.screen
        assert app.focused is form.query_one("#site")

        says = await checked(pilot, form)
        assert "Fill in: Site, Company ID, Client ID, Public key, Private key" in says

        await type_into(pilot, form, "site", server.base_url)
        await type_into(pilot, form, "company", "nobody")
        await type_into(pilot, form, "public-key", world.cw_public_key)
        await type_into(pilot, form, "private-key", "NotTheKey")
        await type_into(pilot, form, "client-id", world.cw_client_id)
        says = await checked(pilot, form)
        assert says.startswith("✗ Company ID:") and "'nobody'" in says, says
        assert app.focused is form.query_one("#company")

        await type_into(pilot, form, "company", world.cw_company_id)
        says = await checked(pilot, form)
        assert says.startswith("✗ Public and private key:") and "401" in says, says
        assert "NotTheKey" not in says

        await type_into(pilot, form, "private-key", world.cw_private_key)
        says = await checked(pilot, form)
        assert says.startswith("✓ ConnectWise accepted") and CODEBASE in says, says
        assert PsaConnection.select().count() == 0  # Check saves nothing

        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, HomeScreen))
        connection = PsaConnection.get()
        assert (connection.site, connection.codebase, connection.status) == (
            server.base_url, CODEBASE, "active")  # fmt: skip
        assert ctx.secrets.get("psa/connectwise", "private_key") == world.cw_private_key
        # The PSA syncs at once; its card then counts what was read.
        await wait_until(pilot, lambda: not app.sync_state.syncing and PsaCompany.select().count())
        await wait_until(pilot, lambda: "companies" in psa_card_text(app))

        # Reopened, the form shows the settings and keeps the stored keys when left empty.
        await pilot.press("ctrl+p", *"psa")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, PsaForm))
        form = app.screen
        assert form.query_one("#company").value == world.cw_company_id
        assert form.query_one("#private-key").value == ""
        says = await checked(pilot, form)
        assert says.startswith("✓ ConnectWise accepted"), says
        await pilot.press("escape")  # nothing changed: no question
        await wait_until(pilot, lambda: isinstance(app.screen, HomeScreen))


async def test_leaving_the_form_asks_only_when_typing_would_be_lost(ctx: Context) -> None:
    app = MspTuiApp(ctx, serve_port=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.focused, Card))
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, PsaForm))
        await pilot.press(*"na.myconnectwise.net", "escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("y")
        await wait_until(pilot, lambda: isinstance(app.screen, HomeScreen))
        assert PsaConnection.select().count() == 0


async def test_keys_typed_fast_after_tab_land_in_the_next_field(ctx: Context) -> None:
    """A password manager over SSH types "site<tab>company<tab>key" in one burst: every key
    after a tab belongs to the next field (they went to the field tab was leaving)."""
    app = MspTuiApp(ctx, serve_port=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.focused, Card))
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, PsaForm))
        fields = [field for field in app.screen.query(Input) if field.display]
        await wait_until(pilot, lambda: app.focused is fields[0])
        for char in "examplenet\tacme\tpublic":  # posted at once, as a terminal delivers them
            app.post_message(events.Key("tab" if char == "\t" else char, char))
        await wait_until(pilot, lambda: fields[2].value == "public")
        assert [field.value for field in fields[:3]] == ["examplenet", "acme", "public"]
        await pilot.press("shift+tab")  # back a field, at once too
        assert app.focused is fields[1]


async def test_a_vendor_wizard_without_a_psa_offers_to_connect_it(ctx: Context) -> None:
    app = MspTuiApp(ctx, serve_port=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.focused, Card))
        while app.focused.card.key != "connect:spamtitan":
            await pilot.press("down")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        assert app.screen.question == NO_PSA
        await pilot.press("y")
        await wait_until(pilot, lambda: isinstance(app.screen, PsaForm))
        await pilot.press("escape")  # not now: back to the wizard, which still works
        await wait_until(pilot, lambda: isinstance(app.screen, ConnectWizard))
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: app.screen.step == "credentials")


def test_psa_set_finds_the_codebase_and_names_a_wrong_company(
    tmp_path: Path, cw, monkeypatch, capsys
) -> None:
    server, world = cw
    monkeypatch.setenv("CW_PRIVATE", world.cw_private_key)
    db = str(tmp_path / "s.db")
    common = ["--db", db, "psa", "set", "connectwise", "--site", server.base_url,
              "--public-key", world.cw_public_key, "--client-id", world.cw_client_id,
              "--private-key-env", "CW_PRIVATE"]  # fmt: skip
    assert main([*common, "--company", "nobody"]) == 1
    assert "not saved: Company ID:" in capsys.readouterr().err
    assert main([*common, "--company", world.cw_company_id]) == 0
    assert f"API {CODEBASE}" in capsys.readouterr().out


async def test_the_form_connects_autotask_with_its_own_fields(ctx: Context, at, db_path) -> None:
    server, world = at
    app = MspTuiApp(ctx, serve_port=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.focused, Card))
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, PsaForm))
        form = app.screen
        await choose_autotask(pilot, form)
        labels = [str(label.render()).strip()
                  for label in form.query("#fields-autotask .field-label")]  # fmt: skip
        assert labels == ["API user", "Secret", "Integration code", "Zone URL"]
        assert form.query_one("#secret").password  # masked
        assert "leave empty to look it up" in form.query_one("#zone").placeholder

        says = await checked(pilot, form)
        assert "Fill in: API user, Integration code, Secret" in says, says
        assert app.focused is form.query_one("#username")

        await type_autotask(pilot, form, server, world, "NotTheSecret")
        says = await checked(pilot, form)
        assert says.startswith("✗ API user, secret or integration code:"), says
        assert "NotTheSecret" not in says
        assert app.focused is form.query_one("#secret")

        await type_into(pilot, form, "secret", world.at_secret)
        says = await checked(pilot, form)
        assert says.startswith("✓ Autotask accepted these settings"), says
        assert PsaConnection.select().count() == 0  # Check saves nothing

        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, HomeScreen))
        connection = PsaConnection.get()
        assert (connection.kind, connection.company_identifier, connection.status) == (
            "autotask", world.at_username, "active")  # fmt: skip
        assert ctx.secrets.get("psa/autotask", "secret") == world.at_secret
        assert world.at_secret not in stored_text(db_path)
        # The PSA syncs at once; its card, named for Autotask, then counts what was read.
        await wait_until(pilot, lambda: not app.sync_state.syncing and PsaCompany.select().count())
        await wait_until(pilot, lambda: "companies" in psa_card_text(app))
        assert psa_card_text(app).startswith("Autotask (PSA)")
        assert "contract lines" in psa_card_text(app)

        # Reopened: Autotask chosen (enter on the kinds keeps it), its settings shown, the
        # secret kept when left empty.
        form = await open_form(pilot, app)
        assert form.query_one("#fields-autotask").display
        assert form.query_one("#username").value == world.at_username
        assert form.query_one("#integration-code").value == world.at_integration_code
        assert form.query_one("#zone").value == f"{server.base_url}/atservicesrest/"
        assert form.query_one("#secret").value == ""
        assert form.query_one("#secret").placeholder == STORED
        assert app.focused is form.query_one("#username")
        await pilot.press("shift+tab", "enter")
        assert form.kind == "autotask" and form.query_one("#fields-autotask").display
        says = await checked(pilot, form)
        assert says.startswith("✓ Autotask accepted"), says
        await pilot.press("escape")  # nothing changed: no question
        await wait_until(pilot, lambda: isinstance(app.screen, HomeScreen))


async def test_saving_the_other_psa_asks_then_replaces_the_one_there(ctx: Context, at, cw) -> None:
    server, world = at
    cw_server, cw_world = cw
    keys = Secret(cw_world.cw_public_key), Secret(cw_world.cw_private_key)
    credentials = ConnectWiseCredentials(cw_server.base_url, cw_world.cw_company_id, *keys,
                                         cw_world.cw_client_id, CODEBASE)  # fmt: skip
    save_connectwise(ctx.secrets, credentials, checked=True)
    app = MspTuiApp(ctx, serve_port=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, HomeScreen))
        form = await open_form(pilot, app)
        assert form.kind == "connectwise" and form.query_one("#public-key").placeholder == STORED
        await choose_autotask(pilot, form)
        assert form.query_one("#secret").placeholder != STORED  # ConnectWise's keys are not its
        await type_autotask(pilot, form, server, world, world.at_secret)

        await pilot.press("ctrl+s")  # checked first, then the question
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        question = app.screen.question
        assert "Save Autotask in place of ConnectWise Manage?" in question
        assert "mappings" in question
        await pilot.press("n")
        await wait_until(pilot, lambda: status(form).startswith("Not saved"))
        assert [c.kind for c in PsaConnection.select()] == ["connectwise"]

        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("y")
        await wait_until(pilot, lambda: isinstance(app.screen, HomeScreen))
        assert [c.kind for c in PsaConnection.select()] == ["autotask"]
        assert ctx.secrets.get("psa/connectwise", "private_key") is None
        assert ctx.secrets.get("psa/autotask", "secret") == world.at_secret
        await wait_until(pilot, lambda: not app.sync_state.syncing and PsaCompany.select().count())
        assert {c.connection.kind for c in PsaCompany.select()} == {"autotask"}
        await wait_until(pilot, lambda: psa_card_text(app).startswith("Autotask (PSA)"))


async def test_the_form_connects_halopsa_with_its_own_fields(ctx: Context, halo, db_path) -> None:
    server, world = halo
    app = MspTuiApp(ctx, serve_port=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.focused, Card))
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, PsaForm))
        form = app.screen
        await pilot.press("shift+tab")
        assert isinstance(form.focused, RadioSet)
        await pilot.press("right", "right", "enter")  # the third kind: HaloPSA
        await wait_until(pilot, lambda: form.query_one("#fields-halopsa").display)
        labels = [str(label.render()).strip()
                  for label in form.query("#fields-halopsa .field-label")]  # fmt: skip
        assert labels == ["URL", "Client ID", "Client secret", "Tenant", "Auth URL"]
        assert form.query_one("#halo-secret").password  # masked

        says = await checked(pilot, form)
        assert "Fill in: URL, Client ID, Client secret" in says, says
        await type_into(pilot, form, "halo-url", server.base_url)
        await type_into(pilot, form, "halo-client-id", world.halo_client_id)
        await type_into(pilot, form, "halo-secret", "NotTheSecret")
        await type_into(pilot, form, "halo-tenant", world.halo_tenant)
        says = await checked(pilot, form)
        assert says.startswith("✗ Client ID, secret or tenant:"), says
        assert "NotTheSecret" not in says
        assert app.focused is form.query_one("#halo-secret")

        await type_into(pilot, form, "halo-secret", world.halo_client_secret)
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, HomeScreen))
        connection = PsaConnection.get()
        saved = (connection.kind, connection.site, connection.client_id,
                 connection.company_identifier)  # fmt: skip
        assert saved == ("halopsa", server.base_url, world.halo_client_id, world.halo_tenant)
        assert ctx.secrets.get("psa/halopsa", "client_secret") == world.halo_client_secret
        assert world.halo_client_secret not in stored_text(db_path)
        await wait_until(pilot, lambda: not app.sync_state.syncing and PsaCompany.select().count())
        await wait_until(pilot, lambda: "companies" in psa_card_text(app))
        assert psa_card_text(app).startswith("HaloPSA (PSA)")
        assert "recurring invoice lines" in psa_card_text(app)

        form = await open_form(pilot, app)  # reopened: its settings, the secret kept
        assert form.kind == "halopsa" and form.query_one("#fields-halopsa").display
        assert form.query_one("#halo-url").value == server.base_url
        assert form.query_one("#halo-secret").placeholder == STORED
        says = await checked(pilot, form)
        assert says.startswith("✓ HaloPSA accepted"), says
