"""Reconciliation lines: what the vendor counts beside what the PSA bills, per company and product.

Vendor quantity = the sum of the latest count of every (mapped account, mapped service) pair,
over the accounts mapped to the company and the services mapped to the product (so two SKUs
mapped to one product add up, and one SKU mapped to two products counts toward both).
PSA quantity = the sum of the product's lines on the company's active agreements.

Statuses: `new_revenue` (vendor > 0, no PSA line), `reconcile` (they differ), `no_change`,
`no_vendor_data` (a PSA line, no count: shown as "-"), `unmapped` (a vendor account or service
with counts but no mapping, listed so that number can reach zero) and `stale` (the line is on a
cancelled agreement). Impact = quantity change x unit price.

A PSA that bills whole units (Autotask) gets whole vendor quantities: each integration's part of
a line is rounded by that integration's policy (`rounding` in its config: up, the default, down
or nearest), and the line keeps the count before rounding to say so ("12.4 -> 13, rounded up").

Computed with a handful of queries and dictionaries, not one query per line: 20,000 lines must
take well under a second (bench/).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from functools import cached_property
from typing import Literal

from peewee import fn

from msp_tui.statuses import STATUS_TITLES, Status
from msp_tui.store.models import (
    AccountMapping,
    Decision,
    Integration,
    PsaAgreement,
    PsaAgreementLine,
    PsaCompany,
    PsaConnection,
    PsaProduct,
    ServiceMapping,
    UsageCount,
    VendorAccount,
    VendorService,
)

ZERO = Decimal(0)
ROUNDING = {"up": ROUND_CEILING, "down": ROUND_FLOOR, "nearest": ROUND_HALF_UP}
DEFAULT_ROUNDING = "up"


@dataclass
class Source:
    """Where a vendor number came from, for the detail pane."""

    integration: str
    vendor: str
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
    decision: Decision | None = None  # the latest decision this period (see `with_decisions`)
    counted: Decimal | None = None  # the vendor's count before rounding to whole units
    rounding: str | None = None  # how it was rounded: up, down, nearest (or "each source's")

    @property
    def key(self) -> tuple[int | None, int | None]:
        return (self.company_id, self.product_id)

    @property
    def change(self) -> Decimal:
        return (self.vendor_quantity or ZERO) - (self.psa_quantity or ZERO)

    @property
    def rounding_note(self) -> str | None:
        """ "12.4 -> 13, rounded up", when the vendor's count was rounded for the PSA."""
        if self.counted is None or self.vendor_quantity is None:
            return None
        return f"{self.counted.normalize():f} -> {self.vendor_quantity:f}, rounded {self.rounding}"

    # Computed once: sorting and filtering 20,000 lines asked each of them many times. A line's
    # numbers are set when it is made (`reconciliation_lines`) and not changed afterwards.
    @cached_property
    def impact(self) -> Decimal:
        if self.status in ("no_vendor_data", "unmapped", "stale") or self.unit_price is None:
            return ZERO
        return self.change * self.unit_price

    @cached_property
    def search_text(self) -> str:
        """What a search looks in: company, product and the vendor accounts, lower case."""
        accounts = " ".join(s.account for s in self.sources)
        return f"{self.company_name} {self.product_identifier} {accounts}".lower()


def agreement_cancelled(cancelled: bool, status: str | None) -> bool:
    """ConnectWise marks a cancelled agreement by its flag or by its status."""
    return bool(cancelled) or status == "Cancelled"


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
    integration_names = {
        account_id: (name, vendor)
        for account_id, name, vendor in VendorAccount.select(
            VendorAccount.id, Integration.name, Integration.vendor
        )
        .join(Integration)
        .tuples()
    }

    vendor: dict[tuple[int, int], Decimal] = defaultdict(Decimal)
    sources: dict[tuple[int, int], list[Source]] = defaultdict(list)
    unmapped: dict[int, list[Source]] = defaultdict(list)
    for account_id, service_id, quantity, counted_at in _latest_counts():
        account = accounts.get(account_id)
        if account is None or account.excluded:
            continue
        source = Source(*integration_names.get(account_id, ("", "")), account.name,
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

    counted, rounding = _whole_units(vendor, sources) if psa_whole_units() else ({}, {})

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
        if agreement_cancelled(cancelled, status):
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
            counted=counted.get(key) if has_vendor else None, rounding=rounding.get(key),
        ))  # fmt: skip
    for account_id, found in unmapped.items():
        total = sum((s.quantity for s in found), ZERO)
        lines.append(ReconciliationLine(
            "unmapped", None, None, accounts[account_id].name, None,
            ", ".join(sorted({s.service for s in found})), total, None, None, [], found,
        ))  # fmt: skip
    return lines


def psa_whole_units() -> bool:
    """Whether the store's PSA bills whole units only."""
    from msp_tui.sources import psa_words

    kinds = PsaConnection.select(PsaConnection.kind).tuples()
    return any(psa_words(kind).whole_units for (kind,) in kinds)


def rounding_policies() -> dict[str, str]:
    """Each integration's rounding policy, by name."""
    rows = Integration.select(Integration.name, Integration.config).tuples()
    return {name: (config or {}).get("rounding", DEFAULT_ROUNDING) for name, config in rows}


