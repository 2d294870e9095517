"""Decisions and the outbox that writes them to the PSA, safely.

A decision is stored first (state `pending`), then pushed by `push_pending`, which re-reads the
PSA line: if it still holds the quantity the operator saw, it is changed; if it already holds the
target (a push whose reply was lost, or a worker killed after writing), it is only marked pushed,
so a change is never applied twice; anything else is a `conflict`, with both numbers kept and
nothing overwritten. New revenue adds a line to the chosen agreement, after checking it is not
there already. Every decision and push is audited with the operator and before/after.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from adapters.errors import AdapterError
from msp_tui.connect import psa_connection
from msp_tui.reconcile import ReconciliationLine, agreement_cancelled
from msp_tui.secret_store import SecretStore
from msp_tui.sources import psa_adapter
from msp_tui.store.db import process_lock, writing
from msp_tui.store.models import (
    AuditEvent,
    Decision,
    PsaAgreement,
    PsaAgreementLine,
    PsaCompany,
    PsaProduct,
    utcnow,
)
from msp_tui.store.reconnect import unit_of_work

log = logging.getLogger("msp_tui.writeback")


def current_period(today: date | None = None) -> str:
    return (today or datetime.now(UTC).date()).strftime("%Y-%m")


class DecisionError(Exception):
    """A decision that cannot be made as asked; the message says why."""


@unit_of_work
def decide(
    line: ReconciliationLine,
    action: str,
    operator: str,
    *,
    quantity: Decimal | None = None,
    effective_date: date | None = None,
    agreement: PsaAgreement | None = None,
) -> Decision:
    """Store the operator's decision for one line (approve: PSA := vendor; adjust: PSA :=
    `quantity`; dismiss: leave it this period)."""
    if line.company_id is None or line.product_id is None:
        raise DecisionError(
            "map the vendor account or service first: unmapped lines have no PSA line"
        )
    if action not in ("approve", "adjust", "dismiss"):
        raise DecisionError(f"unknown action {action!r}")
    target = {"approve": line.vendor_quantity, "adjust": quantity, "dismiss": None}[action]
    if action != "dismiss" and target is None:
        raise DecisionError("no quantity to write: adjust with a quantity instead")
    # A stale line sits on a cancelled agreement: writing means a new line on a live one.
    live_ids = [] if line.status == "stale" else line.line_ids
    line_row = PsaAgreementLine.get_by_id(live_ids[0]) if len(live_ids) == 1 else None
    if action != "dismiss" and line_row is None and len(live_ids) > 1:
        raise DecisionError("the product is on several agreement lines: adjust each in the PSA")
    if action != "dismiss" and line_row is None and agreement is None:
        raise DecisionError("new revenue: choose the agreement that gets the new line")
    with writing():
        decision = Decision.create(
            period=current_period(), psa_company=line.company_id, psa_product=line.product_id,
            agreement=line_row.agreement_id if line_row else agreement,
            agreement_line=line_row, action=action, vendor_quantity=line.vendor_quantity,
            psa_quantity_seen=line.psa_quantity, target_quantity=target,
            effective_date=effective_date or (date.today() if action != "dismiss" else None),
            state="dismissed" if action == "dismiss" else "pending", operator=operator,
        )  # fmt: skip
        _audit(operator, f"decision.{action}", decision, {"psa": str(line.psa_quantity)},
               {"target": str(target) if target is not None else None})  # fmt: skip
    return decision


def _audit(operator: str, action: str, decision: Decision, before, after, detail=None) -> None:
    company = PsaCompany.get_by_id(decision.psa_company_id)
    product = PsaProduct.get_by_id(decision.psa_product_id)
    AuditEvent.create(operator=operator, action=action,
                      subject=f"{company.name} / {product.identifier} ({decision.period})",
                      before=before, after=after, detail=detail)  # fmt: skip


class OutboxBusy(DecisionError):
    """Another process (a second TUI, a cron'd `msp-tui outbox push`) is writing right now."""


def outbox_lock() -> contextlib.AbstractContextManager[bool]:
    """One outbox writer per store at a time, across processes (see `process_lock`)."""
    return process_lock("outbox")


@dataclass(frozen=True)
class PushResult:
    decision_id: int
    state: str
    message: str


async def push_pending(
    secrets: SecretStore,
    operator: str,
    adapter_options: dict | None = None,
    progress: Callable[[PushResult], None] | None = None,
) -> list[PushResult]:
    """Write every pending (or failed) decision to the PSA; returns what became of each."""
    connection = psa_connection()
    if connection is None:
        raise DecisionError("connect the PSA first")
    with outbox_lock() as ours:
        if not ours:
            raise OutboxBusy("another msp-tui is writing decisions to the PSA right now; it"
                             " will write these too")  # fmt: skip
        # Read under the lock: what another writer finished before is no longer pending.
        pending = list(_waiting().order_by(Decision.id))
        results = []
        if not pending:
            return results
        async with psa_adapter(connection, secrets, **(adapter_options or {})) as adapter:
            for decision in pending:
                result = await _push_one(adapter, decision, operator)
                results.append(result)
                if progress:
                    progress(result)
    return results


async def _push_one(adapter, decision: Decision, operator: str) -> PushResult:
    target = decision.target_quantity
    try:
        if decision.agreement_line_id is not None:
            line = PsaAgreementLine.get_by_id(decision.agreement_line_id)
            agreement = PsaAgreement.get_by_id(line.agreement_id)
            current = await adapter.line(agreement.external_id, line.external_id,
                                         as_of=decision.effective_date)  # fmt: skip
            now = Decimal(str(current.quantity)).normalize() + 0  # 51.0 reads as 51
            if now == target:
                state, message = "pushed", f"already {target} in the PSA"
            elif now != decision.psa_quantity_seen:
                return _finish(decision, "conflict", operator,
                               f"the PSA now says {now}, not the {decision.psa_quantity_seen}"
                               f" shown; nothing was written", conflict=now)  # fmt: skip
            else:
                await adapter.set_line_quantity(
                    agreement.external_id, line.external_id, float(target),
                    current=current.quantity, effective_date=decision.effective_date,
                )  # fmt: skip
                state, message = "pushed", f"{now} -> {target}"
            _store_quantity(line, target)
        else:
            agreement = PsaAgreement.get_by_id(decision.agreement_id)
            product = PsaProduct.get_by_id(decision.psa_product_id)
            existing = [a for a in await adapter.lines(agreement.external_id,
                                                       as_of=decision.effective_date)
                        if a.product_id == product.external_id]  # fmt: skip
            if any(Decimal(str(a.quantity)) == target for a in existing):
                state, message = "pushed", "the line was already added"
            elif existing:
                return _finish(decision, "conflict", operator,
                               "the agreement already has a line for this product; nothing was"
                               " written", conflict=Decimal(str(existing[0].quantity)))  # fmt: skip
            else:
                await adapter.add_line(
                    agreement.external_id, product.external_id, float(target),
                    effective_date=decision.effective_date,
                )  # fmt: skip
                state, message = "pushed", f"new line with {target}"
    except AdapterError as exc:
        return _finish(decision, "failed", operator, str(exc))
    return _finish(decision, state, operator, message)


def _store_quantity(line: PsaAgreementLine, quantity: Decimal) -> None:
    with writing():
        PsaAgreementLine.update(quantity=quantity).where(PsaAgreementLine.id == line.id).execute()


def _finish(decision: Decision, state: str, operator: str, message: str,
            conflict: Decimal | None = None) -> PushResult:  # fmt: skip
    with writing():
        decision.state = state
        decision.attempts += 1
        decision.last_error = None if state == "pushed" else message
        decision.conflict_quantity = conflict
        if state == "pushed":
            decision.pushed_at = utcnow()
        decision.save()
        _audit(operator, f"push.{state}", decision,
               {"psa_seen": str(decision.psa_quantity_seen)},
               {"target": str(decision.target_quantity)}, message)  # fmt: skip
    level = logging.INFO if state == "pushed" else logging.WARNING
    log.log(level, "PSA write of decision #%s (%s, target %s): %s: %s", decision.id,
            decision.action, decision.target_quantity, state, message)  # fmt: skip
    return PushResult(decision.id, state, message)


def _waiting():
    """Decisions not yet written (pending) or to try again (failed)."""
    return Decision.select().where(Decision.state.in_(["pending", "failed"]))


def outbox_waiting() -> bool:
    return _waiting().exists()


def needs_new_line(line: ReconciliationLine) -> bool:
    """Writing this line means adding one to an agreement the operator chooses: there is no
    PSA line yet, or it sits on a cancelled agreement."""
    return line.status == "stale" or not line.line_ids


def agreement_choices(company_id: int) -> list[PsaAgreement]:
    """The company's live agreements, any of which can take a new line."""
    return list(
        PsaAgreement.select()
        .where(
            (PsaAgreement.company == company_id)
            & ~PsaAgreement.cancelled
            & (
                (PsaAgreement.agreement_status.is_null())
                | (PsaAgreement.agreement_status != "Cancelled")
            )
        )
        .order_by(PsaAgreement.name)
    )


@dataclass(frozen=True)
class AgreementLineInfo:
    agreement: str
    agreement_external_id: int
    addition_external_id: int
    quantity: Decimal
    unit_price: Decimal | None
    cancelled: bool


def agreement_lines(line: ReconciliationLine) -> list[AgreementLineInfo]:
    """Where the PSA number came from, for the detail pane."""
    if not line.line_ids:
        return []
    rows = (
        PsaAgreementLine.select(PsaAgreementLine, PsaAgreement)
        .join(PsaAgreement)
        .where(PsaAgreementLine.id.in_(line.line_ids))
        .order_by(PsaAgreementLine.id)
    )
    return [
        AgreementLineInfo(r.agreement.name, r.agreement.external_id, r.external_id, r.quantity,
                          r.unit_price,
                          agreement_cancelled(r.agreement.cancelled,
                                              r.agreement.agreement_status))
        for r in rows
    ]  # fmt: skip
