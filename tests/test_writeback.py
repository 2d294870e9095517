"""Approved and adjusted changes written through the outbox to the PSA's simulator, once for
each PSA: ConnectWise (a PATCH of the agreement addition), Autotask (a POSTed
ContractServiceAdjustment, a change of units from a date) and HaloPSA (the recurring invoice
POSTed whole, every line, since the lines it leaves out are deleted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from processes import share_psa_keys, wait_while_running
from recon_world import (
    FAST,
    added_lines,
    demo_external,
    edit_in_psa,
    hold_reply_of_next_write,
    line_for,
    psa_book,
    psa_faults,
    psa_writes,
    sim_quantity,
)

from adapters.sandbox.autotask_book import month_end, parse_day
from adapters.sandbox.world import NEW_REVENUE, RECONCILE
from msp_tui.cli import main
from msp_tui.logs import log_path
from msp_tui.store.db import writing
from msp_tui.store.models import AuditEvent, Decision, PsaAgreement, PsaAgreementLine, PsaProduct
from msp_tui.writeback import OutboxBusy, agreement_choices, decide, outbox_lock, push_pending


def where(line) -> tuple[int, int]:
    """The PSA's ids of the line's agreement and product (Autotask: contractID, serviceID)."""
    row = PsaAgreementLine.get_by_id(line.line_ids[0])
    agreement = PsaAgreement.get_by_id(row.agreement_id)
    return agreement.external_id, PsaProduct.get_by_id(line.product_id).external_id


Lines = dict[int, tuple[int, float, float]]


def invoice_lines(demo, invoice_id: int) -> Lines:
    """HaloPSA: the recurring invoice's lines, in order: id -> (item, quantity, unit price)."""
    invoice = psa_book(demo).invoice(invoice_id)
    assert invoice is not None, invoice_id
    return {line["id"]: (line["_itemid"], line["qty_order"], line["unit_price"])
            for line in invoice["lines"]}  # fmt: skip


def invoice_before_write(demo, line) -> tuple[int, Lines]:
    """HaloPSA: the (negative) id of the line's recurring invoice and its lines, before a write;
    the line has others beside it there, so a write that sent only it would delete them."""
    invoice_id, _ = where(line)
    before = invoice_lines(demo, invoice_id)
    assert invoice_id < 0 and len(before) > 1 and demo_external(line) in before
    return invoice_id, before


def assert_written_whole(demo, invoice_id: int, before: Lines, line_id: int, qty: float) -> None:
    """HaloPSA got one POST of the whole invoice, every line in it, the line at `qty`; the
    invoice kept all its other lines as they were."""
    [[posted]] = psa_book(demo).posts
    assert set(posted) == {"id", "lines"} and posted["id"] == invoice_id
    assert [sent["id"] for sent in posted["lines"]] == list(before)
    assert {sent["id"]: sent["qty_order"] for sent in posted["lines"]} == {
        lid: (qty if lid == line_id else held) for lid, (_, held, _) in before.items()
    }
    item, _, price = before[line_id]
    assert invoice_lines(demo, invoice_id) == {**before, line_id: (item, qty, price)}


def reply_lost(decision: Decision) -> None:
    """The worker wrote the decision and died before it stored that: it waits again."""
    with writing():
        Decision.update(state="pending", pushed_at=None).where(Decision.id == decision.id).execute()


async def test_approve_writes_the_change_once(psa_mapped) -> None:
    demo, ctx = psa_mapped
    line = line_for(demo, RECONCILE)
    assert line.vendor_quantity != line.psa_quantity
    assert sim_quantity(demo, line) == float(line.psa_quantity)
    decide(line, "approve", "tester")
    if demo.psa == "halopsa":
        invoice_id, before = invoice_before_write(demo, line)
    psa_faults(demo).log.clear()
    [result] = await push_pending(ctx.secrets, "tester")
    assert result.state == "pushed"
    assert sim_quantity(demo, line) == float(line.vendor_quantity)
    [write] = psa_writes(demo)
    if demo.psa == "connectwise":
        assert write.endswith(f"/additions/{demo_external(line)}")
    elif demo.psa == "halopsa":
        assert write == "/api/RecurringInvoice"
        target = float(line.vendor_quantity)
        assert_written_whole(demo, invoice_id, before, demo_external(line), target)
    else:
        [adjustment] = psa_book(demo).adjustments
        contract, service = where(line)
        assert adjustment["unitChange"] == int(line.vendor_quantity - line.psa_quantity)
        assert (adjustment["contractID"], adjustment["serviceID"]) == (contract, service)
    assert AuditEvent.select().where(AuditEvent.action == "push.pushed").count() == 1


