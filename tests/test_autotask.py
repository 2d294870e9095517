"""The Autotask adapter (adapters/autotask.py) against the Autotask simulator over 127.0.0.1:
zone lookup, paging past 500 through nextPageUrl, three requests in flight per endpoint, the
hourly request budget, `msp-tui psa set autotask`, and whole units rounded by policy."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from recon_world import line_for, mapped_demo, psa_book, psa_faults, psa_writes, sim_quantity

import adapters.autotask as autotask_module
from adapters.autotask import AutotaskAdapter, AutotaskCredentials, find_zone
from adapters.errors import NotFound, Secret
from adapters.sandbox import Faults, LoopbackServer, World, build_world
from adapters.sandbox.autotask import AutotaskLimits, autotask_app
from adapters.sandbox.autotask_book import AutotaskBook
from adapters.sandbox.world import RECONCILE
from msp_tui.cli import main
from msp_tui.context import Context
from msp_tui.reconcile import reconciliation_lines
from msp_tui.sources import psa_secret_scope
from msp_tui.store.db import writing
from msp_tui.store.models import (
    AccountMapping,
    PsaAgreementLine,
    PsaCompany,
    PsaConnection,
    SyncRun,
    UsageCount,
    VendorService,
)
from msp_tui.sync import sync_psa
from msp_tui.writeback import decide, push_pending

EVERYTHING = [{"op": "gte", "field": "id", "value": 0}]


@dataclass
class Sim:
    server: LoopbackServer
    world: World
    faults: Faults
    limits: AutotaskLimits
    book: AutotaskBook

    @property
    def zone(self) -> str:
        return f"{self.server.base_url}/atservicesrest/"

    def adapter(self, secret: str | None = None, **options) -> AutotaskAdapter:
        world = self.world
        credentials = AutotaskCredentials(world.at_username, world.at_integration_code,
                                          Secret(secret or world.at_secret), self.zone)  # fmt: skip
        return AutotaskAdapter(credentials, **options)

    def requests(self, n: int) -> None:
        """`n` requests of some other integration of the tenant, counted in its hour."""
        headers = {"UserName": self.world.at_username, "Secret": self.world.at_secret,
                   "ApiIntegrationCode": self.world.at_integration_code}  # fmt: skip
        with httpx.Client(base_url=f"{self.zone}V1.0", headers=headers) as client:
            for _ in range(n):
                assert client.get("/ThresholdInformation").status_code == 200


@contextmanager
def simulated(companies: int = 60) -> Iterator[Sim]:
    world = build_world(seed=7, companies=companies)
    app = autotask_app(world)
    with LoopbackServer(app) as server:
        yield Sim(server, world, app.state.faults, app.state.limits, app.state.book)


@pytest.fixture
def sim() -> Iterator[Sim]:
    with simulated() as found:
        yield found


@pytest.fixture
def at_mapped(demo_db: str | None):
    """The demo world on the Autotask simulator, synced and mapped by its truth."""
    with mapped_demo(companies=60, db=demo_db, psa="autotask") as found:
        yield found


@pytest.fixture
def big() -> Iterator[Sim]:
    """A world with over 1,000 contract services (and over 3,000 units rows)."""
    with simulated(companies=400) as found:
        yield found


# --- zone, paging, threads -------------------------------------------------------------------


async def test_find_zone_asks_zone_information_for_the_api_user(sim: Sim) -> None:
    lookup = f"{sim.zone}v1.0/zoneInformation"
    assert await find_zone(sim.world.at_username, lookup=lookup) == sim.zone
    assert await find_zone(f" {sim.world.at_username.upper()} ", lookup=lookup) == sim.zone
    with pytest.raises(NotFound, match=r"nobody@nowhere\.example"):
        await find_zone("nobody@nowhere.example", lookup=lookup)
    asked = [p for m, p in sim.faults.log if m == "GET"]
    assert asked and all(p.startswith("/atservicesrest/v1.0/zoneInformation?user=") for p in asked)
    assert sim.limits.requests_this_hour() == 0  # the lookup is not an API call of the tenant


async def test_more_than_500_rows_are_read_through_next_page_url(big: Sim) -> None:
    assert len(big.book.rows) > 6 * 500
    async with big.adapter() as adapter:
        rows = await adapter.query("ContractServiceUnits", EVERYTHING, ["units"])
        assert [r["id"] for r in rows] == sorted(big.book.rows)
        pages = [p for m, p in big.faults.log if m == "POST" and "/query/next?paging=" in p]
        assert len(pages) == len(big.book.rows) // 500  # 500 a page, the first by /query
        # Reading the lines pages too: a batch of 200 contracts has over 500 units rows.
        agreements = await adapter.agreements()
        lines = await adapter.lines_for([a.external_id for a in agreements])
    live = {a.external_id for a in agreements}
    assert {line.external_id for line in lines} == {
        cs.id for cs in big.book.contract_services.values() if cs.contract_id in live
    }
    today = big.world.today
    assert all(line.quantity == big.book.units_on(line.external_id, today) for line in lines)


async def test_at_most_three_requests_in_flight_per_endpoint(
    big: Sim, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full read with 50 ms a request and small batches of contracts, so that many more than
    three queries of each entity are asked for at once."""
    monkeypatch.setattr(autotask_module, "BATCH", 40)
    big.faults.latency_s = 0.05
    async with big.adapter() as adapter:
        companies, products = await asyncio.gather(adapter.companies(), adapter.products())
        agreements = await adapter.agreements()
        lines = await adapter.lines_for([a.external_id for a in agreements])
    assert companies and products and len(lines) > 1000
    assert big.limits.refused_threads == 0
    assert max(big.limits.max_in_flight.values()) == 3  # the limit was reached ...
    assert all(n <= 3 for n in big.limits.max_in_flight.values()), big.limits.max_in_flight
    assert big.limits.max_in_flight["ContractServiceUnits"] == 3
    assert big.faults.max_in_flight > 3  # ... per endpoint: several endpoints at once


