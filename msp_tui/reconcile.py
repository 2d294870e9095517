"""Reconciliation lines: what the vendor counts beside what the PSA bills, per company and product.

Vendor quantity = the sum of the latest count of every (mapped account, mapped service) pair,
over the accounts mapped to the company and the services mapped to the product (so two SKUs
mapped to one product add up, and one SKU mapped to two products counts toward both).
PSA quantity = the sum of the product's lines on the company's active agreements.

Statuses: `new_revenue` (vendor > 0, no PSA line), `reconcile` (they differ), `no_change`,
`no_vendor_data` (a PSA line, no count: shown as "-"), `unmapped` (a vendor account or service
with counts but no mapping, listed so that number can reach zero) and `stale` (the line is on a
cancelled agreement). Impact = quantity change x unit price.

Computed with a handful of queries and dictionaries, not one query per line: 20,000 lines must
take well under a second (bench/).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from peewee import fn

from msp_tui.store.models import (
    AccountMapping,
    Integration,
    PsaAgreement,
    PsaAgreementLine,
    PsaCompany,
    PsaProduct,
    ServiceMapping,
    UsageCount,
    VendorAccount,
    VendorService,
)

Status = Literal["new_revenue", "reconcile", "no_change", "no_vendor_data", "unmapped", "stale"]
STATUS_TITLES = {
    "new_revenue": "New revenue",
    "reconcile": "Reconcile",
    "no_change": "No change",
    "no_vendor_data": "No vendor data",
    "unmapped": "Unmapped",
    "stale": "Stale",
}
ZERO = Decimal(0)


@dataclass
class Source:
    """Where a vendor number came from, for the detail pane."""

    integration: str
    account: str
    service: str
    quantity: Decimal
    counted_at: object


@dataclass
class ReconciliationLine:
    status: Status
    company_id: int | None  # our PsaCompany row id; None for an unmapped vendor account
    company_external_id: int | None
    company_name: str
    product_id: int | None
    product_identifier: str
    vendor_quantity: Decimal | None  # None: no vendor data
    psa_quantity: Decimal | None  # None: no PSA line
    unit_price: Decimal | None
    line_ids: list[int] = field(default_factory=list)  # PsaAgreementLine row ids
    sources: list[Source] = field(default_factory=list)

    @property
    def change(self) -> Decimal:
        return (self.vendor_quantity or ZERO) - (self.psa_quantity or ZERO)

    @property
    def impact(self) -> Decimal:
        if self.status in ("no_vendor_data", "unmapped", "stale") or self.unit_price is None:
            return ZERO
        return self.change * self.unit_price


def _latest_counts() -> list[tuple[int, int, Decimal, object]]:
    latest = UsageCount.select(fn.MAX(UsageCount.id)).group_by(
        UsageCount.account, UsageCount.service
    )
    return list(
        UsageCount.select(
            UsageCount.account, UsageCount.service, UsageCount.quantity, UsageCount.counted_at
        )
        .where(UsageCount.id.in_(latest))
        .tuples()
    )


def reconciliation_lines() -> list[ReconciliationLine]:
    account_company = dict(
        AccountMapping.select(AccountMapping.vendor_account, AccountMapping.psa_company)
        .join(VendorAccount)
        .where(~VendorAccount.excluded)
        .tuples()
    )
    service_products: dict[int, list[int]] = defaultdict(list)
    for service_id, product_id in ServiceMapping.select(
        ServiceMapping.vendor_service, ServiceMapping.psa_product
    ).tuples():
        service_products[service_id].append(product_id)
    accounts = {
        a.id: a
        for a in VendorAccount.select(VendorAccount.id, VendorAccount.name, VendorAccount.excluded)
    }
    services = {s.id: s.name for s in VendorService.select(VendorService.id, VendorService.name)}
    integration_names = dict(
        VendorAccount.select(VendorAccount.id, Integration.name).join(Integration).tuples()
    )

    vendor: dict[tuple[int, int], Decimal] = defaultdict(Decimal)
    sources: dict[tuple[int, int], list[Source]] = defaultdict(list)
    unmapped: dict[int, list[Source]] = defaultdict(list)
    for account_id, service_id, quantity, counted_at in _latest_counts():
        account = accounts.get(account_id)
        if account is None or account.excluded:
            continue
        source = Source(integration_names.get(account_id, ""), account.name,
                        services.get(service_id, ""), quantity, counted_at)  # fmt: skip
        company = account_company.get(account_id)
        products = service_products.get(service_id)
        if company is None or not products:
            if quantity:
                unmapped[account_id].append(source)
            continue
        for product in products:
            vendor[(company, product)] += quantity
            sources[(company, product)].append(source)

    mapped_products = {p for ps in service_products.values() for p in ps}
    psa: dict[tuple[int, int], Decimal] = defaultdict(Decimal)
    stale: dict[tuple[int, int], Decimal] = defaultdict(Decimal)
    price: dict[tuple[int, int], Decimal | None] = {}
    line_ids: dict[tuple[int, int], list[int]] = defaultdict(list)
    rows = (
        PsaAgreementLine.select(
            PsaAgreementLine.id, PsaAgreement.company, PsaAgreementLine.product,
            PsaAgreementLine.quantity, PsaAgreementLine.unit_price, PsaAgreement.cancelled,
            PsaAgreement.agreement_status, PsaAgreementLine.cancelled_date,
        )
        .join(PsaAgreement)
        .where(PsaAgreementLine.product.in_(list(mapped_products)))
        .tuples()
    )  # fmt: skip
    for line_id, company, product, quantity, unit_price, cancelled, status, line_cancelled in rows:
        key = (company, product)
        if cancelled or status == "Cancelled":
            stale[key] += quantity
            line_ids[key].append(line_id)
            continue
        if line_cancelled is not None:
            continue
        psa[key] += quantity
        line_ids[key].append(line_id)
        if unit_price is not None:
            price[key] = unit_price

    companies = {
        c.id: c for c in PsaCompany.select(PsaCompany.id, PsaCompany.external_id, PsaCompany.name)
    }
    products = {p.id: p for p in PsaProduct.select(PsaProduct.id, PsaProduct.identifier,
                                                   PsaProduct.price)}  # fmt: skip
    lines: list[ReconciliationLine] = []
    for key in sorted(set(vendor) | set(psa) | set(stale)):
        company, product = companies.get(key[0]), products.get(key[1])
        if company is None or product is None:
            continue
        has_vendor, has_psa = key in vendor, key in psa
        if has_psa and has_vendor:
            status: Status = "no_change" if psa[key] == vendor[key] else "reconcile"
        elif has_psa:
            status = "no_vendor_data"
        elif has_vendor and key in stale:
            status = "stale"
        elif has_vendor:
            status = "new_revenue" if vendor[key] > 0 else "no_change"
        else:
            status = "stale"
        lines.append(ReconciliationLine(
            status, company.id, company.external_id, company.name, product.id, product.identifier,
            vendor[key] if has_vendor else None,
            psa[key] if has_psa else (stale[key] if status == "stale" else None),
            price.get(key, product.price), line_ids.get(key, []), sources.get(key, []),
        ))  # fmt: skip
    for account_id, found in unmapped.items():
        total = sum((s.quantity for s in found), ZERO)
        lines.append(ReconciliationLine(
            "unmapped", None, None, accounts[account_id].name, None,
            ", ".join(sorted({s.service for s in found})), total, None, None, [], found,
        ))  # fmt: skip
    return lines
