"""Vendor alerts pushed over loopback become tickets in the PSA's simulator, once: the core
cases for ConnectWise (a board), Autotask (a queue) and HaloPSA (a team) alike, the rest on
ConnectWise."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import pytest
from pilot_tools import wait_until
from processes import share_psa_keys, wait_while_running
from recon_world import (
    FAST,
    PsaTicket,
    hold_reply_of_next_write,
    plant_ticket,
    psa_book,
    psa_faults,
    psa_ticket_writes,
    psa_tickets,
)

from adapters.sandbox.mailprotector import MailprotectorConsole
from msp_tui.alerts import NOT_MAPPED, deliver_alerts, external_ref, retry_delay
from msp_tui.app import MspTuiApp
from msp_tui.cli import main
from msp_tui.connect import ConnectError, create_push_integration, psa_boards, set_alert_route
from msp_tui.context import Context
from msp_tui.demo import PSAS, Demo, start_demo
from msp_tui.push.server import BackgroundServer
from msp_tui.secret_store import open_secret_store
from msp_tui.sources import psa_secret_scope
from msp_tui.store.db import store_id
from msp_tui.store.models import (
    AccountMapping,
    Alert,
    AlertRoute,
    Integration,
    PsaCompany,
    PsaConnection,
    VendorAccount,
    utcnow,
)
from screens.alerts import AlertList, AlertsScreen
from screens.home import Card
from serve_process import start_serve, stop_serve


@dataclass
class Alerting:
    demo: Demo
    ctx: Context
    server: BackgroundServer
    integration: Integration
    partner_key: str
    board_id: int  # ConnectWise's service board, Autotask's queue, HaloPSA's team

    def console(self, base_url: str | None = None) -> MailprotectorConsole:
        return MailprotectorConsole(base_url or self.server.base_url, self.partner_key,
                                    self.demo.mailprotector_customers)  # fmt: skip

    @property
    def faults(self):
        return psa_faults(self.demo)

    @property
    def tickets(self) -> list[PsaTicket]:
        return psa_tickets(self.demo)


@contextmanager
def alerting_on(psa: str, demo_db: str | None) -> Iterator[Alerting]:
    """The demo's PSA simulator, a Mailprotector integration with Alerts routed to the PSA's
    "Alerts" board (Autotask: queue; HaloPSA: team), as its adapter lists them, and our Vendor
    API on a free loopback port."""
    demo, ctx = start_demo(seed=7, companies=60, db=demo_db, psa=psa)
    server = BackgroundServer(port=0).start()
    try:
        integration, key = create_push_integration("mailprotector", "billing,alerts",
                                                    server.base_url)  # fmt: skip
        board = next(b for b in asyncio.run(psa_boards(ctx.secrets)) if b.name == "Alerts")
        if psa == "autotask":
            assert board.external_id in dict(psa_book(demo).queues())
        elif psa == "halopsa":
            assert psa_book(demo).active_team(board.external_id)["name"] == "Alerts"
        set_alert_route(integration, board)
        yield Alerting(demo, ctx, server, integration, key, board.external_id)
    finally:
        server.stop()
        ctx.close()
        demo.stop()


@pytest.fixture
def alerting(demo_db: str | None) -> Iterator[Alerting]:
    """Alerting on the ConnectWise simulator."""
    with alerting_on("connectwise", demo_db) as found:
        yield found


@pytest.fixture(params=PSAS, ids=PSAS)
def psa_alerting(request: pytest.FixtureRequest, demo_db: str | None) -> Iterator[Alerting]:
    """Alerting on each PSA's simulator in turn."""
    with alerting_on(request.param, demo_db) as found:
        yield found


def map_account(customer_id: str, company_external_id: int) -> PsaCompany:
    account = VendorAccount.get(VendorAccount.external_id == customer_id)
    company = PsaCompany.get(PsaCompany.external_id == company_external_id)
    AccountMapping.create(vendor_account=account, psa_company=company, method="manual",
                          operator="test")  # fmt: skip
    return company


async def debug(a: Alerting, message_id: str, base_url: str | None = None) -> dict:
    async with a.console(base_url) as console:
        return await console._call("GET", f"/alerting/debug/{message_id}")