async def test_a_restarted_worker_pushes_exactly_once(psa_mapped) -> None:
    demo, ctx = psa_mapped
    line = line_for(demo, RECONCILE)
    decide(line, "approve", "tester")
    # The worker died after the decision was stored and before it pushed: a new one starts.
    psa_faults(demo).log.clear()
    first = await push_pending(ctx.secrets, "tester")
    again = await push_pending(ctx.secrets, "tester")  # and a second restart finds nothing
    assert [r.state for r in first] == ["pushed"] and again == []
    assert len(psa_writes(demo)) == 1
    # The worker died after its write landed but before it marked the decision pushed.
    other = line_for(demo, RECONCILE)
    assert other.key != line.key
    decision = decide(other, "approve", "tester")
    edit_in_psa(demo, other, int(other.vendor_quantity))
    psa_faults(demo).log.clear()
    [result] = await push_pending(ctx.secrets, "tester")
    assert result.state == "pushed" and "already" in result.message
    assert psa_writes(demo) == []
    assert Decision.get_by_id(decision.id).state == "pushed"
    assert sim_quantity(demo, other) == float(other.vendor_quantity)


async def test_a_quantity_changed_in_the_psa_is_a_conflict(psa_mapped) -> None:
    demo, ctx = psa_mapped
    line = line_for(demo, RECONCILE)
    decision = decide(line, "approve", "tester")
    edit_in_psa(demo, line, 999)  # someone edited the agreement line
    psa_faults(demo).log.clear()
    [result] = await push_pending(ctx.secrets, "tester")
    assert result.state == "conflict"
    stored = Decision.get_by_id(decision.id)
    assert (
        stored.conflict_quantity == Decimal(999) and stored.psa_quantity_seen == line.psa_quantity
    )
    assert sim_quantity(demo, line) == 999.0
    assert psa_writes(demo) == []


@pytest.mark.parametrize("fault", ["status_500", "rate_limit_429"])
async def test_psa_errors_are_retried_then_fail_with_a_message(psa_mapped, fault: str) -> None:
    demo, ctx = psa_mapped
    faults = psa_faults(demo)
    line = line_for(demo, RECONCILE)
    decision = decide(line, "approve", "tester")
    faults.retry_after_s = 0
    setattr(faults, fault, 1)  # one error: retried, then it goes through
    [ok] = await push_pending(ctx.secrets, "tester", FAST)
    assert ok.state == "pushed" and sim_quantity(demo, line) == float(line.vendor_quantity)
    other = line_for(demo, RECONCILE)
    decision = decide(other, "approve", "tester")
    setattr(faults, fault, 50)  # it keeps failing
    [failed] = await push_pending(ctx.secrets, "tester", FAST)
    stored = Decision.get_by_id(decision.id)
    assert failed.state == stored.state == "failed" and stored.last_error
    assert "500" in stored.last_error or "429" in stored.last_error
    assert sim_quantity(demo, other) == float(other.psa_quantity)
    setattr(faults, fault, 0)  # nothing lost: the next run pushes it
    faults.log.clear()
    [later] = await push_pending(ctx.secrets, "tester", FAST)
    assert later.state == "pushed" and sim_quantity(demo, other) == float(other.vendor_quantity)
    assert len(psa_writes(demo)) == 1


async def test_new_revenue_adds_a_line_once(psa_mapped) -> None:
    demo, ctx = psa_mapped
    line = line_for(demo, NEW_REVENUE)
    assert line.line_ids == [] and line.vendor_quantity
    agreement = agreement_choices(line.company_id)[0]
    product = PsaProduct.get_by_id(line.product_id).external_id
    assert added_lines(demo, agreement.external_id, product) == []
    if demo.psa == "halopsa":
        before = invoice_lines(demo, agreement.external_id)
        assert agreement.external_id < 0 and before
    decision = decide(line, "approve", "tester", agreement=agreement)
    psa_faults(demo).log.clear()
    [result] = await push_pending(ctx.secrets, "tester")
    assert result.state == "pushed"
    assert added_lines(demo, agreement.external_id, product) == [float(line.vendor_quantity)]
    reply_lost(decision)  # pushed again: the line is found, not added a second time
    [again] = await push_pending(ctx.secrets, "tester")
    assert again.state == "pushed" and "already added" in again.message
    assert added_lines(demo, agreement.external_id, product) == [float(line.vendor_quantity)]
    assert len(psa_writes(demo)) == 1
    if demo.psa == "autotask":  # an adjustment for a service not on the contract adds it
        [adjustment] = psa_book(demo).adjustments
        assert adjustment["unitChange"] == int(line.vendor_quantity)
        assert (adjustment["contractID"], adjustment["serviceID"]) == (
            agreement.external_id,
            product,
        )
    if demo.psa == "halopsa":  # the invoice posted whole: its lines, then the new one
        [[posted]] = psa_book(demo).posts
        *kept, new = posted["lines"]
        assert posted["id"] == agreement.external_id
        assert [sent["id"] for sent in kept] == list(before) and "id" not in new
        assert (new["_itemid"], new["qty_order"]) == (product, float(line.vendor_quantity))
        after = invoice_lines(demo, agreement.external_id)
        [added] = set(after) - set(before)
        item, quantity, _ = after.pop(added)
        assert (item, quantity) == (product, float(line.vendor_quantity)) and after == before


