"""The demo world, synced and mapped, for reconciliation and write-back tests."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

from adapters.http import RetryPolicy
from msp_tui.context import Context
from msp_tui.demo import Demo, start_demo
from msp_tui.reconcile import reconciliation_lines
from msp_tui.store.models import (
    AccountMapping,
    Integration,
    PsaAgreementLine,
    PsaCompany,
    PsaProduct,
    ServiceMapping,
    VendorAccount,
    VendorService,
)
from msp_tui.sync import sync_pull

FAST = {"retry": RetryPolicy(attempts=2, rate_limited_attempts=2, base_delay=0.01, max_delay=0.02)}


@contextmanager
def mapped_demo(companies: int = 120, db: str | None = None) -> Iterator[tuple[Demo, Context]]:
    """The demo world with SpamTitan synced and mapped by the simulator's ground truth, in a
    throwaway SQLite file or the empty database `db` names."""
    demo, ctx = start_demo(seed=7, companies=companies, db=db)
    try:
        _map_by_truth(demo, ctx)
    except BaseException:
        ctx.close()
        demo.stop()
        raise
    try:
        yield demo, ctx
    finally:
        ctx.close()
        demo.stop()


def _map_by_truth(demo: Demo, ctx: Context) -> None:
    world = demo.world
    integration = Integration.create(name="spamtitan", vendor="spamtitan", kind="pull",
                                     config={"url": demo.spamtitan_url})  # fmt: skip
    ctx.secrets.set("spamtitan", "api_key", demo.spamtitan_key)
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
    row = PsaAgreementLine.get_by_id(line.line_ids[0])
    return demo.world.additions[row.external_id].quantity


def demo_external(line) -> int:
    return PsaAgreementLine.get_by_id(line.line_ids[0]).external_id