async def test_a_pushed_alert_becomes_a_ticket_on_the_board_for_the_mapped_company(
    psa_alerting: Alerting,
) -> None:
    a = psa_alerting
    customer = a.demo.mailprotector_customers[0]
    company_id = next(iter(a.demo.world.companies))
    async with a.console() as console:
        await console.enable()
        map_account(customer.id, company_id)
        sent = await console.send_alert(customer.id, "Outbound spam from jdoe@",
                                        "Mailbox jdoe sent 4,000 messages in an hour.",
                                        alert_id="mp-1001", priority=1)  # fmt: skip
    assert (await debug(a, sent["messageId"]))["status"] == "queued"
    [result] = await deliver_alerts(a.ctx.secrets, FAST)
    assert result.state == "created"
    [ticket] = a.tickets
    assert result.ticket_id == ticket.id and ticket.reference == external_ref(Alert.get())
    assert ticket.board_id == a.board_id and ticket.company_id == company_id
    assert ticket.summary == "Outbound spam from jdoe@"
    assert ticket.description == "Mailbox jdoe sent 4,000 messages in an hour."
    # The vendor's highest priority: ConnectWise's priority 1, Autotask's Critical (4),
    # HaloPSA's priority_id 1 (Critical), the vendor's 1-4 as they are.
    assert ticket.priority == {"connectwise": 1, "autotask": 4, "halopsa": 1}[a.demo.psa]
    report = await debug(a, sent["messageId"])
    assert report["status"] == "created" and report["ticketId"] == ticket.id
    assert report["statusCode"] == 201 and report["errors"] == []


async def test_the_same_alert_id_twice_gives_one_ticket(psa_alerting: Alerting) -> None:
    a = psa_alerting
    customer = a.demo.mailprotector_customers[1]
    async with a.console() as console:
        await console.enable()
        map_account(customer.id, next(iter(a.demo.world.companies)))
        first = await console.send_alert(customer.id, "Quarantine full", alert_id="mp-7")
        await deliver_alerts(a.ctx.secrets, FAST)
        again = await console.send_alert(customer.id, "Quarantine full", alert_id="mp-7")
    assert await deliver_alerts(a.ctx.secrets, FAST) == []  # nothing new to deliver
    assert again["messageId"] == first["messageId"]
    assert len(a.tickets) == 1 and Alert.select().count() == 1


async def test_with_the_psa_down_the_ticket_is_made_once_it_is_back(alerting: Alerting) -> None:
    a = alerting
    customer = a.demo.mailprotector_customers[2]
    async with a.console() as console:
        await console.enable()
        map_account(customer.id, next(iter(a.demo.world.companies)))
        sent = await console.send_alert(customer.id, "Domain DNS check failing", alert_id="x1")
    a.faults.status_500 = 1000  # the PSA is down
    start = utcnow()
    [down] = await deliver_alerts(a.ctx.secrets, FAST, now=start)
    assert down.state == "failed" and "500" in down.message and "next try in 30 s" in down.message
    report = await debug(a, sent["messageId"])
    assert report["status"] == "failed" and report["ticketId"] is None and report["errors"]
    # Backoff: not tried again before its time, then later and later.
    assert await deliver_alerts(a.ctx.secrets, FAST, now=start + timedelta(seconds=10)) == []
    later = start + retry_delay(1)
    [still] = await deliver_alerts(a.ctx.secrets, FAST, now=later)
    assert still.state == "failed" and "next try in 60 s" in still.message
    a.faults.status_500 = 0  # back up
    [back] = await deliver_alerts(a.ctx.secrets, FAST, now=later + retry_delay(2))
    assert back.state == "created"
    assert await deliver_alerts(a.ctx.secrets, FAST, now=later + timedelta(days=1)) == []
    assert len(a.tickets) == 1
    assert (await debug(a, sent["messageId"]))["status"] == "created"


async def test_a_ticket_whose_reply_was_lost_is_found_not_made_again(
    psa_alerting: Alerting,
) -> None:
    a = psa_alerting
    customer = a.demo.mailprotector_customers[3]
    company_id = next(iter(a.demo.world.companies))
    async with a.console() as console:
        await console.enable()
        map_account(customer.id, company_id)
        await console.send_alert(customer.id, "Virus outbreak", alert_id="v9")
    # A worker POSTed the ticket and died before storing its id: the PSA has it, we do not.
    alert = Alert.get()
    Alert.update(attempts=1).where(Alert.id == alert.id).execute()
    plant_ticket(a.demo, 99001, "Virus outbreak", a.board_id, company_id, external_ref(alert))
    a.faults.log.clear()
    [result] = await deliver_alerts(a.ctx.secrets, FAST)
    assert result.state == "created" and result.ticket_id == 99001
    assert psa_ticket_writes(a.demo) == []
    assert [t.id for t in a.tickets] == [99001] and Alert.get().ticket_id == 99001