def _whole_units(
    vendor: dict[tuple[int, int], Decimal], sources: dict[tuple[int, int], list[Source]]
) -> tuple[dict[tuple[int, int], Decimal], dict[tuple[int, int], str]]:
    """Round each line's vendor quantity in place, each integration's part by its policy;
    return the counts before rounding and the policy used, for the lines that changed."""
    policies = rounding_policies()
    counted: dict[tuple[int, int], Decimal] = {}
    used: dict[tuple[int, int], str] = {}
    for key, found in sources.items():
        parts: dict[str, Decimal] = defaultdict(Decimal)
        for source in found:
            parts[source.integration] += source.quantity
        total = sum(
            (q.to_integral_value(ROUNDING.get(policies.get(name, ""), ROUND_CEILING))
             for name, q in parts.items()),
            ZERO,
        )  # fmt: skip
        if total != vendor[key]:
            counted[key], vendor[key] = vendor[key], total
            named = {policies.get(name, DEFAULT_ROUNDING) for name in parts}
            used[key] = named.pop() if len(named) == 1 else "by each source's policy"
    return counted, used


# --- decisions: handled lines leave the list for the period -------------------------------------


def with_decisions(lines: list[ReconciliationLine], period: str) -> list[ReconciliationLine]:
    """Attach each line's latest decision of `period` (one query for all of them)."""
    latest: dict[tuple[int, int], Decision] = {}
    for decision in Decision.select().where(Decision.period == period).order_by(Decision.id):
        latest[(decision.psa_company_id, decision.psa_product_id)] = decision
    for line in lines:
        line.decision = latest.get(line.key)  # type: ignore[arg-type]
    return lines


def needs_a_look(line: ReconciliationLine) -> bool:
    """A push that ended in a conflict or failed: the operator must decide again or retry."""
    return line.decision is not None and line.decision.state in ("conflict", "failed")


def is_handled(line: ReconciliationLine) -> bool:
    """Decided this period, and the numbers are still the ones the decision was made on.

    A dismissed line stays away while vendor and PSA say what they said; an approved or
    adjusted one while the PSA holds what it held or what was written. A conflict or a failed
    push needs the operator, so it stays in the list; so does any line a sync has changed.
    """
    decision = line.decision
    if decision is None or needs_a_look(line):
        return False
    if decision.vendor_quantity != line.vendor_quantity:
        return False
    if decision.state == "dismissed":
        return decision.psa_quantity_seen == line.psa_quantity
    return line.psa_quantity in (decision.psa_quantity_seen, decision.target_quantity)


# --- what the screen shows: filtered, grouped, sorted rows --------------------------------------

GroupBy = Literal["company", "service"]
SortBy = Literal["name", "impact"]
TO_REVIEW = "to_review"
HANDLED = "handled"
ALL = "all"
FILTERS: dict[str, str] = {
    TO_REVIEW: "To review",
    HANDLED: "Handled",
    ALL: "All",
    **STATUS_TITLES,
}
UNMAPPED_GROUP = "Unmapped vendor accounts"


@dataclass
class Group:
    """A heading row: a company (or a product) and what its lines add up to."""

    title: str
    lines: list[ReconciliationLine]

    @cached_property
    def impact(self) -> Decimal:
        return sum((line.impact for line in self.lines), ZERO)

    @cached_property
    def size(self) -> Decimal:
        """Gains and losses alike: how much the group moves revenue (the impact sort)."""
        return sum((abs(line.impact) for line in self.lines), ZERO)


def shown(line: ReconciliationLine, which: str) -> bool:
    if which == ALL:
        return True
    handled = is_handled(line)
    if which == HANDLED:
        return handled
    if which == TO_REVIEW:
        return not handled and line.status != "no_change"
    return not handled and line.status == which


def line_vendors(line: ReconciliationLine) -> set[str]:
    return {s.integration for s in line.sources}


def arrange(
    lines: list[ReconciliationLine],
    *,
    which: str = TO_REVIEW,
    integration: str | None = None,
    query: str = "",
    group_by: GroupBy = "company",
    sort_by: SortBy = "name",
) -> list[Group | ReconciliationLine]:
    """The rows of the reconciliation table: a `Group` heading, then its lines, per group."""
    words = query.lower().split()
    kept = [
        line
        for line in lines
        if shown(line, which)
        and (integration is None or integration in line_vendors(line))
        and (not words or all(w in line.search_text for w in words))
    ]
    groups: dict[str, list[ReconciliationLine]] = defaultdict(list)
    for line in kept:
        if line.status == "unmapped":
            title = UNMAPPED_GROUP
        else:
            title = line.company_name if group_by == "company" else line.product_identifier
        groups[title].append(line)

    def inner(line: ReconciliationLine) -> tuple:
        name = line.product_identifier if group_by == "company" else line.company_name
        if sort_by == "impact":
            return (-abs(line.impact), name.lower())
        return (name.lower(),)

    ordered = [Group(title, sorted(members, key=inner)) for title, members in groups.items()]
    if sort_by == "impact":
        ordered.sort(
            key=lambda g: (
                g.title == UNMAPPED_GROUP,
                -g.size,
                g.title.lower(),
            )
        )
    else:
        ordered.sort(key=lambda g: (g.title == UNMAPPED_GROUP, g.title.lower()))
    rows: list[Group | ReconciliationLine] = []
    for group in ordered:
        rows.append(group)
        rows.extend(group.lines)
    return rows


@dataclass(frozen=True)
class ReviewSummary:
    to_review: int
    impact: Decimal
    need_a_look: int  # conflicts and failed pushes


def review_summary(period: str) -> ReviewSummary:
    """What the Home card says about reconciliation."""
    lines = with_decisions(reconciliation_lines(), period)
    open_lines = [line for line in lines if shown(line, TO_REVIEW)]
    trouble = sum(1 for line in lines if needs_a_look(line))
    return ReviewSummary(len(open_lines), sum((line.impact for line in open_lines), ZERO), trouble)
