"""The demo world, synced and mapped, for reconciliation and write-back tests, on any PSA.

The helpers speak of the PSA neutrally, as the core does: `sim_quantity` is what the PSA's
simulator holds for a reconciliation line (ConnectWise: the addition's quantity; Autotask: the
contract service's units today; HaloPSA: the recurring invoice line's `qty_order`),
`edit_in_psa` is someone changing it in the PSA's own UI, `psa_writes` the writes of quantities
the simulator received (ConnectWise: PATCHes and POSTs of additions; Autotask: POSTed
ContractServiceAdjustments; HaloPSA: POSTed recurring invoices), `psa_tickets` its tickets.
What differs per PSA is in one class each (`ConnectWiseSim`, `AutotaskSim`, `HaloSim`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

from adapters.autotask import REFERENCE
from adapters.http import RetryPolicy
from adapters.sandbox.faults import Faults
from adapters.sandbox.halopsa_book import TICKET_TYPE, HaloBook
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


@dataclass(frozen=True)
class PsaTicket:
    """A ticket in the PSA simulator, whichever PSA: its board (Autotask: queue; HaloPSA: team)
    and company."""

    id: int
    board_id: int
    company_id: int
    summary: str
    description: str
    priority: int
    # the caller's reference (ConnectWise: externalXRef; Autotask: in the description's last
    # line; HaloPSA: third_party_id_string)
    reference: str | None


def psa_faults(demo: Demo) -> Faults:
    faults = demo.psa_server.faults
    assert faults is not None
    return faults


cw_faults = psa_faults  # the older name, ConnectWise-only tests still use it


def psa_book(demo: Demo) -> Any:
    """The records of a simulator that keeps a book: Autotask's `AutotaskBook` (contract
    services, units rows, adjustments, tickets) or HaloPSA's `HaloBook` (recurring invoices and
    their lines, tickets, every write's body)."""
    assert demo.psa in ("autotask", "halopsa"), "the ConnectWise simulator keeps no book"
    return demo.psa_server.app.state.book


def halo_book(demo: Demo) -> HaloBook:
    assert demo.psa == "halopsa", "not the HaloPSA simulator"
    return demo.psa_server.app.state.book


def _logged(demo: Demo, method: str, *ends: str) -> list[str]:
    """The paths (query cut off) of the simulator's logged `method` requests ending in `ends`."""
    paths = [p.partition("?")[0] for m, p in list(psa_faults(demo).log) if m == method]
    return [p for p in paths if p.endswith(ends)]


class ConnectWiseSim:
    """ConnectWise's simulator serves the world's own agreements, additions and tickets."""

    def units(self, demo: Demo, line_id: int, day: date | None) -> float | None:
        return demo.world.additions[line_id].quantity

    def set_units(self, demo: Demo, line_id: int, quantity: int) -> None:
        demo.world.additions[line_id].quantity = float(quantity)

    def quantity_writes(self, demo: Demo) -> list[str]:
        log = list(psa_faults(demo).log)
        return [p for m, p in log if m in ("PATCH", "POST") and "/finance/agreements/" in p]

    def lines_of(self, demo: Demo, agreement_id: int, product_id: int) -> list[int]:
        return sorted(a.id for a in demo.world.agreement_additions(agreement_id)
                      if a.product_id == product_id)  # fmt: skip

    def agreement_id(self, world_agreement_id: int) -> int:
        return world_agreement_id

    def tickets(self, demo: Demo) -> list[PsaTicket]:
        return [PsaTicket(t.id, t.board_id, t.company_id, t.summary, t.initial_description,
                          t.priority_id, t.external_xref)
                for t in list(demo.world.tickets.values())]  # fmt: skip

    def plant(self, demo: Demo, ticket_id: int, summary: str, board_id: int, company_id: int,
              reference: str) -> None:  # fmt: skip
        demo.world.tickets[ticket_id] = Ticket(ticket_id, summary, board_id, company_id, "", 3,
                                               utcnow(), external_xref=reference)  # fmt: skip

    def ticket_writes(self, demo: Demo) -> list[str]:
        return _logged(demo, "POST", "/service/tickets")

    def hold_reply_of_next_write(self, faults: Faults) -> None:
        faults.hang_after_write = 1