async def test_a_worker_killed_after_its_ticket_was_made_does_not_make_it_again(
    psa_alerting: Alerting,
) -> None:
    """A real `msp-tui alerts retry` process, SIGKILLed after the PSA made the ticket and
    before the worker heard back: the restarted worker finds the ticket by its reference
    (ConnectWise's externalXRef, the reference line of Autotask's description, HaloPSA's
    third_party_id_string)."""
    a = psa_alerting
    share_psa_keys(a.ctx)
    customer = a.demo.mailprotector_customers[2]
    async with a.console() as console:
        await console.enable()
        map_account(customer.id, next(iter(a.demo.world.companies)))
        await console.send_alert(customer.id, "Outbound spam", alert_id="o1")
    db = str(a.demo.store)
    a.faults.log.clear()
    hold_reply_of_next_write(a.demo)  # the ticket is made, the reply held
    worker = alerts_retry(db)
    await asyncio.to_thread(wait_while_running, worker, lambda: a.faults.replies_held)
    [made] = a.tickets
    worker.kill()
    await asyncio.to_thread(worker.wait, 10)
    a.faults.release_hangs()
    assert Alert.get().state == "queued" and Alert.get().ticket_id is None

    a.faults.reset()
    again = alerts_retry(db)
    out, _ = await asyncio.to_thread(again.communicate, None, 60)
    assert again.returncode == 0, out
    assert f"created: ticket {made.id} (found: it was made before)" in out, out
    assert psa_ticket_writes(a.demo) == []  # found, not made again
    assert len(a.tickets) == 1 and Alert.get().ticket_id == made.id