async def test_adjust_writes_the_operators_quantity_from_its_date(psa_mapped) -> None:
    demo, ctx = psa_mapped
    line = line_for(demo, RECONCILE)
    today = demo.world.today
    first_of_month = today.replace(day=1)
    quantity = int(line.psa_quantity) + 7
    decide(line, "adjust", "tester", quantity=Decimal(quantity), effective_date=first_of_month)
    if demo.psa == "halopsa":
        invoice_id, before = invoice_before_write(demo, line)
    psa_faults(demo).log.clear()
    [result] = await push_pending(ctx.secrets, "tester")
    assert result.state == "pushed"
    assert len(psa_writes(demo)) == 1
    assert sim_quantity(demo, line) == quantity
    if demo.psa == "autotask":
        [adjustment] = psa_book(demo).adjustments
        assert parse_day(adjustment["effectiveDate"]) == first_of_month
        assert adjustment["unitChange"] == 7
        assert (adjustment["contractID"], adjustment["serviceID"]) == where(line)
        for day in (first_of_month, today, month_end(today), month_end(today) + timedelta(1)):
            assert sim_quantity(demo, line, day) == quantity, day  # from that day on
    elif demo.psa == "halopsa":  # Halo's invoice lines carry no date: the quantity, at once
        assert_written_whole(demo, invoice_id, before, demo_external(line), quantity)


async def test_a_future_effective_date_is_re_read_as_of_that_date(psa_mapped) -> None:
    """The change starts next month: the re-read before the write is done as of that date, so a
    push whose reply was lost finds it there and does not write it again."""
    demo, ctx = psa_mapped
    line = line_for(demo, RECONCILE)
    start = month_end(demo.world.today) + timedelta(days=1)
    quantity = int(line.psa_quantity) + 5
    decision = decide(line, "adjust", "tester", quantity=Decimal(quantity), effective_date=start)
    psa_faults(demo).log.clear()
    [first] = await push_pending(ctx.secrets, "tester")
    assert first.state == "pushed"
    reply_lost(decision)
    [again] = await push_pending(ctx.secrets, "tester")
    assert again.state == "pushed" and "already" in again.message
    assert len(psa_writes(demo)) == 1
    assert sim_quantity(demo, line, start) == quantity
    if demo.psa == "autotask":  # this month keeps its units; the change is next month's
        assert sim_quantity(demo, line) == float(line.psa_quantity)
        [adjustment] = psa_book(demo).adjustments
        assert parse_day(adjustment["effectiveDate"]) == start
        assert adjustment["unitChange"] == 5


