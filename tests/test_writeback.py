"""Approved changes written to the ConnectWise simulator through the outbox."""

from __future__ import annotations

from decimal import Decimal

import pytest
from recon_world import FAST, cw_faults, demo_external, line_for, sim_quantity

from adapters.sandbox.world import NEW_REVENUE, RECONCILE
from msp_tui.store.models import AuditEvent, Decision, PsaAgreement
from msp_tui.writeback import decide, push_pending


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