# --- the hourly budget ---------------------------------------------------------------------------


async def test_past_half_the_budget_the_adapter_goes_one_request_at_a_time(sim: Sim) -> None:
    sim.limits.hourly_requests = 60
    sim.limits.latency_past_half_s = 0.0  # the slowing is the adapter's own here
    sim.faults.latency_s = 0.05

    async def six_queries(adapter: AutotaskAdapter) -> None:
        await asyncio.gather(*(adapter.query("Companies", EVERYTHING, ["companyName"])
                               for _ in range(6)))  # fmt: skip

    async with sim.adapter() as adapter:  # under half: three at once
        await six_queries(adapter)
        assert not adapter.budget.slow
    assert sim.limits.max_in_flight["Companies"] == 3

    sim.faults.reset()
    sim.requests(31 - sim.limits.requests_this_hour())  # the tenant's other integrations
    assert sim.limits.requests_this_hour() > sim.limits.hourly_requests / 2
    sim.faults.reset()
    sim.faults.latency_s = 0.05
    sim.limits.max_in_flight.clear()
    async with sim.adapter() as adapter:  # a fresh adapter finds the count past half
        await asyncio.gather(six_queries(adapter), adapter.query("Services", EVERYTHING),
                             adapter.query("Contracts", EVERYTHING))  # fmt: skip
        assert adapter.budget.slow
        assert adapter.usage()["requests_this_hour"] == sim.limits.requests_this_hour()
    assert sim.limits.max_in_flight == {"ThresholdInformation": 1, "Companies": 1,
                                        "Services": 1, "Contracts": 1}  # fmt: skip
    assert sim.faults.max_in_flight == 1  # one request at a time, whatever the endpoint
    assert sim.limits.slowed > 0 and sim.limits.refused_hourly == 0


def psa_rows() -> list[tuple]:
    return sorted(PsaAgreementLine.select(PsaAgreementLine.external_id, PsaAgreementLine.quantity,
                                          PsaAgreementLine.synced_at).tuples())  # fmt: skip


async def test_a_sync_near_the_budget_stops_and_keeps_the_last_good_data(at_mapped) -> None:
    demo, ctx = at_mapped
    limits = demo.psa_server.app.state.limits
    limits.latency_past_half_s = 0.05  # Autotask's slowing past half, shortened
    line = line_for(demo, RECONCILE)
    row = PsaAgreementLine.get_by_id(line.line_ids[0])
    psa_book(demo).set_units(row.external_id, 777)  # what the next good sync brings
    before = psa_rows()
    companies = PsaCompany.select().count()
    used = limits.requests_this_hour()
    limits.hourly_requests = used + 4  # msp-tui stops at 90%: after a few requests
    outcome = await sync_psa(PsaConnection.get(), ctx.secrets, mode="full")
    assert not outcome.ok
    assert "request budget for this hour is nearly spent" in outcome.error
    assert f"of {used + 4:,}" in outcome.error and "sync again later" in outcome.error
    assert limits.refused_hourly == 0  # stopped by msp-tui before Autotask refused
    assert psa_rows() == before and PsaCompany.select().count() == companies
    assert PsaAgreementLine.get_by_id(row.id).quantity == line.psa_quantity
    run = SyncRun.select().order_by(SyncRun.id.desc()).first()
    assert run.status == "failed" and "request budget" in run.error

    limits.hourly_requests = 10_000  # the hour has passed
    assert (await sync_psa(PsaConnection.get(), ctx.secrets, mode="full")).ok
    assert PsaAgreementLine.get_by_id(row.id).quantity == 777