class AutotaskSim(ConnectWiseSim):
    """Autotask's simulator keeps its own book: units rows by billing period, adjustments, and
    tickets whose reference is the description's last line. Its queries are POSTs that do not
    count as writes."""

    def units(self, demo: Demo, line_id: int, day: date | None) -> float | None:
        units = psa_book(demo).units_on(line_id, day or demo.world.today)
        return None if units is None else float(units)

    def set_units(self, demo: Demo, line_id: int, quantity: int) -> None:
        psa_book(demo).set_units(line_id, quantity)

    def quantity_writes(self, demo: Demo) -> list[str]:
        return _logged(demo, "POST", "/ContractServiceAdjustments")

    def lines_of(self, demo: Demo, agreement_id: int, product_id: int) -> list[int]:
        services = list(psa_book(demo).contract_services.values())
        return sorted(cs.id for cs in services
                      if (cs.contract_id, cs.service_id) == (agreement_id, product_id))  # fmt: skip

    def tickets(self, demo: Demo) -> list[PsaTicket]:
        found = []
        for t in list(psa_book(demo).tickets.values()):
            text, _, reference = (t.get("description") or "").partition(f"\n\n{REFERENCE}")
            found.append(PsaTicket(t["id"], t["queueID"], t["companyID"], t["title"], text,
                                   t["priority"], reference or None))  # fmt: skip
        return found

    def plant(self, demo: Demo, ticket_id: int, summary: str, board_id: int, company_id: int,
              reference: str) -> None:  # fmt: skip
        psa_book(demo).tickets[ticket_id] = {
            "id": ticket_id, "companyID": company_id, "title": summary,
            "description": f"{summary}\n\n{REFERENCE}{reference}", "queueID": board_id,
            "status": 1, "priority": 2, "createDate": f"{utcnow():%Y-%m-%dT%H:%M:%S}.000Z",
            "ticketNumber": f"T{demo.world.today:%Y%m%d}.9001", "ticketType": 1, "source": 4,
        }  # fmt: skip

    def ticket_writes(self, demo: Demo) -> list[str]:
        return _logged(demo, "POST", "/Tickets")


class HaloSim(ConnectWiseSim):
    """HaloPSA's simulator keeps its own book: recurring invoices at minus the world's agreement
    ids, their lines at the additions' ids, and tickets with `third_party_id_string`. Every write
    is a POST of an array; so is the token request, which is no write."""

    def units(self, demo: Demo, line_id: int, day: date | None) -> float | None:
        return halo_book(demo).line_qty(line_id)  # Halo has no dated quantities

    def set_units(self, demo: Demo, line_id: int, quantity: int) -> None:
        halo_book(demo).set_qty(line_id, quantity)

    def quantity_writes(self, demo: Demo) -> list[str]:
        return _logged(demo, "POST", "/api/RecurringInvoice")

    def lines_of(self, demo: Demo, agreement_id: int, product_id: int) -> list[int]:
        invoice = halo_book(demo).invoice(agreement_id)
        assert invoice is not None, f"no recurring invoice {agreement_id}"
        return sorted(line["id"] for line in invoice["lines"] if line["_itemid"] == product_id)

    def agreement_id(self, world_agreement_id: int) -> int:
        return -world_agreement_id  # invoice_id_of: recurring invoices have negative ids

    def tickets(self, demo: Demo) -> list[PsaTicket]:
        return [PsaTicket(t["id"], t["team_id"], t["client_id"], t["summary"], t["details"],
                          t["priority_id"], t["third_party_id_string"] or None)
                for t in halo_book(demo).ticket_list()]  # fmt: skip

    def plant(self, demo: Demo, ticket_id: int, summary: str, board_id: int, company_id: int,
              reference: str) -> None:  # fmt: skip
        book = halo_book(demo)
        team = next(t for t in book.teams() if t["id"] == board_id)
        company = demo.world.companies[company_id]
        book.tickets[ticket_id] = {
            "id": ticket_id, "summary": summary, "details": "", "client_id": company_id,
            "client_name": company.name, "team_id": board_id, "team": team["name"],
            "priority_id": 3, "tickettype_id": TICKET_TYPE, "status_id": 1,
            "third_party_id_string": reference,
            "dateoccurred": f"{utcnow():%Y-%m-%dT%H:%M:%S}.000000Z",
        }  # fmt: skip

    def ticket_writes(self, demo: Demo) -> list[str]:
        return _logged(demo, "POST", "/api/Tickets")


