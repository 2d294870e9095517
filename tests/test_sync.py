"""Adapters and the sync engine over real loopback HTTP against the simulators."""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from peewee import OperationalError
from processes import share_secrets, wait_while_running
from recon_world import psa_agreement_id, psa_book, sim_quantity, sim_units
from stored import stored_text

from adapters.connectwise import ConnectWiseAdapter, ConnectWiseCredentials
from adapters.errors import AdapterError, AuthenticationError, Secret
from adapters.http import RetryPolicy
from adapters.sandbox import Faults, LoopbackServer, World, build_world
from adapters.sandbox.connectwise import connectwise_app
from adapters.sandbox.spamtitan import spamtitan_app
from adapters.sandbox.world import (
    NEW_REVENUE,
    NO_CHANGE,
    NO_VENDOR_DATA,
    RECONCILE,
    SPAMTITAN_PRODUCT,
    STALE,
)
from adapters.spamtitan import SpamTitanAdapter
from msp_tui.cli import main
from msp_tui.context import Context
from msp_tui.logs import log_path
from msp_tui.overview import psa_summary
from msp_tui.reconcile import reconciliation_lines
from msp_tui.store.db import writing
from msp_tui.store.models import (
    MODELS,
    AccountMapping,
    Integration,
    PsaAgreement,
    PsaAgreementLine,
    PsaCompany,
    PsaConnection,
    SyncRun,
    UsageCount,
    VendorAccount,
)
from msp_tui.sync import sync_psa, sync_pull
from msp_tui.sync_process import request_for, sync_in_process

FAST_RETRY = {
    "retry": RetryPolicy(attempts=3, rate_limited_attempts=3, base_delay=0.01, max_delay=0.05)
}


class Sim:
    def __init__(self, app_factory, world: World) -> None:
        self.world = world
        self.faults = Faults()
        self.server = LoopbackServer(app_factory(world, self.faults)).start()

    @property
    def url(self) -> str:
        return self.server.base_url


@pytest.fixture(scope="module")
def world() -> World:
    return build_world(seed=7, companies=300)


@pytest.fixture
def spamtitan(world: World) -> Iterator[Sim]:
    sim = Sim(spamtitan_app, world)
    yield sim
    sim.server.stop()


@pytest.fixture
def connectwise(world: World) -> Iterator[Sim]:
    sim = Sim(connectwise_app, world)
    yield sim
    sim.server.stop()


@pytest.fixture
def configured(
    ctx: Context, db_path: Path, spamtitan: Sim, connectwise: Sim, monkeypatch
) -> Context:
    """The PSA and a SpamTitan integration, set up through the CLI as an operator would."""
    world = spamtitan.world
    monkeypatch.setenv("CW_PRIVATE", world.cw_private_key)
    monkeypatch.setenv("ST_KEY", world.spamtitan_token)
    assert (
        main(
            [
                "--db",
                str(db_path),
                "psa",
                "set",
                "connectwise",
                "--site",
                connectwise.url,
                "--company",
                world.cw_company_id,
                "--public-key",
                world.cw_public_key,
                "--client-id",
                world.cw_client_id,
                "--private-key-env",
                "CW_PRIVATE",
            ]
        )
        == 0
    )
    assert main(["--db", str(db_path), "integrations", "add", "spamtitan", "--url",
                 spamtitan.url, "--api-key-env", "ST_KEY"]) == 0  # fmt: skip
    spamtitan.faults.reset()
    connectwise.faults.reset()
    return ctx


def dump() -> list[tuple[str, list[dict]]]:
    """Every row of every table but the run log, which records failures on purpose, read
    through the open store (SQLite or PostgreSQL alike)."""
    return [
        (model.__name__, list(model.select().order_by(*model._meta.get_primary_keys()).dicts()))
        for model in MODELS
        if model is not SyncRun
    ]


