"""The HaloPSA adapter (adapters/halopsa.py) against the HaloPSA simulator over 127.0.0.1: one
token renewed a minute before it expires and once more on a 401, lists read past the server's
100-row pages, a recurring invoice written whole (a line left out would be deleted), negative
invoice ids through sync and write-back, tickets found by `third_party_id_string`, and
`msp-tui psa set halopsa`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from recon_world import line_for, mapped_demo, psa_book, psa_faults, psa_writes, sim_quantity
from stored import stored_text

from adapters.errors import AdapterError, AuthenticationError, NotFound, Secret
from adapters.halopsa import HaloAdapter, HaloCredentials
from adapters.sandbox import Faults, LoopbackServer, World, build_world
from adapters.sandbox.halopsa import HaloLimits, halopsa_app
from adapters.sandbox.halopsa_book import HaloBook
from adapters.sandbox.world import RECONCILE, SPAMTITAN_PRODUCT
from msp_tui.cli import main
from msp_tui.context import Context
from msp_tui.logs import log_path
from msp_tui.sources import psa_secret_scope
from msp_tui.store.models import PsaAgreement, PsaAgreementLine, PsaConnection
from msp_tui.writeback import decide, push_pending

LIFETIME_S = 3600.0
RENEW_BEFORE_S = 60.0  # the adapter renews its token a minute before it expires


class Clock:
    """A clock the test moves: token expiry without waiting."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Sim:
    server: LoopbackServer
    world: World
    book: HaloBook
    limits: HaloLimits
    faults: Faults
    server_clock: Clock  # the simulator's: when its tokens expire
    adapter_clock: Clock = field(default_factory=Clock)  # the adapter's: when it renews

    @property
    def url(self) -> str:
        return self.server.base_url

    def adapter(self, secret: str | None = None, tenant: str | None = "sandbox") -> HaloAdapter:
        world = self.world
        credentials = HaloCredentials(self.url, world.halo_client_id,
                                      Secret(secret or world.halo_client_secret),
                                      tenant=tenant)  # fmt: skip
        return HaloAdapter(credentials, clock=self.adapter_clock)

    def advance(self, seconds: float) -> None:
        """Time passes for both sides."""
        self.server_clock.now += seconds
        self.adapter_clock.now += seconds

    def api_calls(self, entity: str) -> list[str]:
        return [p for m, p in self.faults.log if m == "GET" and p.startswith(f"/api/{entity}?")]


@contextmanager
def simulated(companies: int = 60, page_cap: int = 100) -> Iterator[Sim]:
    world = build_world(seed=7, companies=companies)
    clock = Clock()
    limits = HaloLimits(token_lifetime_s=LIFETIME_S, page_cap=page_cap, clock=clock)
    app = halopsa_app(world, limits=limits)
    with LoopbackServer(app) as server:
        yield Sim(server, world, app.state.book, limits, app.state.faults, clock)


@pytest.fixture
def sim() -> Iterator[Sim]:
    with simulated() as found:
        yield found


@pytest.fixture
def halo_mapped(demo_db: str | None):
    """The demo world on the HaloPSA simulator, synced and mapped by its truth."""
    with mapped_demo(companies=60, db=demo_db, psa="halopsa") as found:
        yield found


def lines_of(book: HaloBook, invoice_id: int) -> dict[int, tuple[int, float, float]]:
    invoice = book.invoice(invoice_id)
    assert invoice is not None
    return {line["id"]: (line["_itemid"], line["qty_order"], line["unit_price"])
            for line in invoice["lines"]}  # fmt: skip


def invoice_with_lines(book: HaloBook, at_least: int) -> int:
    """An enabled recurring invoice with at least `at_least` lines."""
    return next(i["id"] for i in book.invoices(lines=True)
                if not i["disabled"] and len(i["lines"]) >= at_least)  # fmt: skip


# --- the token ---------------------------------------------------------------------------------


