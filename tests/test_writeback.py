"""Approved changes written to the ConnectWise simulator through the outbox."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from processes import share_psa_keys, wait_while_running
from recon_world import FAST, cw_faults, demo_external, line_for, sim_quantity

from adapters.sandbox.world import NEW_REVENUE, RECONCILE
from msp_tui.cli import main
from msp_tui.logs import log_path
from msp_tui.store.models import AuditEvent, Decision, PsaAgreement
from msp_tui.writeback import OutboxBusy, decide, outbox_lock, push_pending


async def test_approve_sends_the_right_patch(mapped) -> None:
    demo, ctx = mapped
    line = line_for(demo, RECONCILE)
    assert line.vendor_quantity != line.psa_quantity
    decide(line, "approve", "tester")
    cw_faults(demo).log.clear()
    [result] = await push_pending(ctx.secrets, "tester")
    assert result.state == "pushed"
    assert sim_quantity(demo, line) == float(line.vendor_quantity)
    patches = [p for m, p in cw_faults(demo).log if m == "PATCH"]
    assert len(patches) == 1 and patches[0].endswith(f"/additions/{demo_external(line)}")
    assert AuditEvent.select().where(AuditEvent.action == "push.pushed").count() == 1


async def test_a_restarted_worker_pushes_exactly_once(mapped) -> None:
    demo, ctx = mapped
    line = line_for(demo, RECONCILE)
    decide(line, "approve", "tester")
    # The worker died after the decision was stored and before it pushed: a new one starts.
    cw_faults(demo).log.clear()
    first = await push_pending(ctx.secrets, "tester")
    again = await push_pending(ctx.secrets, "tester")  # and a second restart finds nothing
    assert [r.state for r in first] == ["pushed"] and again == []
    assert len([p for m, p in cw_faults(demo).log if m == "PATCH"]) == 1
    # The worker died after its PATCH landed but before it marked the decision pushed.
    other = line_for(demo, RECONCILE)
    decision = decide(other, "approve", "tester")
    demo.world.additions[demo_external(other)].quantity = float(other.vendor_quantity)
    cw_faults(demo).log.clear()
    [result] = await push_pending(ctx.secrets, "tester")
    assert result.state == "pushed" and "already" in result.message
    assert [p for m, p in cw_faults(demo).log if m == "PATCH"] == []
    assert Decision.get_by_id(decision.id).state == "pushed"


async def test_a_quantity_changed_in_the_psa_is_a_conflict(mapped) -> None:
    demo, ctx = mapped
    line = line_for(demo, RECONCILE)
    decision = decide(line, "approve", "tester")
    demo.world.additions[demo_external(line)].quantity = 999.0  # someone edited the agreement
    cw_faults(demo).log.clear()
    [result] = await push_pending(ctx.secrets, "tester")
    assert result.state == "conflict"
    stored = Decision.get_by_id(decision.id)
    assert (
        stored.conflict_quantity == Decimal(999) and stored.psa_quantity_seen == line.psa_quantity
    )
    assert sim_quantity(demo, line) == 999.0
    assert [p for m, p in cw_faults(demo).log if m == "PATCH"] == []


@pytest.mark.parametrize("fault", ["status_500", "rate_limit_429"])
async def test_psa_errors_are_retried_then_fail_with_a_message(mapped, fault: str) -> None:
    demo, ctx = mapped
    line = line_for(demo, RECONCILE)
    decision = decide(line, "approve", "tester")
    cw_faults(demo).retry_after_s = 0
    setattr(cw_faults(demo), fault, 1)  # one error: retried, then it goes through
    [ok] = await push_pending(ctx.secrets, "tester", FAST)
    assert ok.state == "pushed"
    other = line_for(demo, RECONCILE)
    decision = decide(other, "approve", "tester")
    setattr(cw_faults(demo), fault, 50)  # it keeps failing
    [failed] = await push_pending(ctx.secrets, "tester", FAST)
    stored = Decision.get_by_id(decision.id)
    assert failed.state == stored.state == "failed" and stored.last_error
    assert "500" in stored.last_error or "429" in stored.last_error
    setattr(cw_faults(demo), fault, 0)  # nothing lost: the next run pushes it
    [later] = await push_pending(ctx.secrets, "tester", FAST)
    assert later.state == "pushed" and sim_quantity(demo, other) == float(other.vendor_quantity)


async def test_new_revenue_adds_a_line_once(mapped) -> None:
    demo, ctx = mapped
    line = line_for(demo, NEW_REVENUE)
    agreement = (
        PsaAgreement.select()
        .where((PsaAgreement.company == line.company_id) & ~PsaAgreement.cancelled)
        .first()
    )
    if agreement is None:
        pytest.skip("this company has no active agreement in the seeded world")
    decide(line, "approve", "tester", agreement=agreement)
    [result] = await push_pending(ctx.secrets, "tester")
    assert result.state == "pushed"
    added = [a for a in demo.world.agreement_additions(agreement.external_id)
             if a.quantity == float(line.vendor_quantity)]  # fmt: skip
    assert added


def outbox_push(db: Path) -> subprocess.Popen:
    env = {**os.environ, "MSP_TUI_SECRETS": "file"}
    return subprocess.Popen([sys.executable, "-m", "msp_tui", "--db", str(db), "outbox", "push"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)  # fmt: skip


def approved_for_a_worker(mapped):
    """An approved decision for an `outbox push` subprocess to write: the store's path, the
    line, the decision and the ConnectWise simulator's faults (its log cleared)."""
    demo, ctx = mapped
    share_psa_keys(ctx)  # the subprocess reads the PSA keys from the file store, as cron would
    line = line_for(demo, RECONCILE)
    decision = decide(line, "approve", "tester")
    faults = cw_faults(demo)
    faults.log.clear()
    return demo.store, line, decision, faults


