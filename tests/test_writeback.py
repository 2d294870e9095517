"""Approved changes written to the ConnectWise simulator through the outbox."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from adapters.http import RetryPolicy
from adapters.sandbox.world import NEW_REVENUE, RECONCILE
from msp_tui.context import Context
from msp_tui.demo import Demo, start_demo
from msp_tui.reconcile import reconciliation_lines
from msp_tui.store.models import (
    AccountMapping,
    AuditEvent,
    Decision,
    Integration,
    PsaAgreement,
    PsaCompany,
    PsaProduct,
    ServiceMapping,
    VendorAccount,
    VendorService,
)
from msp_tui.sync import sync_pull
from msp_tui.writeback import decide, push_pending

FAST = {"retry": RetryPolicy(attempts=2, rate_limited_attempts=2, base_delay=0.01, max_delay=0.02)}


@pytest.fixture
def mapped() -> Iterator[tuple[Demo, Context]]:
    """The demo world with SpamTitan synced and mapped by the simulator's ground truth."""
    demo, ctx = start_demo(seed=7, companies=120)
    world = demo.world
    integration = Integration.create(name="spamtitan", vendor="spamtitan", kind="pull",
                                     config={"url": demo.spamtitan_url})  # fmt: skip
    ctx.secrets.set("spamtitan", "api_key", demo.spamtitan_key)
    import asyncio

    assert asyncio.run(sync_pull(integration, ctx.secrets, mode="full")).ok
    for group_id, company_id in world.truth.items():
        if company_id is None:
            continue
        account = VendorAccount.get(VendorAccount.external_id == str(group_id))
        company = PsaCompany.get(PsaCompany.external_id == company_id)
        AccountMapping.create(vendor_account=account, psa_company=company, method="manual",
                              operator="test")  # fmt: skip
    product = PsaProduct.get(PsaProduct.identifier == "ST-TOTAL-LIC")
    ServiceMapping.create(vendor_service=VendorService.get(), psa_product=product, operator="test")
    yield demo, ctx
    ctx.close()
    demo.stop()


def line_for(demo: Demo, situation: str):
    world = demo.world
    companies = {world.truth[g] for g, s in world.situations.items() if s == situation}
    lines = [
        line for line in reconciliation_lines()
        if line.company_external_id in companies and line.status == situation
        and len(line.line_ids) <= 1
    ]  # fmt: skip
    assert lines, f"the world has no {situation} line"
    return lines[0]


def cw_faults(demo: Demo):
    return demo.servers[1].faults


def sim_quantity(demo: Demo, line) -> float:
    from msp_tui.store.models import PsaAgreementLine

    row = PsaAgreementLine.get_by_id(line.line_ids[0])
    return demo.world.additions[row.external_id].quantity


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


def demo_external(line) -> int:
    from msp_tui.store.models import PsaAgreementLine

    return PsaAgreementLine.get_by_id(line.line_ids[0]).external_id


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
