"""A store on a real PostgreSQL, shared by real processes: one writer at a time across them;
what both engines must take alike."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time

import httpx
import psycopg2
import pytest
from processes import share_psa_keys, wait_while_running
from recon_world import cw_faults, line_for, mapped_demo, sim_quantity

from adapters.records import Board
from adapters.sandbox.mailprotector import VENDOR_KEY, MailprotectorConsole, gradient_token
from adapters.sandbox.world import RECONCILE
from msp_tui.cli import main
from msp_tui.connect import create_push_integration, set_alert_route
from msp_tui.context import open_context
from msp_tui.demo import start_demo
from msp_tui.reconcile import reconciliation_lines
from msp_tui.store.db import process_lock, writing
from msp_tui.store.models import (
    AccountMapping,
    Alert,
    Decision,
    Integration,
    PsaCompany,
    VendorAccount,
)
from msp_tui.store.reconnect import unit_of_work
from msp_tui.sync import _upsert
from msp_tui.writeback import decide
from serve_process import start_serve, stop_serve

HOLD = """
import sys, time
from msp_tui.cli import main
from msp_tui.context import open_context
from msp_tui.demo import start_demo
from msp_tui.store.db import process_lock
ctx = open_context(sys.argv[1])
with process_lock("outbox") as ours:
    print("held" if ours else "busy", flush=True)
    time.sleep(120)  # the lock is held until this process is killed