async def test_one_token_serves_every_call_and_is_renewed_a_minute_before_it_expires(
    sim: Sim,
) -> None:
    async with sim.adapter() as adapter:
        companies = await adapter.companies()
        await adapter.products()
        await adapter.boards()
        assert companies and sim.book.tokens_issued == adapter.tokens == 1
        [token_request] = [p for m, p in sim.faults.log if m == "POST"]
        assert token_request == "/auth/token?tenant=sandbox"

        sim.advance(LIFETIME_S - RENEW_BEFORE_S - 1)  # 61 s left: still good
        await adapter.boards()
        assert sim.book.tokens_issued == 1

        sim.advance(1)  # a minute left: renewed before the call, not after a refusal
        assert len(await adapter.companies()) == len(companies)
        assert sim.book.tokens_issued == adapter.tokens == 2

        sim.advance(LIFETIME_S - RENEW_BEFORE_S)  # and the new one is renewed in its turn
        await adapter.boards()
        assert sim.book.tokens_issued == 3
    assert sim.limits.expired_refusals == 0  # no call was ever refused


async def test_a_token_that_expired_early_is_replaced_once_and_the_call_retried(sim: Sim) -> None:
    async with sim.adapter() as adapter:
        teams = await adapter.boards()
        sim.server_clock.now += LIFETIME_S  # Halo expired it; the adapter thinks it has time
        assert await adapter.boards() == teams
        assert sim.limits.expired_refusals == 1
        assert sim.book.tokens_issued == adapter.tokens == 2
        refused_then_retried = [p for m, p in sim.faults.log if m == "GET" and p == "/api/Team"]
        assert len(refused_then_retried) == 3  # the first call, the refused one, its retry

        sim.faults.unauthorized = 1  # revoked: a 401 that is not about expiry
        assert await adapter.boards() == teams
        assert sim.book.tokens_issued == adapter.tokens == 3

        sim.faults.unauthorized = 10  # refused whatever the token: one new token, no loop
        sim.faults.log.clear()
        with pytest.raises(AuthenticationError):
            await adapter.boards()
        assert [m for m, _ in sim.faults.log] == ["GET", "POST"]  # the call, one token request
    assert sim.limits.expired_refusals == 1


# --- paging ------------------------------------------------------------------------------------