# --- msp-tui psa set autotask --------------------------------------------------------------------


def psa_set(db: Path, sim: Sim, *extra: str) -> int:
    world = sim.world
    return main(["--db", str(db), "psa", "set", "autotask", "--username", world.at_username,
                 "--integration-code", world.at_integration_code, "--secret-env", "AT_SECRET",
                 *extra])  # fmt: skip


def test_psa_set_autotask_checks_then_saves(
    sim: Sim, db_path: Path, ctx: Context, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("AT_SECRET", "not-the-secret")
    assert psa_set(db_path, sim, "--zone-url", sim.zone) == 1
    out, err = capsys.readouterr()
    assert "not saved" in err and "API user, secret or integration code" in err, err
    assert "not-the-secret" not in out + err
    assert PsaConnection.select().count() == 0

    monkeypatch.setenv("AT_SECRET", sim.world.at_secret)
    assert psa_set(db_path, sim, "--zone-url", sim.zone) == 0
    out, err = capsys.readouterr()
    assert "Autotask connection 'autotask' saved (credentials checked" in out, out + err
    assert sim.world.at_secret not in out + err
    connection = PsaConnection.get()
    assert (connection.kind, connection.site, connection.status) == ("autotask", sim.zone,
                                                                     "active")  # fmt: skip
    assert connection.company_identifier == sim.world.at_username
    assert connection.client_id == sim.world.at_integration_code
    assert ctx.secrets.get(psa_secret_scope(connection), "secret") == sim.world.at_secret


def test_psa_set_autotask_no_check_needs_the_zone(
    db_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("AT_SECRET", "s")
    code = main(["--db", str(db_path), "psa", "set", "autotask", "--username", "api@x.example",
                 "--integration-code", "C", "--secret-env", "AT_SECRET", "--no-check"])  # fmt: skip
    assert code == 2
    assert "--no-check needs --zone-url" in capsys.readouterr().err
    assert PsaConnection.select().count() == 0


# --- whole units ---------------------------------------------------------------------------------


async def test_a_fractional_count_is_rounded_by_policy_and_written_whole(at_mapped, capsys) -> None:
    demo, ctx = at_mapped
    line = next(
        candidate for candidate in reconciliation_lines()
        if candidate.status == "reconcile" and len(candidate.line_ids) == 1
        and candidate.psa_quantity not in (12, 13)
    )  # fmt: skip
    mapping = AccountMapping.get(AccountMapping.psa_company == line.company_id)
    with writing():
        UsageCount.create(account=mapping.vendor_account, service=VendorService.get(),
                          quantity=Decimal("12.4"))  # fmt: skip

    def the_line():
        return next(found for found in reconciliation_lines() if found.key == line.key)

    rounded = the_line()
    assert (rounded.vendor_quantity, rounded.counted) == (13, Decimal("12.4"))
    assert rounded.rounding_note == "12.4 -> 13, rounded up"
    db = str(demo.store)
    assert main(["--db", db, "integrations", "rounding", "spamtitan", "down"]) == 0
    down = the_line()
    assert down.vendor_quantity == 12 and down.rounding_note == "12.4 -> 12, rounded down"
    assert main(["--db", db, "integrations", "rounding", "spamtitan", "up"]) == 0
    capsys.readouterr()

    decision = decide(the_line(), "approve", "tester")
    assert decision.target_quantity == 13
    psa_faults(demo).log.clear()
    [result] = await push_pending(ctx.secrets, "tester")
    assert result.state == "pushed"
    assert sim_quantity(demo, line) == 13 and len(psa_writes(demo)) == 1
    [adjustment] = psa_book(demo).adjustments
    assert adjustment["unitChange"] == 13 - int(line.psa_quantity)
