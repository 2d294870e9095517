"""The demo world, synced and mapped, for reconciliation and write-back tests, on either PSA.

The helpers speak of the PSA neutrally, as the core does: `sim_quantity` is what the PSA's
simulator holds for a reconciliation line (ConnectWise: the addition's quantity; Autotask: the
contract service's units today), `edit_in_psa` is someone changing it in the PSA's own UI,
`psa_writes` the writes of quantities the simulator received (ConnectWise: PATCHes and POSTs of
additions; Autotask: POSTed ContractServiceAdjustments), `psa_tickets` its tickets.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

from adapters.autotask import REFERENCE
from adapters.http import RetryPolicy
from adapters.sandbox.autotask_book import AutotaskBook
from adapters.sandbox.faults import Faults
from adapters.sandbox.world import Ticket
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
    utcnow,
)
from msp_tui.sync import sync_pull

FAST = {"retry": RetryPolicy(attempts=2, rate_limited_attempts=2, base_delay=0.01, max_delay=0.02)}


@contextmanager
def mapped_demo(
    companies: int = 120, db: str | None = None, psa: str = "connectwise"
) -> Iterator[tuple[Demo, Context]]:
    """The demo world with SpamTitan synced and mapped by the simulator's ground truth, against
    the PSA named, in a throwaway SQLite file or the empty database `db` names."""
    demo, ctx = start_demo(seed=7, companies=companies, db=db, psa=psa)
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


# --- the PSA's simulator, whichever it is ------------------------------------------------------


def psa_faults(demo: Demo) -> Faults:
    faults = demo.psa_server.faults
    assert faults is not None
    return faults


cw_faults = psa_faults  # the older name, ConnectWise-only tests still use it


def psa_book(demo: Demo) -> AutotaskBook:
    """The Autotask simulator's records (contract services, units rows, adjustments, tickets)."""
    assert demo.psa == "autotask", "only the Autotask simulator keeps a book"
    return demo.psa_server.app.state.book


def demo_external(line) -> int:
    """The PSA's id of the line's (first) agreement line: ConnectWise's addition id, Autotask's
    contract service id."""
    return PsaAgreementLine.get_by_id(line.line_ids[0]).external_id


def sim_units(demo: Demo, external_id: int, day: date | None = None) -> float | None:
    """What the PSA's simulator holds for one agreement line (on `day`, for Autotask; today by
    default)."""
    if demo.psa == "autotask":
        units = psa_book(demo).units_on(external_id, day or demo.world.today)
        return None if units is None else float(units)
    return demo.world.additions[external_id].quantity


def sim_quantity(demo: Demo, line, day: date | None = None) -> float | None:
    return sim_units(demo, demo_external(line), day)


def edit_in_psa(demo: Demo, line, quantity: int) -> None:
    """Someone changes the line's quantity in the PSA itself (from today, on Autotask)."""
    external_id = demo_external(line)
    if demo.psa == "autotask":
        psa_book(demo).set_units(external_id, quantity)
    else:
        demo.world.additions[external_id].quantity = float(quantity)


def psa_writes(demo: Demo) -> list[str]:
    """The paths of the quantity writes in the PSA simulator's log (clear it with
    `psa_faults(demo).log.clear()`)."""
    log = list(psa_faults(demo).log)
    if demo.psa == "autotask":
        return [p for m, p in log if m == "POST" and p.endswith("/ContractServiceAdjustments")]
    return [p for m, p in log if m in ("PATCH", "POST") and "/finance/agreements/" in p]


def added_lines(demo: Demo, agreement_external_id: int, product_external_id: int) -> list[float]:
    """The quantities (today) of the agreement's lines for a product: new revenue's new line."""
    if demo.psa == "autotask":
        book = psa_book(demo)
        found = [cs.id for cs in list(book.contract_services.values())
                 if (cs.contract_id, cs.service_id) == (agreement_external_id,
                                                        product_external_id)]  # fmt: skip
        return [sim_units(demo, cs_id) for cs_id in sorted(found)]
    return [a.quantity for a in demo.world.agreement_additions(agreement_external_id)
            if a.product_id == product_external_id]  # fmt: skip


# --- tickets -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PsaTicket:
    """A ticket in the PSA simulator, whichever PSA: its board (Autotask: queue) and company."""

    id: int
    board_id: int
    company_id: int
    summary: str
    description: str
    priority: int
    reference: str | None  # the caller's reference (ConnectWise externalXRef; Autotask: in text)


def psa_tickets(demo: Demo) -> list[PsaTicket]:
    if demo.psa == "autotask":
        found = []
        for t in list(psa_book(demo).tickets.values()):
            text, _, reference = (t.get("description") or "").partition(f"\n\n{REFERENCE}")
            found.append(PsaTicket(t["id"], t["queueID"], t["companyID"], t["title"], text,
                                   t["priority"], reference or None))  # fmt: skip
        return found
    return [PsaTicket(t.id, t.board_id, t.company_id, t.summary, t.initial_description,
                      t.priority_id, t.external_xref)
            for t in list(demo.world.tickets.values())]  # fmt: skip


def plant_ticket(
    demo: Demo, ticket_id: int, summary: str, board_id: int, company_id: int, reference: str
) -> None:
    """A ticket made in the PSA for `reference` whose reply never reached msp-tui."""
    if demo.psa == "autotask":
        psa_book(demo).tickets[ticket_id] = {
            "id": ticket_id, "companyID": company_id, "title": summary,
            "description": f"{summary}\n\n{REFERENCE}{reference}", "queueID": board_id,
            "status": 1, "priority": 2, "createDate": f"{utcnow():%Y-%m-%dT%H:%M:%S}.000Z",
            "ticketNumber": f"T{demo.world.today:%Y%m%d}.9001", "ticketType": 1, "source": 4,
        }  # fmt: skip
    else:
        demo.world.tickets[ticket_id] = Ticket(ticket_id, summary, board_id, company_id, "", 3,
                                               utcnow(), external_xref=reference)  # fmt: skip


def psa_ticket_writes(demo: Demo) -> list[str]:
    """The paths of ticket creations in the PSA simulator's log (not Autotask's POSTed queries)."""
    log = list(psa_faults(demo).log)
    if demo.psa == "autotask":
        return [p for m, p in log if m == "POST" and p.endswith("/Tickets")]
    return [p for m, p in log if m == "POST" and p.endswith("/service/tickets")]


# --- a write that lands while its reply is lost --------------------------------------------------


def hold_reply_of_next_write(demo: Demo) -> None:
    """The PSA's next write is carried out and its reply held until `release_hangs`
    (Autotask's queries are POSTs, but its simulator does not count them as writes)."""
    psa_faults(demo).hang_after_write = 1