"""


def cli(store: str, *args: str) -> subprocess.Popen:
    env = {**os.environ, "MSP_TUI_SECRETS": "file"}
    return subprocess.Popen([sys.executable, "-m", "msp_tui", "--db", store, *args],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)  # fmt: skip


@pytest.mark.postgres
def test_the_writer_lock_spans_processes_and_dies_with_its_holder(pg_store: str) -> None:
    ctx = open_context(pg_store)
    try:
        holder = subprocess.Popen([sys.executable, "-c", HOLD, pg_store], text=True,
                                  stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)  # fmt: skip
        assert holder.stdout.readline().strip() == "held"
        with process_lock("outbox") as ours:
            assert not ours  # another process holds it
        with process_lock("alerts") as ours:
            assert ours  # another name is another lock
        holder.kill()  # SIGKILL: its connection drops, and the server frees the lock
        holder.wait(timeout=10)
        deadline = time.monotonic() + 10
        while True:
            with process_lock("outbox") as ours:
                if ours:
                    break
            assert time.monotonic() < deadline, "the lock outlived its holder"
            time.sleep(0.1)
    finally:
        ctx.close()


@pytest.mark.postgres
def test_two_outbox_pushes_write_each_decision_once(pg_store: str) -> None:
    """Two `msp-tui outbox push` at once on one PostgreSQL store: the first holds the writer
    lock (its PSA call held), the second leaves the work to it; each decision is written once."""
    with mapped_demo(db=pg_store) as (demo, ctx):
        share_psa_keys(ctx)
        lines = [line_for(demo, RECONCILE)]
        lines += [line for line in reconciliation_lines()
                  if line.status == "reconcile" and len(line.line_ids) == 1
                  and line.key != lines[0].key][:2]  # fmt: skip
        decisions = [decide(line, "approve", "tester") for line in lines]
        faults = cw_faults(demo)
        faults.log.clear()
        faults.hang = 1  # the first worker's first PSA call waits until released
        first = cli(pg_store, "outbox", "push")
        wait_while_running(first, lambda: faults.in_flight > 0)
        second = cli(pg_store, "outbox", "push")
        out, _ = second.communicate(timeout=60)
        assert "another msp-tui is writing" in out, out
        faults.release_hangs()
        out, _ = first.communicate(timeout=120)
        assert first.returncode == 0, out
        patches = [path for method, path in faults.log if method == "PATCH"]
        assert len(patches) == len(decisions) == len(set(patches)), (patches, out)
        for decision, line in zip(decisions, lines, strict=True):
            assert Decision.get_by_id(decision.id).state == "pushed"
            assert sim_quantity(demo, line) == float(line.vendor_quantity)


@pytest.fixture(params=["sqlite", "postgres"])
def any_store(request, tmp_path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "store.db")
    return request.getfixturevalue("pg_store")


def test_an_id_twice_in_one_batch_keeps_the_last(any_store: str) -> None:
    """A vendor reply naming one account twice: a 500 or a failed sync on PostgreSQL before."""
    ctx = open_context(any_store)
    try:
        integration = Integration.create(name="st", vendor="spamtitan", kind="pull")
        rows = [{"integration": integration.id, "external_id": "7", "name": name}
                for name in ("Acme", "Acme Dental")]  # fmt: skip
        with writing():
            _upsert(VendorAccount, rows, [VendorAccount.integration, VendorAccount.external_id])
        [account] = VendorAccount.select()
        assert account.name == "Acme Dental"
    finally:
        ctx.close()


def _waiting_on_a_lock(store: str) -> int:
    with psycopg2.connect(store) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                       " AND datname = current_database()")  # fmt: skip
        return cursor.fetchone()[0]


@pytest.mark.postgres
def test_two_servers_given_one_alert_make_one_ticket(pg_store: str, monkeypatch) -> None:
    """The same alertId reaches two `msp-tui serve` on one PostgreSQL store while a third
    writer has queued it and not yet committed: both wait, then answer with that one alert
    (a read-then-insert answered 500 IntegrityError), and one ticket is made."""
    monkeypatch.setenv("MSP_TUI_SECRETS", "file")  # the servers read the PSA keys there
    demo, ctx = start_demo(seed=7, companies=40, db=pg_store)
    servers = []
    try:
        share_psa_keys(ctx)
        integration, key = create_push_integration("mailprotector", "billing,alerts", "x")
        board = demo.world.boards[2]
        set_alert_route(integration, Board(board.id, board.name))
        servers = [start_serve(pg_store), start_serve(pg_store)]
        consoles = [MailprotectorConsole(s.url, key, demo.mailprotector_customers)
                    for s in servers]  # fmt: skip
        customer = demo.mailprotector_customers[3]
        writer = psycopg2.connect(pg_store)  # the third writer, its transaction left open

        async def scenario() -> list[dict]:
            await consoles[0].enable()
            account = VendorAccount.get(VendorAccount.external_id == customer.id)
            company = PsaCompany.get(PsaCompany.external_id == next(iter(demo.world.companies)))
            with writing():
                AccountMapping.create(vendor_account=account, psa_company=company,
                                      method="manual", operator="test")  # fmt: skip
            with writer.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO alert (integration_id, account_external_id, vendor_account_id,"
                    " alert_id, message_id, title, description, priority, state, errors,"
                    " attempts, created_at, updated_at) VALUES (%s, %s, %s, 'dup', 'first',"
                    " 'Virus found', '', 2, 'queued', '[]', 0, now(), now())",
                    (integration.id, customer.id, account.id))  # fmt: skip
            sending = [
                asyncio.create_task(c.send_alert(customer.id, "Virus found", alert_id="dup"))
                for c in consoles
            ]
            deadline = time.monotonic() + 20
            while await asyncio.to_thread(_waiting_on_a_lock, pg_store) < 2:
                assert time.monotonic() < deadline, "the servers did not reach the alert row"
                await asyncio.sleep(0.05)  # polling the server's view, with a deadline
            writer.commit()
            return await asyncio.gather(*sending)

        try:
            sent = asyncio.run(scenario())
        finally:
            writer.close()
        assert [answer["messageId"] for answer in sent] == ["first", "first"]
        deadline = time.monotonic() + 60
        while Alert.get().state != "created":
            assert time.monotonic() < deadline, [s.output for s in servers]
            time.sleep(0.2)  # the servers' alert workers, polled with a deadline
        assert len(demo.world.tickets) == 1
    finally:
        for served in servers:
            stop_serve(served)
        ctx.close()
        demo.stop()


@pytest.mark.postgres
def test_serve_survives_its_connections_being_killed(pg_store: str, capsys) -> None:
    """pg_terminate_backend on every connection `msp-tui serve` has (a server restart, an idle
    timeout): the next requests succeed; before, every request answered 500 until a restart."""
    assert main(["--db", pg_store, "integrations", "add", "mailprotector", "--json"]) == 0
    key = json.loads(capsys.readouterr().out)["partner_key"]
    served = start_serve(pg_store)
    try:
        headers = {"GRADIENT-TOKEN": gradient_token(VENDOR_KEY, key)}
        with httpx.Client(base_url=served.api, headers=headers, timeout=10) as api:
            assert api.get("/organization").status_code == 200
            with psycopg2.connect(pg_store) as admin, admin.cursor() as cursor:
                cursor.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
                assert cursor.fetchone()[0] >= 1  # serve's connections are gone
            started = time.monotonic()
            assert api.get("/organization").status_code == 200  # a read: reconnected
            accounts = [{"id": "a1", "name": "Acme", "description": ""}]
            assert api.post("/organization/accounts", json=accounts).status_code == 201  # a write
            assert time.monotonic() - started < 5
    finally:
        stop_serve(served)


@pytest.mark.postgres
def test_a_write_cut_off_before_its_commit_runs_once_more(pg_store: str) -> None:
    """The connection dies inside a unit of work's transaction (pg_terminate_backend from
    another session, between its statements): nothing of it was committed, so it runs again
    on a new connection and lands once."""
    ctx = open_context(pg_store)
    try:
        calls = []

        @unit_of_work
        def rename_twice(name: str) -> None:
            with writing():
                Integration.update(name=f"{name}-half").execute()
                if not calls:  # the first time only: the server drops us mid-transaction
                    pid = ctx.db.execute_sql("SELECT pg_backend_pid()").fetchone()[0]
                    with psycopg2.connect(pg_store) as admin, admin.cursor() as cursor:
                        cursor.execute("SELECT pg_terminate_backend(%s)", (pid,))
                calls.append(name)
                Integration.update(name=name).execute()

        Integration.create(name="mailprotector", vendor="mailprotector", kind="push")
        rename_twice("renamed")
        assert calls == ["renamed", "renamed"]  # the second run is the one that committed
        assert [i.name for i in Integration.select()] == ["renamed"]
    finally:
        ctx.close()
