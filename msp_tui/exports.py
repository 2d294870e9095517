"""Rows for `msp-tui export`: reconciliation lines, mappings and the audit trail, as CSV or JSON.

Each export is a header and a list of dicts with JSON-ready values (numbers, strings, None);
`render` turns them into CSV (None is an empty cell, nested values are JSON text) or JSON.
Times are UTC, ISO 8601 with a trailing Z. Quantities print plainly (15, 2.5, never 1E+2),
money with two decimals.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from msp_tui.store.models import (
    AccountMapping,
    AuditEvent,
    Integration,
    PsaCompany,
    PsaProduct,
    ServiceMapping,
    UsageCount,
    VendorAccount,
    VendorService,
)
from msp_tui.untrusted import csv_cell, printable

RECONCILIATION_HEADER = [
    "company_id", "company_name", "product_identifier", "vendor_quantity", "psa_quantity",
    "status", "impact",
]  # fmt: skip
MAPPINGS_HEADER = [
    "kind", "integration", "vendor_id", "vendor_name", "psa_id", "psa_name", "method", "score",
    "operator", "created_at",
]  # fmt: skip
AUDIT_HEADER = ["at", "operator", "action", "subject", "before", "after", "detail"]
USAGE_HEADER = [
    "integration", "vendor_account_id", "vendor_account_name", "service_id", "service_name",
    "quantity", "observed_at",
]  # fmt: skip
CENTS = Decimal("0.01")


def utc_iso(moment: datetime | None) -> str | None:
    """A naive UTC datetime from the store as `2025-01-31T12:00:00Z`."""
    if moment is None:
        return None
    return moment.replace(microsecond=0).isoformat() + "Z"


def plain_quantity(value: Decimal | None) -> Decimal | None:
    """15.0000 -> 15, 2.5000 -> 2.5 (printed without an exponent by `render`)."""
    if value is None:
        return None
    value = Decimal(value)
    return value.to_integral_value() if value == value.to_integral_value() else value.normalize()


def money(value: Decimal) -> Decimal:
    return Decimal(value).quantize(CENTS, rounding=ROUND_HALF_UP)


# --- reconciliation ----------------------------------------------------------------------------


def reconciliation_rows(with_sources: bool = False, lines: list | None = None
                        ) -> list[dict[str, Any]]:  # fmt: skip
    """One row per reconciliation line (of `lines`, read when not given), by company name then
    product."""
    from msp_tui.reconcile import reconciliation_lines

    lines = sorted(
        reconciliation_lines() if lines is None else lines,
        key=lambda line: (line.company_name.casefold(), line.product_identifier, line.status),
    )
    rows = []
    for line in lines:
        row: dict[str, Any] = {
            "company_id": line.company_external_id,
            "company_name": line.company_name,
            "product_identifier": line.product_identifier,
            "vendor_quantity": plain_quantity(line.vendor_quantity),
            "psa_quantity": plain_quantity(line.psa_quantity),
            "status": line.status,
            "impact": money(line.impact),
        }
        if with_sources:
            row["rounding"] = line.rounding_note
            row["sources"] = [
                {
                    "integration": s.integration,
                    "account": s.account,
                    "service": s.service,
                    "quantity": plain_quantity(s.quantity),
                    "counted_at": utc_iso(s.counted_at)
                    if isinstance(s.counted_at, datetime)
                    else s.counted_at,
                }
                for s in line.sources
            ]
        rows.append(row)
    return rows


# --- usage -------------------------------------------------------------------------------------


def latest_usage() -> list[dict[str, Any]]:
    """The latest count per (account, service), every integration."""
    rows = []
    latest: dict[tuple[int, int], UsageCount] = {}
    for count in UsageCount.select().order_by(UsageCount.received_at, UsageCount.id):
        latest[(count.account_id, count.service_id)] = count
    accounts = {a.id: a for a in VendorAccount.select(VendorAccount, Integration).join(Integration)}
    services = {s.id: s for s in VendorService.select()}
    for (account_id, service_id), count in latest.items():
        account, service = accounts[account_id], services[service_id]
        quantity = count.quantity
        rows.append({
            "integration": account.integration.name,
            "vendor_account_id": account.external_id,
            "vendor_account_name": account.name,
            "service_id": service.external_id,
            "service_name": service.name,
            "quantity": int(quantity) if quantity == int(quantity) else float(quantity),
            "observed_at": count.counted_at.replace(microsecond=0).isoformat() + "Z",
        })  # fmt: skip
    rows.sort(key=lambda r: (r["integration"], r["vendor_account_name"], r["service_name"]))
    return rows


# --- mappings ----------------------------------------------------------------------------------


def mapping_rows() -> list[dict[str, Any]]:
    """Every account mapping, then every service mapping, by integration and vendor name."""
    accounts = (
        AccountMapping.select(AccountMapping, VendorAccount, Integration, PsaCompany)
        .join(VendorAccount)
        .join(Integration)
        .switch(AccountMapping)
        .join(PsaCompany)
    )
    rows: list[dict[str, Any]] = [
        {
            "kind": "account",
            "integration": m.vendor_account.integration.name,
            "vendor_id": m.vendor_account.external_id,
            "vendor_name": m.vendor_account.name,
            "psa_id": m.psa_company.external_id,
            "psa_name": m.psa_company.name,
            "method": m.method,
            "score": m.score,
            "operator": m.operator,
            "created_at": utc_iso(m.mapped_at),
        }
        for m in accounts
    ]
    services = (
        ServiceMapping.select(ServiceMapping, VendorService, Integration, PsaProduct)
        .join(VendorService)
        .join(Integration)
        .switch(ServiceMapping)
        .join(PsaProduct)
    )
    rows += [
        {
            "kind": "service",
            "integration": m.vendor_service.integration.name,
            "vendor_id": m.vendor_service.external_id,
            "vendor_name": m.vendor_service.name,
            "psa_id": m.psa_product.identifier,
            "psa_name": m.psa_product.description,
            "method": None,  # service mappings are always made by hand
            "score": None,
            "operator": m.operator,
            "created_at": utc_iso(m.mapped_at),
        }
        for m in services
    ]
    kinds = {"account": 0, "service": 1}
    rows.sort(key=lambda r: (kinds[r["kind"]], r["integration"], r["vendor_name"].casefold(),
                             str(r["psa_id"])))  # fmt: skip
    return rows


# --- audit -------------------------------------------------------------------------------------


def audit_rows() -> list[dict[str, Any]]:
    """The audit trail, oldest first."""
    return [
        {
            "at": utc_iso(e.at),
            "operator": e.operator,
            "action": e.action,
            "subject": e.subject,
            "before": e.before,
            "after": e.after,
            "detail": e.detail,
        }
        for e in AuditEvent.select().order_by(AuditEvent.at, AuditEvent.id)
    ]


# --- rendering ---------------------------------------------------------------------------------


def _cell(value: Any, raw: bool = False) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float | int):  # a match score, an id, a quantity
        return f"{value:.1f}" if isinstance(value, float) else str(value)
    if isinstance(value, dict | list):
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    else:
        text = str(value)
    return text if raw else printable(csv_cell(text), lines=True)


def json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


def render(rows: Sequence[dict[str, Any]], header: Sequence[str], fmt: str,
           raw: bool = False) -> str:  # fmt: skip
    """CSV or JSON text. CSV cells that would start a spreadsheet formula are neutralised and
    control characters shown as escapes, unless `raw`; JSON is always exact."""
    if fmt == "json":
        return json.dumps(list(rows), indent=2, default=json_default) + "\n"
    return csv_text([[_cell(row.get(column), raw) for column in header] for row in rows],
                    header)  # fmt: skip


def csv_text(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()