SIMS: dict[str, ConnectWiseSim] = {"connectwise": ConnectWiseSim(), "autotask": AutotaskSim(),
                                   "halopsa": HaloSim()}  # fmt: skip


def sim_of(demo: Demo) -> ConnectWiseSim:
    return SIMS[demo.psa]


def demo_external(line) -> int:
    """The PSA's id of the line's (first) agreement line: ConnectWise's addition id, Autotask's
    contract service id, HaloPSA's invoice line id."""
    return PsaAgreementLine.get_by_id(line.line_ids[0]).external_id


def psa_agreement_id(demo: Demo, world_agreement_id: int) -> int:
    """The PSA's id of one of the world's agreements (HaloPSA: the recurring invoice's, < 0)."""
    return sim_of(demo).agreement_id(world_agreement_id)


def sim_units(demo: Demo, external_id: int, day: date | None = None) -> float | None:
    """What the PSA's simulator holds for one agreement line (on `day`, for Autotask; today by
    default)."""
    return sim_of(demo).units(demo, external_id, day)


def sim_quantity(demo: Demo, line, day: date | None = None) -> float | None:
    return sim_units(demo, demo_external(line), day)


def edit_in_psa(demo: Demo, line, quantity: int) -> None:
    """Someone changes the line's quantity in the PSA itself (from today, on Autotask)."""
    sim_of(demo).set_units(demo, demo_external(line), quantity)


def psa_writes(demo: Demo) -> list[str]:
    """The paths of the quantity writes in the PSA simulator's log (clear it with
    `psa_faults(demo).log.clear()`)."""
    return sim_of(demo).quantity_writes(demo)


def added_lines(demo: Demo, agreement_external_id: int, product_external_id: int) -> list[float]:
    """The quantities (today) of the agreement's lines for a product: new revenue's new line."""
    found = sim_of(demo).lines_of(demo, agreement_external_id, product_external_id)
    return [sim_units(demo, line_id) for line_id in found]


# --- tickets -----------------------------------------------------------------------------------


def psa_tickets(demo: Demo) -> list[PsaTicket]:
    return sim_of(demo).tickets(demo)


def plant_ticket(
    demo: Demo, ticket_id: int, summary: str, board_id: int, company_id: int, reference: str
) -> None:
    """A ticket made in the PSA for `reference` whose reply never reached msp-tui."""
    sim_of(demo).plant(demo, ticket_id, summary, board_id, company_id, reference)


def psa_ticket_writes(demo: Demo) -> list[str]:
    """The paths of ticket creations in the PSA simulator's log (not Autotask's POSTed queries)."""
    return sim_of(demo).ticket_writes(demo)


# --- a write that lands while its reply is lost --------------------------------------------------


def hold_reply_of_next_write(demo: Demo) -> None:
    """The PSA's next write is carried out and its reply held until `release_hangs`
    (Autotask's queries and HaloPSA's token requests are POSTs, but are not counted as
    writes)."""
    sim_of(demo).hold_reply_of_next_write(psa_faults(demo))