def test_full_sync_reads_everything_the_simulators_hold(
    configured: Context, db_path: Path, capsys, spamtitan: Sim
) -> None:
    capsys.readouterr()
    assert main(["--db", str(db_path), "sync", "--all", "--full", "--json"]) == 0
    summary = {s["source"]: s for s in json.loads(capsys.readouterr().out)}
    logged = log_path().read_text()  # B12: the log says what happened, at the default level
    assert "sync of spamtitan (full) done" in logged and "sync of psa:connectwise" in logged
    world = spamtitan.world
    assert summary["spamtitan"]["ok"] and summary["psa:connectwise"]["ok"]
    assert summary["spamtitan"]["accounts"] == len(world.domain_groups)
    assert summary["spamtitan"]["counts"] == len(world.domain_groups)
    live = [c for c in world.companies.values() if not c.deleted_flag]
    assert PsaCompany.select().where(~PsaCompany.deleted).count() == len(live)
    assert PsaAgreementLine.select().count() > 0
    today = datetime.now(UTC).date()
    for group in list(world.domain_groups.values())[:25]:
        account = VendorAccount.get(VendorAccount.external_id == str(group.id))
        [count] = UsageCount.select().where(UsageCount.account == account)
        assert count.quantity == world.expected_max_usage(group.id, today - timedelta(30), today)
    usage_calls = [p for m, p in spamtitan.faults.log if "license-usage" in p]
    assert f"start_date={(today - timedelta(30)).isoformat()}" in usage_calls[0]
    assert f"end_date={today.isoformat()}" in usage_calls[0]


def test_connectwise_reads_2500_companies_in_pages_of_1000() -> None:
    world = build_world(seed=3, companies=2500)
    sim = Sim(connectwise_app, world)
    try:
        creds = ConnectWiseCredentials(
            sim.url, world.cw_company_id, Secret(world.cw_public_key),
            Secret(world.cw_private_key), world.cw_client_id,
        )  # fmt: skip

        async def read():
            async with ConnectWiseAdapter(creds) as adapter:
                return await adapter.companies()

        import asyncio

        companies = asyncio.run(read())
    finally:
        sim.server.stop()
    assert len(companies) == sum(not c.deleted_flag for c in world.companies.values())
    pages = [
        p for m, p in sim.faults.log if p.startswith("/v4_6_release/apis/3.0/company/companies")
    ]
    assert len(pages) == 3
    assert all("pageSize=1000" in p for p in pages)


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ({"status_500": 50}, "answered 500"),
        ({"malformed_json": 50}, "not valid JSON"),
        ({"unauthorized": 50}, "refused the credentials (401)"),
        ({"rate_limit_429": 50, "retry_after_s": 0}, "rate limiting us (429)"),
        ({"hang": 50}, "did not answer in time"),
    ],
)
async def test_a_fault_fails_the_sync_and_leaves_the_data_as_it_was(
    configured: Context, db_path: Path, spamtitan: Sim, fault: dict, expected: str
) -> None:
    integration = Integration.get(Integration.name == "spamtitan")
    first = await sync_pull(integration, configured.secrets, mode="full")
    assert first.ok
    before = dump()
    for key, value in fault.items():
        setattr(spamtitan.faults, key, value)
    options = {**FAST_RETRY, "timeout": 0.5}
    outcome = await sync_pull(integration, configured.secrets, mode="full", adapter_options=options)
    assert not outcome.ok
    assert expected in outcome.error
    assert dump() == before
    spamtitan.faults.release_hangs()


async def test_transient_faults_are_retried(configured: Context, spamtitan: Sim) -> None:
    integration = Integration.get(Integration.name == "spamtitan")
    spamtitan.faults.status_500 = 2
    spamtitan.faults.rate_limit_429 = 2
    spamtitan.faults.retry_after_s = 0
    patient = RetryPolicy(attempts=5, base_delay=0.01, max_delay=0.05)
    outcome = await sync_pull(integration, configured.secrets, adapter_options={"retry": patient})
    assert outcome.ok, outcome.error
    assert spamtitan.faults.requests >= len(spamtitan.world.domain_groups) + 1 + 4


async def test_psa_fault_leaves_the_psa_data_as_it_was(
    configured: Context, db_path: Path, connectwise: Sim
) -> None:
    connection = PsaConnection.get()
    assert (await sync_psa(connection, configured.secrets, mode="full")).ok
    before = dump()
    connectwise.faults.malformed_json = 1
    outcome = await sync_psa(connection, configured.secrets, mode="full")
    assert not outcome.ok and "not valid JSON" in outcome.error
    assert dump() == before