def test_a_killed_worker_process_restarted_pushes_exactly_once(mapped) -> None:
    """A real `msp-tui outbox push` process, killed with SIGKILL while its PSA call hangs."""
    demo, _ = mapped
    db, line, decision, faults = approved_for_a_worker(mapped)
    faults.hang = 1  # the worker's first PSA call never answers
    worker = outbox_push(db)
    wait_while_running(worker, lambda: faults.in_flight)
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
    assert len([p for m, p in faults.log if m == "PATCH"]) == 1
    assert Decision.get_by_id(decision.id).state == "pushed"
    third = outbox_push(db)  # a third run finds nothing left to write
    out, _ = third.communicate(timeout=60)
    assert third.returncode == 0 and "nothing to write" in out, out
    assert len([p for m, p in faults.log if m == "PATCH"]) == 1


def test_a_worker_killed_after_its_patch_landed_does_not_write_it_again(mapped) -> None:
    """SIGKILL after ConnectWise carried the PATCH out and before the worker heard back: the
    PSA holds the new quantity, the store still says pending. A restarted worker re-reads the
    line, sees the target there and only marks it pushed."""
    demo, _ = mapped
    db, line, decision, faults = approved_for_a_worker(mapped)
    faults.hang_after_write = 1  # the PATCH is applied, its reply held
    worker = outbox_push(db)
    wait_while_running(worker, lambda: faults.replies_held)
    assert sim_quantity(demo, line) == float(line.vendor_quantity)  # the write landed
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
    assert [p for m, p in faults.log if m == "PATCH"] == []  # not written a second time
    assert sim_quantity(demo, line) == float(line.vendor_quantity)
    assert Decision.get_by_id(decision.id).state == "pushed"


async def test_one_outbox_writer_at_a_time(mapped) -> None:
    demo, ctx = mapped
    decision = decide(line_for(demo, RECONCILE), "approve", "tester")
    with outbox_lock() as held:  # as another process's worker would hold it
        assert held
        with pytest.raises(OutboxBusy, match="another msp-tui is writing"):
            await push_pending(ctx.secrets, "tester")
    assert Decision.get_by_id(decision.id).state == "pending"
    [result] = await push_pending(ctx.secrets, "tester")  # the lock is free again
    assert result.state == "pushed"


async def test_outbox_list_shows_what_waits_and_why(mapped, capsys) -> None:
    demo, ctx = mapped
    line = line_for(demo, RECONCILE)
    decision = decide(line, "approve", "tester")
    demo.world.additions[demo_external(line)].quantity = 999.0
    await push_pending(ctx.secrets, "tester")  # a conflict
    db = str(demo.store)
    assert main(["--db", db, "outbox", "list", "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["id"] == decision.id and row["state"] == "conflict"
    assert row["conflict_quantity"] == 999 and row["psa_quantity_seen"] == int(line.psa_quantity)
    assert main(["--db", db, "outbox", "list"]) == 0
    out = capsys.readouterr().out
    assert f"#{decision.id} conflict" in out and "nothing was written" in out
