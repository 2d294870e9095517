"""Sync: read a source completely, then write what it said in one transaction.

Nothing is written until every call has answered, so a source that fails midway (a 500, a
malformed reply, a timeout) leaves the previous data exactly as it was; the only trace is the
failed run in `sync_run`, with its error. Progress goes to a callback as `SyncEvent`s, which the
CLI draws as a progress bar and the TUI as the sync indicator.

Modes: `quick` reads SpamTitan usage only for mapped accounts (all of them until something is
mapped) and skips the PSA catalog once it has been read; `full` reads everything.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from peewee import DatabaseError, InterfaceError, OperationalError

from adapters.errors import AdapterError, redact
from adapters.records import (
    PsaAdditionRecord,
    PsaAgreementRecord,
    PsaCompanyRecord,
    PsaProductRecord,
    VendorAccountRecord,
)
from msp_tui.secret_store import SecretStore
from msp_tui.sources import SourceError, psa_adapter, pull_adapter
from msp_tui.store.db import writing
from msp_tui.store.models import (
    AccountMapping,
    Integration,
    PsaAgreement,
    PsaAgreementLine,
    PsaCompany,
    PsaConnection,
    PsaProduct,
    SyncRun,
    UsageCount,
    VendorAccount,
    VendorService,
    utcnow,
)
from msp_tui.store.reconnect import unit_of_work
from msp_tui.store.runs import this_runner

Mode = Literal["quick", "full"]
log = logging.getLogger("msp_tui.sync")


@dataclass(frozen=True)
class SyncEvent:
    source: str
    stage: str  # what is being read: "companies", "usage", ... then "writing", "done"
    done: int = 0
    total: int | None = None


Progress = Callable[[SyncEvent], None]


@dataclass
class SyncOutcome:
    source: str
    ok: bool
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    error: str | None = None

    def as_json(self) -> dict[str, object]:
        return {"source": self.source, "ok": self.ok, **self.counts,
                "seconds": round(self.seconds, 3), "error": self.error}  # fmt: skip


def _quiet(_: SyncEvent) -> None:
    pass


def _start(**source) -> SyncRun:
    return SyncRun.create(runner=this_runner(), **source)


async def _run(
    source: str,
    run: SyncRun,
    fetch_and_write: Callable[[Progress], object],
    progress: Progress,
) -> SyncOutcome:
    started = time.monotonic()
    try:
        counts = await fetch_and_write(progress)  # type: ignore[misc]
    except (AdapterError, SourceError) as exc:
        error = str(exc)
    except (OperationalError, InterfaceError, DatabaseError) as exc:  # disk full, locked too long
        error = f"the store could not be written ({redact(str(exc))}); the last good data stands"
        log.error("sync of %s: %s", source, error)
    except Exception as exc:  # anything else still ends the run as failed, never `running`
        error = f"unexpected error ({type(exc).__name__}: {redact(str(exc))})"
        log.exception("sync of %s failed", source)
    else:
        error = None
    seconds = time.monotonic() - started
    run.status = "failed" if error else "ok"
    run.error = redact(error) if error else None
    run.finished_at = utcnow()
    run.duration_s = seconds
    run.counts = {} if error else counts
    try:
        await asyncio.to_thread(run.save)
    except (OperationalError, InterfaceError, DatabaseError) as exc:
        # Even the failure cannot be written (a full disk): the row stays `running` and is
        # shown as interrupted once this process has gone.
        log.error("sync of %s: its outcome could not be recorded: %s", source, exc)
    if error:
        log.warning("sync of %s (%s) failed after %.1f s: %s", source, run.mode, seconds, error)
    else:
        log.info("sync of %s (%s) done in %.1f s: %s", source, run.mode, seconds, counts)
    progress(SyncEvent(source, "failed" if error else "done"))
    return SyncOutcome(source, error is None, {} if error else dict(counts), seconds, error)


# --- the PSA -----------------------------------------------------------------------------------


async def sync_psa(
    connection: PsaConnection,
    secrets: SecretStore,
    *,
    mode: Mode = "quick",
    progress: Progress = _quiet,
    adapter_options: dict | None = None,
) -> SyncOutcome:
    source = f"psa:{connection.name}"
    run = await asyncio.to_thread(_start, psa_connection=connection, mode=mode)

    async def fetch_and_write(progress: Progress) -> dict[str, int]:
        adapter = psa_adapter(connection, secrets, **(adapter_options or {}))
        async with adapter:
            progress(SyncEvent(source, "companies"))
            companies = await adapter.companies()
            products: list[PsaProductRecord] | None = None
            has_products = await asyncio.to_thread(
                PsaProduct.select().where(PsaProduct.connection == connection).exists
            )
            if mode == "full" or not has_products:
                progress(SyncEvent(source, "products"))
                products = await adapter.products()
            progress(SyncEvent(source, "agreements"))
            agreements = await adapter.agreements()
            progress(SyncEvent(source, "additions", 0, len(agreements)))
            additions = await adapter.lines_for(
                [a.external_id for a in agreements],
                lambda done, total: progress(SyncEvent(source, "additions", done, total)),
            )
            usage = adapter.usage()
        progress(SyncEvent(source, "writing"))
        counts = await asyncio.to_thread(
            _write_psa, connection, run, companies, products, agreements, additions
        )
        return {**counts, **usage}

    return await _run(source, run, fetch_and_write, progress)


@unit_of_work
def _write_psa(
    connection: PsaConnection,
    run: SyncRun,
    companies: list[PsaCompanyRecord],
    products: list[PsaProductRecord] | None,
    agreements: list[PsaAgreementRecord],
    additions: list[PsaAdditionRecord],
) -> dict[str, int]:
    now = utcnow()
    with writing():
        rows = [
            {"connection": connection.id, "external_id": c.external_id,
             "identifier": c.identifier, "name": c.name, "website": c.website,
             "status": c.status, "is_prospect": c.is_prospect, "deleted": False,
             "synced_at": now}
            for c in companies
        ]  # fmt: skip
        _upsert(PsaCompany, rows, [PsaCompany.connection, PsaCompany.external_id])
        seen = [c.external_id for c in companies]
        PsaCompany.update(deleted=True).where(
            (PsaCompany.connection == connection) & PsaCompany.external_id.not_in(seen)
        ).execute()
        company_ids = _local_ids(PsaCompany, PsaCompany.connection == connection)
        if products is not None:
            rows = [
                {"connection": connection.id, "external_id": p.external_id,
                 "identifier": p.identifier, "description": p.description,
                 "inactive": p.inactive, "recurring": p.recurring, "price": p.price,
                 "synced_at": now}
                for p in products
            ]  # fmt: skip
            _upsert(PsaProduct, rows, [PsaProduct.connection, PsaProduct.external_id])
        product_ids = _local_ids(PsaProduct, PsaProduct.connection == connection)
        # Agreements the PSA no longer lists take no part in reconciliation: drop them.
        kept = [a for a in agreements if a.company_id in company_ids]
        PsaAgreement.delete().where(
            (PsaAgreement.connection == connection)
            & PsaAgreement.external_id.not_in([a.external_id for a in kept])
        ).execute()
        rows = [
            {"connection": connection.id, "external_id": a.external_id,
             "company": company_ids[a.company_id], "name": a.name,
             "agreement_status": a.agreement_status, "cancelled": a.cancelled,
             "billing_cycle": a.billing_cycle, "synced_at": now}
            for a in kept
        ]  # fmt: skip
        _upsert(PsaAgreement, rows, [PsaAgreement.connection, PsaAgreement.external_id])
        agreement_ids = _local_ids(PsaAgreement, PsaAgreement.connection == connection)
        lines = [a for a in additions if a.agreement_id in agreement_ids]
        rows = [
            {"agreement": agreement_ids[a.agreement_id], "external_id": a.external_id,
             "product": product_ids.get(a.product_id), "product_identifier": a.product_identifier,
             "quantity": a.quantity, "less_included": a.less_included, "unit_price": a.unit_price,
             "bill_customer": a.bill_customer, "effective_date": a.effective_date,
             "cancelled_date": a.cancelled_date, "agreement_status": a.agreement_status,
             "synced_at": now}
            for a in lines
        ]  # fmt: skip
        _upsert(PsaAgreementLine, rows, [PsaAgreementLine.agreement, PsaAgreementLine.external_id])
        current = {(agreement_ids[a.agreement_id], a.external_id) for a in lines}
        stale = [
            line_id
            for line_id, agreement_id, external_id in PsaAgreementLine.select(
                PsaAgreementLine.id, PsaAgreementLine.agreement, PsaAgreementLine.external_id
            )
            .join(PsaAgreement)
            .where(PsaAgreement.connection == connection)
            .tuples()
            if (agreement_id, external_id) not in current
        ]
        if stale:
            PsaAgreementLine.delete().where(PsaAgreementLine.id.in_(stale)).execute()
        connection.last_sync_at = now
        connection.status = "active"
        connection.save()
    return {
        "companies": len(companies),
        "products": len(products) if products is not None else 0,
        "agreements": len(kept),
        "lines": len(lines),
    }


def _local_ids(model, where) -> dict:
    """external id -> our row id, for the rows of one source."""
    return dict(model.select(model.external_id, model.id).where(where).tuples())


def _upsert(model, rows: list[dict], conflict: list) -> None:
    """Insert or update by the natural key, in batches SQLite's variable limit allows. A key
    given twice (a vendor's reply can repeat an id) keeps its last row: PostgreSQL refuses to
    update one row twice in a statement (CardinalityViolation)."""
    if not rows:
        return
    key = [f.name for f in conflict]
    rows = list({tuple(row[name] for name in key): row for row in rows}.values())
    preserve = [model._meta.fields[k] for k in rows[0] if k not in {f.name for f in conflict}]
    size = max(1, 900 // len(rows[0]))
    for start in range(0, len(rows), size):
        (
            model.insert_many(rows[start : start + size])
            .on_conflict(conflict_target=conflict, preserve=preserve)
            .execute()
        )


# --- pull integrations -------------------------------------------------------------------------


async def sync_pull(
    integration: Integration,
    secrets: SecretStore,
    *,
    mode: Mode = "quick",
    progress: Progress = _quiet,
    today: date | None = None,
    adapter_options: dict | None = None,
) -> SyncOutcome:
    source = integration.name
    run = await asyncio.to_thread(_start, integration=integration, mode=mode)

    async def fetch_and_write(progress: Progress) -> dict[str, int]:
        adapter = pull_adapter(integration, secrets, **(adapter_options or {}))
        async with adapter:
            progress(SyncEvent(source, "accounts"))
            accounts = await adapter.accounts()
            wanted = [a.external_id for a in accounts]
            if mode == "quick":
                mapped = await asyncio.to_thread(_mapped_external_ids, integration)
                if mapped:
                    wanted = [a for a in wanted if a in mapped]
            progress(SyncEvent(source, "usage", 0, len(wanted)))

            def tick(done: int, total: int) -> None:
                progress(SyncEvent(source, "usage", done, total))

            usage = await adapter.usage_for(wanted, today, tick)
        progress(SyncEvent(source, "writing"))
        return await asyncio.to_thread(_write_pull, integration, run, accounts, usage)

    return await _run(source, run, fetch_and_write, progress)


def _mapped_external_ids(integration: Integration) -> set[str]:
    return {
        external_id
        for (external_id,) in VendorAccount.select(VendorAccount.external_id)
        .join(AccountMapping)
        .where(VendorAccount.integration == integration)
        .tuples()
    }


@unit_of_work
def _write_pull(
    integration: Integration,
    run: SyncRun,
    accounts: list[VendorAccountRecord],
    usage: dict[str, int],
) -> dict[str, int]:
    now = utcnow()
    with writing():
        rows = [
            {"integration": integration.id, "external_id": a.external_id, "name": a.name,
             "description": a.description, "last_seen_at": now}
            for a in accounts
        ]  # fmt: skip
        _upsert(VendorAccount, rows, [VendorAccount.integration, VendorAccount.external_id])
        from adapters.spamtitan import TOTAL_LICENSES  # httpx with it: imported when syncing

        service = TOTAL_LICENSES
        _upsert(
            VendorService,
            [{"integration": integration.id, "external_id": service.external_id,
              "name": service.name, "description": service.description,
              "category": service.category, "subcategory": service.subcategory,
              "last_seen_at": now}],
            [VendorService.integration, VendorService.external_id],
        )  # fmt: skip
        service_id = (
            VendorService.select(VendorService.id)
            .where(
                (VendorService.integration == integration)
                & (VendorService.external_id == service.external_id)
            )
            .scalar()
        )
        account_ids = _local_ids(VendorAccount, VendorAccount.integration == integration)
        counts = [
            {"account": account_ids[external_id], "service": service_id, "quantity": quantity,
             "counted_at": now, "received_at": now, "source": "sync", "sync_run": run.id}
            for external_id, quantity in usage.items()
            if external_id in account_ids
        ]  # fmt: skip
        for start in range(0, len(counts), 100):
            UsageCount.insert_many(counts[start : start + 100]).execute()
        integration.last_sync_at = now
        integration.status = "active"
        integration.status_reason = None
        # These fields only: the row may have changed since this copy was read (modules).
        Integration.update(last_sync_at=now, status="active", status_reason=None).where(
            Integration.id == integration.id
        ).execute()
    return {"accounts": len(accounts), "services": 1, "counts": len(counts)}


# --- what there is to sync ---------------------------------------------------------------------


@dataclass(frozen=True)
class SyncSource:
    """One thing `sync` can read: the PSA connection or a pull integration."""

    key: str
    connection: PsaConnection | None = None
    integration: Integration | None = None

    async def run(self, secrets: SecretStore, mode: Mode = "quick", **kwargs) -> SyncOutcome:
        if self.connection is not None:
            return await sync_psa(self.connection, secrets, mode=mode, **kwargs)
        assert self.integration is not None
        return await sync_pull(self.integration, secrets, mode=mode, **kwargs)


def sync_sources(names: list[str] | None = None) -> list[SyncSource]:
    """The PSA connections and pull integrations, or those named. A connection answers to
    'psa', its name and 'psa:NAME'; an integration to its name."""
    sources = [SyncSource(f"psa:{c.name}", connection=c)
               for c in PsaConnection.select().order_by(PsaConnection.name)]  # fmt: skip
    sources += [
        SyncSource(i.name, integration=i)
        for i in Integration.select().where(Integration.kind == "pull").order_by(Integration.name)
    ]
    if names is None:
        return sources
    wanted = set(names)
    return [
        s for s in sources
        if s.key in wanted or (s.connection and {"psa", s.connection.name} & wanted)
    ]  # fmt: skip


async def sync_all(
    secrets: SecretStore, sources: list[SyncSource], mode: Mode, progress: Progress = _quiet
) -> list[SyncOutcome]:
    """The PSA first (one at a time: vendors' accounts are mapped to its companies), then every
    pulled vendor at once."""
    outcomes = [await s.run(secrets, mode, progress=progress) for s in sources if s.connection]
    outcomes += await asyncio.gather(
        *(s.run(secrets, mode, progress=progress) for s in sources if not s.connection)
    )
    return list(outcomes)