@pytest.mark.parametrize("cap", [100, 37])
async def test_every_row_comes_although_the_server_caps_its_pages(cap: int) -> None:
    """Over 250 clients: the adapter asks for pages of 100 and pages on until `record_count`,
    however many rows the server puts on a page."""
    with simulated(companies=260, page_cap=cap) as big:
        active = {c.id for c in big.world.companies.values() if not c.deleted_flag}
        assert len(active) > 250 and len(active) < len(big.world.companies)
        async with big.adapter() as adapter:
            companies = await adapter.companies()
        assert len(companies) == len(active)
        assert {c.external_id for c in companies} == active
        assert not any(c.is_prospect for c in companies)
        assert big.limits.max_page_size_asked == 100
        pages = -(-len(active) // cap)  # pages of `cap` rows, however many were asked for
        assert len(big.api_calls("Client")) == pages


# --- writing: the whole invoice ----------------------------------------------------------------


async def test_a_quantity_is_written_by_posting_every_line_of_the_invoice(sim: Sim) -> None:
    invoice_id = invoice_with_lines(sim.book, 3)
    before = lines_of(sim.book, invoice_id)
    line_id = list(before)[1]  # neither the first line nor the last
    async with sim.adapter() as adapter:
        line = await adapter.line(invoice_id, line_id)
        await adapter.set_line_quantity(invoice_id, line_id, 42, current=line.quantity)
        assert (await adapter.line(invoice_id, line_id)).quantity == 42
    [[posted]] = sim.book.posts
    assert posted["id"] == invoice_id < 0
    assert [sent["id"] for sent in posted["lines"]] == list(before)
    for sent in posted["lines"]:
        item, quantity, price = before[sent["id"]]
        assert (sent["_itemid"], sent["unit_price"]) == (item, price)
        assert sent["qty_order"] == (42 if sent["id"] == line_id else quantity)
    item, _, price = before[line_id]
    assert lines_of(sim.book, invoice_id) == {**before, line_id: (item, 42.0, price)}


async def test_adding_a_line_keeps_every_other_line(sim: Sim) -> None:
    invoice_id = invoice_with_lines(sim.book, 2)
    before = lines_of(sim.book, invoice_id)
    product = sim.world.product(SPAMTITAN_PRODUCT).id
    async with sim.adapter() as adapter:
        await adapter.add_line(invoice_id, product, 7, 3.5)
        added = [a for a in await adapter.lines(invoice_id) if a.product_id == product]
    [[posted]] = sim.book.posts
    *kept, new = posted["lines"]
    assert [sent["id"] for sent in kept] == list(before) and "id" not in new
    after = lines_of(sim.book, invoice_id)
    [new_id] = set(after) - set(before)
    assert after == {**before, new_id: (product, 7.0, 3.5)}
    assert [(a.external_id, a.product_identifier, a.quantity) for a in added][-1] == (
        new_id,
        SPAMTITAN_PRODUCT,
        7.0,
    )


async def test_a_line_no_longer_on_the_invoice_is_not_found_and_nothing_is_posted(
    sim: Sim,
) -> None:
    invoice_id = invoice_with_lines(sim.book, 2)
    other = next(i for i in sim.book.invoices() if i["id"] != invoice_id)["id"]
    elsewhere = sim.book.line_ids(other)[0]
    before = lines_of(sim.book, invoice_id)
    async with sim.adapter() as adapter:
        with pytest.raises(NotFound, match=f"{invoice_id} has no line {elsewhere}"):
            await adapter.set_line_quantity(invoice_id, elsewhere, 5, current=1)
    assert sim.book.posts == [] and lines_of(sim.book, invoice_id) == before


async def test_negative_invoice_ids_go_through_sync_and_back_to_halo(halo_mapped) -> None:
    demo, ctx = halo_mapped
    book = psa_book(demo)
    invoices = {i["id"] for i in book.invoices()}
    assert invoices and all(i < 0 for i in invoices)
    assert {a.external_id for a in PsaAgreement.select()} == invoices
    for row in PsaAgreementLine.select():
        assert row.agreement.external_id == book.line(row.external_id)["ihid"]
    line = line_for(demo, RECONCILE)
    invoice_id = PsaAgreementLine.get_by_id(line.line_ids[0]).agreement.external_id
    decide(line, "approve", "tester")
    psa_faults(demo).log.clear()
    [result] = await push_pending(ctx.secrets, "tester")
    assert result.state == "pushed"
    assert sim_quantity(demo, line) == float(line.vendor_quantity)
    assert psa_writes(demo) == ["/api/RecurringInvoice"]
    assert [body[0]["id"] for body in book.posts] == [invoice_id]
    read = [p for m, p in psa_faults(demo).log if m == "GET"]
    assert f"/api/RecurringInvoice/{invoice_id}?includelines=true" in read


# --- tickets -----------------------------------------------------------------------------------


async def test_tickets_carry_the_vendors_priority_and_are_found_by_their_reference(
    sim: Sim,
) -> None:
    company = next(iter(sim.world.companies.values()))
    async with sim.adapter() as adapter:
        [team, *_] = await adapter.boards()
        made = {}
        for priority in (1, 2, 3, 4):
            made[priority] = await adapter.create_ticket(
                summary=f"Alert {priority}", board_id=team.external_id, company_id=company.id,
                description="What the vendor said.", priority_id=priority,
                external_ref=f"msp-tui:ref-{priority}",
            )  # fmt: skip
        assert await adapter.find_ticket("msp-tui:ref-3") == made[3]
        assert await adapter.find_ticket("msp-tui:ref-9") is None
    for priority, ticket_id in made.items():
        ticket = sim.book.tickets[ticket_id]
        assert ticket["priority_id"] == priority  # the vendor's 1-4 as they are
        assert ticket["third_party_id_string"] == f"msp-tui:ref-{priority}"
        assert (ticket["team_id"], ticket["client_id"]) == (team.external_id, company.id)


async def test_a_token_echoed_back_in_an_error_is_masked(
    sim: Sim, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A proxy that answers 400 with the request's Authorization header in its message: the
    adapter's error shows the token as ********."""
    issued = recording_tokens(sim, monkeypatch)
    async with sim.adapter() as adapter:
        await adapter.boards()  # the token first
        [token] = issued
        sim.faults.echo_authorization = 1
        with pytest.raises(AdapterError) as refused:
            await adapter.companies()
    shown = f"{refused.value!s} {refused.value!r}"
    assert "Authorization: Bearer ********" in shown and token not in shown, shown


# --- msp-tui psa set halopsa -------------------------------------------------------------------


def set_halopsa(sim: Sim, *extra: str) -> list[str]:
    """`psa set halopsa` for the simulator, the secret in $HALO_SECRET."""
    return ["psa", "set", "halopsa", "--url", sim.url, "--client-id", sim.world.halo_client_id,
            "--client-secret-env", "HALO_SECRET", *extra]  # fmt: skip


def psa_set(db: Path | str, sim: Sim, *extra: str) -> int:
    return main(["--db", str(db), *set_halopsa(sim, *extra)])


def recording_tokens(sim: Sim, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every access token the simulator issues from now on."""
    issued: list[str] = []
    issue = sim.book.issue_token

    def recorded(expires_at: float) -> str:
        issued.append(issue(expires_at))
        return issued[-1]

    monkeypatch.setattr(sim.book, "issue_token", recorded)
    return issued


def test_psa_set_halopsa_checks_then_saves_the_secret_in_the_secret_store(
    sim: Sim, db_path: Path, ctx: Context, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    secret = sim.world.halo_client_secret
    monkeypatch.setenv("HALO_SECRET", secret)
    assert psa_set(db_path, sim, "--tenant", "sandbox") == 0
    out, err = capsys.readouterr()
    assert "HaloPSA connection 'halopsa' saved (credentials checked)" in out, out + err
    assert secret not in out + err
    connection = PsaConnection.get()
    assert (connection.kind, connection.site, connection.status) == ("halopsa", sim.url, "active")
    assert (connection.client_id, connection.company_identifier) == (
        sim.world.halo_client_id,
        "sandbox",
    )
    assert ctx.secrets.get(psa_secret_scope(connection), "client_secret") == secret
    assert secret not in stored_text(db_path)
    assert sim.book.tokens_issued == 1
    assert ("POST", "/auth/token?tenant=sandbox") in sim.faults.log


@pytest.mark.parametrize(
    ("secret", "tenant"),
    [("NotTheSecret", "sandbox"), (None, "elsewhere")],
    ids=["secret", "tenant"],
)
def test_psa_set_halopsa_with_a_wrong_secret_or_tenant_saves_nothing(
    sim: Sim, db_path: Path, ctx: Context, monkeypatch: pytest.MonkeyPatch, capsys,
    secret: str | None, tenant: str,
) -> None:  # fmt: skip
    monkeypatch.setenv("HALO_SECRET", secret or sim.world.halo_client_secret)
    assert psa_set(db_path, sim, "--tenant", tenant) == 1
    out, err = capsys.readouterr()
    assert "not saved" in err and "Client ID, secret or tenant" in err, err
    assert "NotTheSecret" not in out + err and sim.world.halo_client_secret not in out + err
    assert PsaConnection.select().count() == 0 and sim.book.tokens_issued == 0
    assert "NotTheSecret" not in stored_text(db_path)
    assert sim.world.halo_client_secret not in stored_text(db_path)


def test_secrets_and_tokens_never_reach_the_log(
    sim: Sim, db_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """Set up, sync, a refused token request and a refused secret, all at the debug level: the
    log, the output and the store hold no secret and no token."""
    secret = sim.world.halo_client_secret
    monkeypatch.setenv("HALO_SECRET", secret)
    tokens = recording_tokens(sim, monkeypatch)
    texts: list[str] = []

    def run(*args: str) -> int:
        code = main(["--db", str(db_path), "-v", *args])
        captured = capsys.readouterr()
        texts.append(captured.out + captured.err)
        return code

    assert run(*set_halopsa(sim, "--tenant", "sandbox")) == 0
    assert run("sync", "--all", "--json") == 0
    sim.faults.echo_authorization = 1  # the token request: answered 400, echoing the header
    assert run("sync", "--all", "--full", "--json") == 1
    monkeypatch.setenv("HALO_SECRET", "NotTheSecret")
    assert run(*set_halopsa(sim, "--tenant", "sandbox")) == 1
    texts += [log_path().read_text(), stored_text(db_path)]
    logged = texts[-2]
    assert "/auth/token" in logged and "/api/Client" in logged  # the debug level was on
    assert "HaloPSA refused the token request" in logged and "not saved" in texts[-3]
    assert len(tokens) == 2  # psa set's check, then the sync's
    for text in texts:
        assert secret not in text and "NotTheSecret" not in text
        assert not any(token in text for token in tokens)