def outbox_push(db: Path) -> subprocess.Popen:
    env = {**os.environ, "MSP_TUI_SECRETS": "file"}
    return subprocess.Popen([sys.executable, "-m", "msp_tui", "--db", str(db), "outbox", "push"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)  # fmt: skip


def approved_for_a_worker(mapped):
    """An approved decision for an `outbox push` subprocess to write: the store's path, the
    line, the decision and the PSA simulator's faults (its log cleared)."""
    demo, ctx = mapped
    share_psa_keys(ctx)  # the subprocess reads the PSA keys from the file store, as cron would
    line = line_for(demo, RECONCILE)
    decision = decide(line, "approve", "tester")
    faults = psa_faults(demo)
    faults.log.clear()
    return demo.store, line, decision, faults


def test_a_killed_worker_process_restarted_pushes_exactly_once(psa_mapped) -> None:
    """A real `msp-tui outbox push` process, killed with SIGKILL while its PSA call hangs."""
    demo, _ = psa_mapped
    db, line, decision, faults = approved_for_a_worker(psa_mapped)
    if demo.psa == "halopsa":
        invoice_id, before = invoice_before_write(demo, line)
    faults.hang = 1  # the worker's first PSA call (HaloPSA: its token request) never answers
    worker = outbox_push(db)
    wait_while_running(worker, lambda: faults.in_flight > 0)
    worker.kill()  # SIGKILL: no cleanup runs, the lock and the connection die with it
    worker.wait(timeout=10)
    faults.release_hangs()
    assert Decision.get_by_id(decision.id).state == "pending"
    assert sim_quantity(demo, line) == float(line.psa_quantity)  # nothing was written

    faults.reset()
    again = outbox_push(db)
    out, _ = again.communicate(timeout=60)
    assert again.returncode == 0, out
    assert f"#{decision.id} pushed" in out
    assert sim_quantity(demo, line) == float(line.vendor_quantity)
    assert len(psa_writes(demo)) == 1
    assert Decision.get_by_id(decision.id).state == "pushed"
    third = outbox_push(db)  # a third run finds nothing left to write
    out, _ = third.communicate(timeout=60)
    assert third.returncode == 0 and "nothing to write" in out, out
    assert len(psa_writes(demo)) == 1
    if demo.psa == "halopsa":
        target = float(line.vendor_quantity)
        assert_written_whole(demo, invoice_id, before, demo_external(line), target)


def test_a_worker_killed_after_its_write_landed_does_not_write_it_again(psa_mapped) -> None:
    """SIGKILL after the PSA carried the write out (ConnectWise's PATCH, Autotask's adjustment,
    HaloPSA's POST of the invoice) and before the worker heard back: the PSA holds the new
    quantity, the store still says pending. A restarted worker re-reads the line, sees the
    target there and only marks it pushed."""
    demo, _ = psa_mapped
    db, line, decision, faults = approved_for_a_worker(psa_mapped)
    if demo.psa == "halopsa":
        invoice_id, before = invoice_before_write(demo, line)
    hold_reply_of_next_write(demo)  # the write is applied, its reply held
    worker = outbox_push(db)
    wait_while_running(worker, lambda: faults.replies_held)
    assert sim_quantity(demo, line) == float(line.vendor_quantity)  # the write landed
    assert len(psa_writes(demo)) == 1
    worker.kill()
    worker.wait(timeout=10)
    faults.release_hangs()
    assert Decision.get_by_id(decision.id).state == "pending"  # the reply was never stored

    faults.reset()
    again = outbox_push(db)
    out, _ = again.communicate(timeout=60)
    assert again.returncode == 0, out
    assert f"#{decision.id} pushed" in out and "already" in out, out
    assert f"PSA write of decision #{decision.id} (approve" in log_path().read_text()  # B12
    assert psa_writes(demo) == []  # not written a second time
    assert sim_quantity(demo, line) == float(line.vendor_quantity)
    assert Decision.get_by_id(decision.id).state == "pushed"
    if demo.psa == "autotask":
        assert len(psa_book(demo).adjustments) == 1
    elif demo.psa == "halopsa":  # one POST, every line kept
        target = float(line.vendor_quantity)
        assert_written_whole(demo, invoice_id, before, demo_external(line), target)


async def test_one_outbox_writer_at_a_time(psa_mapped) -> None:
    demo, ctx = psa_mapped
    line = line_for(demo, RECONCILE)
    decision = decide(line, "approve", "tester")
    with outbox_lock() as held:  # as another process's worker would hold it
        assert held
        with pytest.raises(OutboxBusy, match="another msp-tui is writing"):
            await push_pending(ctx.secrets, "tester")
    assert Decision.get_by_id(decision.id).state == "pending"
    assert sim_quantity(demo, line) == float(line.psa_quantity)
    [result] = await push_pending(ctx.secrets, "tester")  # the lock is free again
    assert result.state == "pushed" and sim_quantity(demo, line) == float(line.vendor_quantity)


async def test_outbox_list_shows_what_waits_and_why(psa_mapped, capsys) -> None:
    demo, ctx = psa_mapped
    line = line_for(demo, RECONCILE)
    decision = decide(line, "approve", "tester")
    edit_in_psa(demo, line, 999)
    await push_pending(ctx.secrets, "tester")  # a conflict
    db = str(demo.store)
    assert main(["--db", db, "outbox", "list", "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["id"] == decision.id and row["state"] == "conflict"
    assert row["conflict_quantity"] == 999 and row["psa_quantity_seen"] == int(line.psa_quantity)
    assert main(["--db", db, "outbox", "list"]) == 0
    out = capsys.readouterr().out
    assert f"#{decision.id} conflict" in out and "nothing was written" in out