async def test_concurrency_is_bounded(configured: Context, spamtitan: Sim) -> None:
    integration = Integration.get(Integration.name == "spamtitan")
    spamtitan.faults.latency_s = 0.02
    outcome = await sync_pull(integration, configured.secrets, adapter_options={"concurrency": 4})
    assert outcome.ok
    assert 1 < spamtitan.faults.max_in_flight <= 4


def test_sync_failures_and_usage_errors_exit_codes(
    configured: Context, db_path: Path, spamtitan: Sim, capsys
) -> None:
    assert main(["--db", str(db_path), "sync", "nosuch"]) == 2
    assert "no integration or PSA connection named 'nosuch'" in capsys.readouterr().err
    spamtitan.faults.unauthorized = 100
    assert main(["--db", str(db_path), "sync", "spamtitan"]) == 1
    err = capsys.readouterr().err
    assert "sync of spamtitan failed" in err and "401" in err


def test_export_usage_csv(configured: Context, db_path: Path, capsys) -> None:
    assert main(["--db", str(db_path), "sync", "spamtitan"]) == 0
    capsys.readouterr()
    assert main(["--db", str(db_path), "export", "usage", "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == (
        "integration,vendor_account_id,vendor_account_name,service_id,service_name,quantity,"
        "observed_at"
    )
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows and all(r["service_name"] == "Total Licenses" for r in rows)


def test_secrets_never_reach_logs_errors_json_or_the_database(
    configured: Context, db_path: Path, spamtitan: Sim, connectwise: Sim, capsys
) -> None:
    world = spamtitan.world
    keys = [world.spamtitan_token, world.cw_private_key, world.cw_public_key]
    outputs = []
    assert main(["--db", str(db_path), "-v", "sync", "--all", "--json"]) == 0
    outputs.append(capsys.readouterr())
    spamtitan.faults.unauthorized = 100
    assert main(["--db", str(db_path), "-v", "sync", "--all", "--json"]) == 1
    outputs.append(capsys.readouterr())

    import asyncio

    async def refused() -> str:
        async with SpamTitanAdapter(spamtitan.url, Secret("wrong-" + world.spamtitan_token)) as st:
            with pytest.raises(AuthenticationError) as exc:
                await st.authenticate()
        return f"{exc.value!s} {exc.value!r} {st.http!r}"

    texts = [o.out + o.err for o in outputs] + [asyncio.run(refused())]
    texts.append(log_path().read_text())
    texts.append(stored_text(db_path))
    assert "401" in texts[1]
    for key in keys:
        for text in texts:
            assert key not in text


def cw_adapter(sim: Sim, private_key: str | None = None, **options) -> ConnectWiseAdapter:
    world = sim.world
    creds = ConnectWiseCredentials(
        sim.url, world.cw_company_id, Secret(world.cw_public_key),
        Secret(private_key or world.cw_private_key), world.cw_client_id,
    )  # fmt: skip
    return ConnectWiseAdapter(creds, **options)


async def test_connectwise_writes_and_boards(connectwise: Sim) -> None:
    world = connectwise.world
    async with cw_adapter(connectwise) as cw:
        info = await cw.authenticate()
        assert "version" in info
        boards = await cw.boards()
        assert {b.name for b in boards} >= {"Help Desk"}
        agreement = next(
            a
            for a in world.agreements.values()
            if a.status == "Active" and world.agreement_additions(a.id)
        )
        [first, *_] = await cw.lines(agreement.id)
        await cw.set_line_quantity(agreement.id, first.external_id, 42, current=first.quantity)
        assert (await cw.line(agreement.id, first.external_id)).quantity == 42
        patch = [p for m, p in connectwise.faults.log if m == "PATCH"]
        assert patch == [
            f"/v4_6_release/apis/3.0/finance/agreements/{agreement.id}/additions/{first.external_id}"
        ]
        product = world.product("ST-TOTAL-LIC")
        await cw.add_line(agreement.id, product.id, 7, 3.5)
        added = [a for a in await cw.lines(agreement.id) if a.product_id == product.id]
        assert [(a.product_identifier, a.quantity) for a in added][-1] == ("ST-TOTAL-LIC", 7)
        company = next(iter(world.companies.values()))
        ticket_id = await cw.create_ticket(
            summary="Quarantine full", board_id=boards[0].external_id, company_id=company.id,
            description="The quarantine is full",
        )  # fmt: skip
        assert world.tickets[ticket_id].summary == "Quarantine full"


async def test_connectwise_refuses_a_wrong_private_key(connectwise: Sim) -> None:
    async with cw_adapter(connectwise, private_key="NotTheKey") as cw:
        with pytest.raises(AuthenticationError, match="401") as exc:
            await cw.authenticate()
    assert "NotTheKey" not in str(exc.value)


@pytest.mark.parametrize("fault", ["status_500", "unauthorized", "hang", "rate_limit_429"])
async def test_connectwise_faults_fail_cleanly(connectwise: Sim, fault: str) -> None:
    setattr(connectwise.faults, fault, 50)
    connectwise.faults.retry_after_s = 0
    async with cw_adapter(connectwise, timeout=0.5, **FAST_RETRY) as cw:
        with pytest.raises(AdapterError):
            await cw.companies()
    connectwise.faults.release_hangs()


def test_integrations_list_and_refused_credentials(
    configured: Context, db_path: Path, connectwise: Sim, capsys, monkeypatch
) -> None:
    capsys.readouterr()
    assert main(["--db", str(db_path), "integrations", "list", "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    # Added and checked, never synced: that is what it says, with the command to run.
    assert (listed["name"], listed["vendor"], listed["vendor_status"]) == (
        "spamtitan", "spamtitan", "active")  # fmt: skip
    assert (listed["status"], listed["next"]) == ("waiting", "msp-tui sync spamtitan")
    world = connectwise.world
    monkeypatch.setenv("CW_WRONG", "NotTheKey")
    code = main(["--db", str(db_path), "psa", "set", "connectwise", "--site", connectwise.url,
                 "--company", world.cw_company_id, "--public-key", world.cw_public_key,
                 "--client-id", world.cw_client_id, "--private-key-env", "CW_WRONG"])  # fmt: skip
    assert code == 1
    err = capsys.readouterr().err
    assert "not saved" in err and "401" in err and "NotTheKey" not in err
    # the connection that worked is still the one stored
    assert configured.secrets.get("psa/connectwise", "private_key") == world.cw_private_key


def test_an_echoed_credential_is_masked_everywhere(
    configured: Context, db_path: Path, connectwise: Sim, capsys
) -> None:
    """A proxy or gateway that echoes the Authorization header in its error: the Basic
    credential (base64 of company+public:private) is masked in the message, the store and the
    log. Without the masking these assertions fail: the echo really carries the credential."""
    world = connectwise.world
    raw = f"{world.cw_company_id}+{world.cw_public_key}:{world.cw_private_key}"
    basic = base64.b64encode(raw.encode()).decode()
    connectwise.faults.echo_authorization = 1
    capsys.readouterr()
    assert main(["--db", str(db_path), "sync", "psa"]) == 1
    err = capsys.readouterr().err
    assert "(Authorization: Basic ********)" in err, err
    [run] = SyncRun.select().where(SyncRun.status == "failed")
    texts = {"stderr": err, "sync_run.error": run.error, "log": log_path().read_text()}
    for where, text in texts.items():
        for secret in (basic, raw, world.cw_private_key, world.cw_public_key):
            assert secret not in text, where
    assert "Basic ********" in run.error


def test_a_store_error_during_sync_is_recorded_and_keeps_the_data(
    configured: Context, db_path: Path, monkeypatch
) -> None:
    import msp_tui.sync as sync_module

    integration = Integration.get(Integration.name == "spamtitan")
    assert asyncio.run(sync_pull(integration, configured.secrets, mode="full")).ok
    before = dump()

    def disk_full(*args, **kwargs):
        raise OperationalError("database or disk is full")

    monkeypatch.setattr(sync_module, "_write_pull", disk_full)
    outcome = asyncio.run(sync_pull(integration, configured.secrets, mode="full"))
    assert not outcome.ok and "the store could not be written" in outcome.error
    run = SyncRun.select().order_by(SyncRun.id.desc()).first()
    assert run.status == "failed" and "disk is full" in run.error
    assert dump() == before


def test_a_killed_sync_is_shown_interrupted(
    configured: Context, db_path: Path, spamtitan: Sim, capsys
) -> None:
    share_secrets(configured, "spamtitan", ("api_key",))
    spamtitan.faults.hang = 1
    env = {**os.environ, "MSP_TUI_SECRETS": "file"}
    sync = subprocess.Popen([sys.executable, "-m", "msp_tui", "--db", str(db_path), "sync",
                             "spamtitan"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, text=True, env=env)  # fmt: skip
    wait_while_running(sync, lambda: spamtitan.faults.in_flight > 0)
    sync.kill()
    sync.wait(timeout=30)
    spamtitan.faults.release_hangs()
    capsys.readouterr()
    assert main(["--db", str(db_path), "integrations", "list", "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert listed["last_run"]["state"] == "interrupted"
    assert main(["--db", str(db_path), "integrations", "list"]) == 0
    out = capsys.readouterr().out
    assert "Last sync failed" in out and "its process ended before it finished" in out
    assert "next: msp-tui sync spamtitan" in out


async def test_a_psa_sync_shows_every_situation_with_its_status_and_quantity(psa_mapped) -> None:
    """Synced from ConnectWise, Autotask or HaloPSA, every situation the demo world was built
    with shows with its status, and every PSA quantity is what the PSA's simulator holds
    today."""
    demo, ctx = psa_mapped
    outcome = await sync_psa(PsaConnection.get(), ctx.secrets, mode="full")
    assert outcome.ok, outcome.error
    world = demo.world
    # Autotask's and HaloPSA's syncs read what bills on a cycle only (recurring service
    # contracts, recurring invoices), not block hours.
    expected = {
        a.id
        for a in world.additions.values()
        if demo.psa == "connectwise" or world.agreements[a.agreement_id].billing_cycle
    }
    assert {r.external_id for r in PsaAgreementLine.select()} == expected
    for row in PsaAgreementLine.select():
        assert float(row.quantity) == sim_units(demo, row.external_id), row.external_id
    cancelled = {a.external_id for a in PsaAgreement.select().where(PsaAgreement.cancelled)}
    assert cancelled == {psa_agreement_id(demo, a.id) for a in world.agreements.values()
                         if a.status == "Cancelled"}  # fmt: skip
    lines = {(line.company_external_id, line.product_identifier): line
             for line in reconciliation_lines() if line.company_id is not None}  # fmt: skip
    silent: list[int] = []
    seen: Counter[str] = Counter()
    for group, situation in world.situations.items():
        line = lines.get((world.truth[group], SPAMTITAN_PRODUCT))
        assert line is not None, (group, situation)
        seen[situation] += 1
        on = [PsaAgreementLine.get_by_id(i) for i in line.line_ids]
        live = [r for r in on if PsaAgreement.get_by_id(r.agreement_id).external_id
                not in cancelled]  # fmt: skip
        held = sum(sim_units(demo, r.external_id) for r in (live or on))
        if situation == NEW_REVENUE:
            assert (line.status, line.psa_quantity, on) == ("new_revenue", None, [])
            assert line.vendor_quantity > 0
        elif situation == STALE:  # left on a cancelled agreement (Autotask: inactive contract;
            # HaloPSA: disabled recurring invoice)
            assert len(on) > len(live), line
            # Renewed on a live agreement at the vendor's count, or only the stale line left.
            assert line.status == ("no_change" if live else "stale"), line
            assert float(line.psa_quantity) == held
        else:
            assert len(live) == len(on) == 1 and float(line.psa_quantity) == held
            if situation == NO_CHANGE:
                assert line.status == "no_change" and line.vendor_quantity == line.psa_quantity
            elif situation == RECONCILE:
                assert line.status == "reconcile" and line.vendor_quantity != line.psa_quantity
            else:
                # SpamTitan answers a maximum of 0 for a group that sent no mail in the window,
                # and a count of 0 is a count: the line reads as one to reconcile down to 0.
                assert situation == NO_VENDOR_DATA
                assert line.status == "reconcile" and line.vendor_quantity == 0
                silent.append(line.company_id)
    assert seen == Counter(world.situations.values()) and set(seen) == {
        NO_CHANGE, RECONCILE, NEW_REVENUE, NO_VENDOR_DATA, STALE,
    }  # fmt: skip
    # With no count at all (a vendor that never reported those accounts): No vendor data.
    accounts = AccountMapping.select(AccountMapping.vendor_account).where(
        AccountMapping.psa_company.in_(silent)
    )
    with writing():
        UsageCount.delete().where(UsageCount.account.in_(accounts)).execute()
    quiet = [line for line in reconciliation_lines() if line.company_id in silent]
    assert quiet and all(line.status == "no_vendor_data" for line in quiet)
    assert all(float(line.psa_quantity) == sim_quantity(demo, line) for line in quiet)

    if demo.psa == "autotask":
        # Units are read from this billing period's row; the book lists last month's first,
        # always with other units.
        book, this_month = psa_book(demo), world.today.replace(day=1)
        for row in PsaAgreementLine.select():
            last, current = book.rows_of(row.external_id)[:2]
            assert last.start < this_month == current.start and last.id < current.id
            assert float(row.quantity) == current.units != last.units
        inactive = PsaAgreement.select().where(PsaAgreement.cancelled)
        assert inactive and all(a.agreement_status == "Inactive" for a in inactive)
        # The hour's request count, as the last sync left it, for Home's PSA card.
        assert re.fullmatch(r"\d+ of 10,000 API requests this hour at the last sync",
                            psa_summary().budget)  # fmt: skip
    else:
        assert psa_summary().budget is None
    if demo.psa == "halopsa":
        # Every agreement that bills on a cycle is a recurring invoice, at a negative id; the
        # cancelled ones are disabled. Halo has no prospects: the active clients, none a prospect.
        book = psa_book(demo)
        invoices = {i["id"]: i for i in book.invoices()}
        assert (
            set(invoices)
            == {-a.id for a in world.agreements.values() if a.billing_cycle}
            == {a.external_id for a in PsaAgreement.select()}
        )
        for agreement in PsaAgreement.select():
            disabled = invoices[agreement.external_id]["disabled"]
            assert agreement.cancelled == disabled and agreement.external_id < 0
            assert agreement.agreement_status == ("Disabled" if disabled else "Active")
        assert {c.external_id for c in PsaCompany.select()} == {
            c.id for c in world.companies.values() if not c.deleted_flag
        }
        assert not PsaCompany.select().where(PsaCompany.is_prospect).exists()


# --- the app's syncs, each in a process of its own (msp_tui.sync_process) ---------------------


def test_a_sync_runs_in_a_child_with_the_secrets_only_this_process_holds(
    configured: Context,
) -> None:
    """The tests' secrets live in this process's memory (as the demo's do): the child gets
    them over its standard input, and stores what it read where this process sees it."""
    assert configured.secrets.description == "memory (not kept)"
    outcome = asyncio.run(sync_in_process(configured, "spamtitan", "full"))
    assert outcome.ok, outcome.error
    assert outcome.source == "spamtitan" and outcome.counts
    assert UsageCount.select().count() > 0
    request = request_for(configured, "spamtitan", "full")
    assert request["secrets_mode"] == "memory" and request["secrets"]


def test_a_child_that_cannot_sync_says_why_in_one_line(configured: Context) -> None:
    outcome = asyncio.run(sync_in_process(configured, "no-such-integration", "quick"))
    assert not outcome.ok
    assert outcome.error == (
        "the sync process ended with exit code 2: nothing to sync by the name 'no-such-integration'"
    )


def test_a_cancelled_sync_ends_its_child_and_shows_interrupted(
    configured: Context, db_path: Path, spamtitan: Sim, capsys
) -> None:
    """The app quitting mid-sync cancels the task that awaits the child: the child is ended
    (its transaction rolled back) and the run it began shows as interrupted."""
    spamtitan.faults.hang = 1

    async def cancel_mid_request() -> None:
        task = asyncio.create_task(sync_in_process(configured, "spamtitan", "full"))
        deadline = time.monotonic() + 30
        while spamtitan.faults.in_flight <= 0:  # the child's request is being held
            assert not task.done(), task.result()
            assert time.monotonic() < deadline, "the child never reached the simulator"
            await asyncio.sleep(0.02)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            return
        raise AssertionError("the sync was not cancelled")

    asyncio.run(cancel_mid_request())
    spamtitan.faults.release_hangs()
    capsys.readouterr()
    assert main(["--db", str(db_path), "integrations", "list", "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert listed["last_run"]["state"] == "interrupted"
    assert UsageCount.select().count() == 0