def alerts_retry(db: str) -> subprocess.Popen:
    env = {**os.environ, "MSP_TUI_SECRETS": "file"}
    return subprocess.Popen([sys.executable, "-m", "msp_tui", "--db", db, "alerts", "retry"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)  # fmt: skip


async def test_an_unmapped_accounts_alert_fails_then_is_made_after_mapping(
    alerting: Alerting,
) -> None:
    a = alerting
    customer = a.demo.mailprotector_customers[4]
    async with a.console() as console:
        await console.enable()
        sent = await console.send_alert(customer.id, "Spam wave", alert_id="s1")
    [held] = await deliver_alerts(a.ctx.secrets, FAST)
    assert held.state == "failed" and held.message == NOT_MAPPED
    report = await debug(a, sent["messageId"])
    assert report["status"] == "failed" and report["errors"] == [NOT_MAPPED]
    [again] = await deliver_alerts(a.ctx.secrets, FAST)  # held, nothing new to record
    assert again.state == "failed" and not again.news and Alert.get().errors == [NOT_MAPPED]
    assert a.tickets == []
    company = map_account(customer.id, next(iter(a.demo.world.companies)))
    [made] = await deliver_alerts(a.ctx.secrets, FAST)
    assert made.state == "created"
    [ticket] = a.tickets
    assert ticket.company_id == company.external_id
    assert (await debug(a, sent["messageId"]))["status"] == "created"


async def test_msp_tui_serve_makes_pushed_alerts_tickets_by_itself(
    alerting: Alerting, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real server process: its alert worker runs beside the Vendor API."""
    a = alerting
    monkeypatch.setenv("MSP_TUI_SECRETS", "file")  # the subprocess reads the PSA keys there
    scope = psa_secret_scope(PsaConnection.get())
    files = open_secret_store(store_id(), "file")
    for name in ("public_key", "private_key"):
        files.set(scope, name, a.ctx.secrets.get(scope, name))
    customer = a.demo.mailprotector_customers[5]
    company_id = next(iter(a.demo.world.companies))
    served = start_serve(a.demo.store)
    try:
        async with a.console(served.url) as console:
            await console.enable()
            map_account(customer.id, company_id)
            sent = await console.send_alert(customer.id, "Mailbox over quota", alert_id="q1")
        deadline = time.monotonic() + 30
        report = await debug(a, sent["messageId"], served.url)
        while report["status"] != "created":
            assert time.monotonic() < deadline, (report, served.output)
            await asyncio.sleep(0.2)  # polling its debug endpoint, bounded by the deadline
            report = await debug(a, sent["messageId"], served.url)
    finally:
        stop_serve(served)
    [ticket] = a.tickets
    assert report["ticketId"] == ticket.id and ticket.company_id == company_id
    assert os.environ["MSP_TUI_SECRETS"] == "file"
    assert a.partner_key not in "".join(served.output)


async def test_the_alerts_screen_shows_a_failed_alert_and_retries_it(alerting: Alerting) -> None:
    a = alerting
    customer = a.demo.mailprotector_customers[6]
    async with a.console() as console:
        await console.enable()
        await console.send_alert(customer.id, "Spoofing attempt", alert_id="sp1")
    app = MspTuiApp(a.ctx, serve_port=0, demo=a.demo)
    app.adapter_options = FAST
    app.ALERT_POLL_S = 0.2
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: Alert.get().state == "failed")
        await pilot.press("r")
        cards = {c.card.key: c.card for c in app.screen.query(Card)}
        assert cards["alerts"].status == "error" and "1 failed" in cards["alerts"].lines[0]
        assert "1 failed alerts" in cards["mailprotector"].lines[-1]
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, AlertsScreen))
        screen = app.screen
        [row] = screen.query_one(AlertList).rows
        assert row.state == "failed"
        detail = str(screen.query_one("#alert-detail").content)
        board = AlertRoute.get().board_name
        assert NOT_MAPPED in detail
        assert f"{customer.name} ({customer.id})" in detail  # the account's name, not its id
        assert f"goes to no PSA company (map the account) on the board {board}" in detail
        company = map_account(customer.id, next(iter(a.demo.world.companies)))
        rounds = app.alert_rounds
        await pilot.press("t")
        await wait_until(pilot, lambda: app.alert_rounds > rounds and Alert.get().ticket_id)
        await wait_until(pilot, lambda: screen.query_one(AlertList).rows[0].state == "created")
        [ticket] = a.tickets
        assert ticket.company_id == company.external_id and ticket.board_id == a.board_id
        # The detail names where the ticket went: the company and the board.
        detail = str(screen.query_one("#alert-detail").content)
        assert f"Ticket #{ticket.id} for {company.name} on the board {board}." in detail
        assert (Alert.get().ticket_company, Alert.get().ticket_board) == (company.name, board)


async def test_alerts_list_and_retry_from_the_command_line(alerting: Alerting, capsys) -> None:
    a = alerting
    customer = a.demo.mailprotector_customers[7]
    async with a.console() as console:
        await console.enable()
        await console.send_alert(customer.id, "Archive export ready", alert_id="ar1")
    db = str(a.demo.store)
    await deliver_alerts(a.ctx.secrets, FAST)
    assert main(["--db", db, "alerts", "list", "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["state"] == "failed" and row["error"] == NOT_MAPPED and row["alert_id"] == "ar1"
    map_account(customer.id, next(iter(a.demo.world.companies)))
    # In this process the CLI finds the demo's PSA keys in the same in-memory secret store.
    code = await asyncio.to_thread(main, ["--db", db, "alerts", "retry"])
    out = capsys.readouterr().out
    assert code == 0 and "created: ticket" in out, out
    assert main(["--db", db, "alerts", "list", "--state", "created"]) == 0
    assert "ticket #" in capsys.readouterr().out and len(a.tickets) == 1


async def test_missing_psa_permissions_are_named(alerting: Alerting) -> None:
    a = alerting
    a.faults.forbidden = 1  # the API member may not read service boards
    with pytest.raises(ConnectError, match="Service Boards: Inquire"):
        await psa_boards(a.ctx.secrets)
    assert [b.external_id for b in await psa_boards(a.ctx.secrets)]  # allowed again: listed
    customer = a.demo.mailprotector_customers[8]
    async with a.console() as console:
        await console.enable()
        map_account(customer.id, next(iter(a.demo.world.companies)))
        await console.send_alert(customer.id, "Blocked sender", alert_id="b1")
    a.faults.forbidden = 1  # ... nor add tickets
    [result] = await deliver_alerts(a.ctx.secrets, FAST)
    assert result.state == "failed" and "403" in result.message
    assert "Service Tickets: Add" in Alert.get().errors[-1] and a.tickets == []
