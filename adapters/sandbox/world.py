"""A seeded, made-up MSP: ConnectWise companies, catalog and agreements on one side, SpamTitan
domain groups with daily licence counts on the other, disagreeing in every way reconciliation
has to handle. Everything comes from one `random.Random(seed)`, so a seed is a fixture.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from adapters.sandbox.names import NameMaker, exact_variant, near_variant, squash

SPAMTITAN_PRODUCT = "ST-TOTAL-LIC"
USAGE_DAYS = 60

# Situations a SpamTitan group's company can be in, as reconciliation will see them.
NO_CHANGE = "no_change"
RECONCILE = "reconcile"
NEW_REVENUE = "new_revenue"
NO_VENDOR_DATA = "no_vendor_data"
STALE = "stale"
SITUATION_WEIGHTS = {NO_CHANGE: 45, RECONCILE: 25, NEW_REVENUE: 12, NO_VENDOR_DATA: 10, STALE: 8}

# (Product ID, description, price, cost, recurring, inactive)
CATALOG = [
    ("MANAGED-WS", "Managed workstation", 65.0, 0.0, True, False),
    ("MANAGED-SRV", "Managed server", 150.0, 0.0, True, False),
    ("MS-O365-E3", "Microsoft 365 E3 (NCE, monthly)", 36.0, 33.0, True, False),
    ("MS-O365-BP", "Microsoft 365 Business Premium", 22.0, 22.0, True, False),
    ("BACKUP-1TB", "Cloud backup, 1 TB block", 45.0, 18.0, True, False),
    ("ST-ONPREM-LIC", "SpamTitan on-premise licence (retired)", 1.5, 0.9, True, True),
    (SPAMTITAN_PRODUCT, "SpamTitan Email Security - Total Licenses", 2.5, 1.1, True, False),
    ("MP-CLOUDFILTER", "Mailprotector CloudFilter", 2.0, 0.85, True, False),
    ("MP-CLOUDMAIL", "Mailprotector CloudMail mailbox", 4.0, 1.8, True, False),
    ("MP-SAFESEND", "Mailprotector SafeSend", 1.0, 0.4, True, False),
    ("MP-XTRAMAIL", "Mailprotector XtraMail", 1.5, 0.6, True, False),
    ("MP-SECURESTORE", "Mailprotector SecureStore archiving", 3.0, 1.2, True, False),
    ("FW-MGMT", "Managed firewall", 55.0, 0.0, True, False),
    ("LABOR-REMOTE", "Remote support, per hour", 125.0, 0.0, False, False),
]
_EVERYDAY_PRODUCTS = ["MANAGED-WS", "MANAGED-SRV", "MS-O365-E3", "MS-O365-BP", "BACKUP-1TB"]
_MAILPROTECTOR = ["MP-CLOUDFILTER", "MP-CLOUDMAIL", "MP-SAFESEND", "MP-XTRAMAIL", "MP-SECURESTORE"]
BOARDS = ["Help Desk", "Alerts", "Projects", "Billing", "Onboarding"]


@dataclass
class PsaCompany:
    id: int
    identifier: str
    name: str
    website: str | None
    status: str = "Active"
    types: list[str] = field(default_factory=lambda: ["Customer"])
    deleted_flag: bool = False


@dataclass
class CatalogItem:
    id: int
    identifier: str
    description: str
    price: float
    cost: float
    recurring_flag: bool = True
    inactive_flag: bool = False


@dataclass
class Agreement:
    id: int
    name: str
    company_id: int
    status: str = "Active"  # ConnectWise agreementStatus: "Active" or "Cancelled"
    billing_cycle: str | None = "Monthly"

    @property
    def cancelled_flag(self) -> bool:
        return self.status == "Cancelled"


@dataclass
class Addition:
    id: int
    agreement_id: int
    product_id: int
    quantity: float
    unit_price: float
    effective_date: date
    less_included: float = 0.0
    bill_customer: str = "Billable"  # Billable | DoNotBill | NoCharge
    cancelled_date: date | None = None
    status: str = "Active"  # the addition's own agreementStatus


@dataclass
class ServiceBoard:
    id: int
    name: str


@dataclass
class Ticket:
    id: int
    summary: str
    board_id: int
    company_id: int
    initial_description: str
    priority_id: int
    entered: datetime
    external_xref: str | None = None  # the caller's own reference (ConnectWise externalXRef)


@dataclass
class DomainGroup:
    id: int
    name: str
    description: str
    domains: dict[str, int]  # domain name -> SpamTitan domain id
    usage: dict[date, int]  # licences in use per day; empty when the customer sends no mail


@dataclass
class World:
    seed: int
    today: date
    companies: dict[int, PsaCompany] = field(default_factory=dict)
    catalog: dict[int, CatalogItem] = field(default_factory=dict)
    agreements: dict[int, Agreement] = field(default_factory=dict)
    additions: dict[int, Addition] = field(default_factory=dict)
    boards: dict[int, ServiceBoard] = field(default_factory=dict)
    tickets: dict[int, Ticket] = field(default_factory=dict)
    domain_groups: dict[int, DomainGroup] = field(default_factory=dict)
    # Ground truth for tests: group id -> the PSA company it belongs to, None for no company.
    truth: dict[int, int | None] = field(default_factory=dict)
    # ... and the situation each mapped group's company was built to be in.
    situations: dict[int, str] = field(default_factory=dict)
    # Fake sandbox credentials; nothing real is ever accepted or sent.
    spamtitan_email: str = "admin@sandbox.example"
    spamtitan_password: str = "sandbox-password"  # noqa: S105 - fake sandbox credential
    spamtitan_token: str = "1|sandbox-spamtitan-token"  # noqa: S105 - fake sandbox credential
    cw_company_id: str = "sandbox"
    cw_company_name: str = "Sandbox MSP"
    cw_public_key: str = "SandboxPublicKey"
    cw_private_key: str = "SandboxPrivateKey"
    cw_client_id: str = "6f1c2a8e-3b7d-4e59-9a0c-5d2e8f4b1a37"
    at_username: str = "sandbox-api@sandbox.example"
    at_secret: str = "SandboxAutotaskSecret"  # noqa: S105 - fake sandbox credential
    at_integration_code: str = "SANDBOXINTEGRATIONCODE01"
    halo_client_id: str = "sandbox-halo-client"
    halo_client_secret: str = "SandboxHaloSecret"  # noqa: S105 - fake sandbox credential
    halo_tenant: str = "sandbox"
    _by_agreement: dict[int, list[Addition]] = field(default_factory=dict, repr=False)
    _next_id: dict[str, int] = field(default_factory=dict, repr=False)

    def next_id(self, kind: str, start: int) -> int:
        """Ids per kind, counting up from `start`; the simulators call this for new records."""
        self._next_id[kind] = self._next_id.get(kind, start - 1) + 1
        return self._next_id[kind]

    def product(self, identifier: str) -> CatalogItem | None:
        return next((i for i in self.catalog.values() if i.identifier == identifier), None)

    def add_addition(self, addition: Addition) -> Addition:
        self.additions[addition.id] = addition
        self._by_agreement.setdefault(addition.agreement_id, []).append(addition)
        return addition

    def agreement_additions(self, agreement_id: int) -> list[Addition]:
        return list(self._by_agreement.get(agreement_id, []))

    def reporting_window(self, days: int = 30) -> tuple[date, date]:
        """The vendor's usual window: the last `days` days, today (which has no data) included."""
        return self.today - timedelta(days=days), self.today

    def expected_max_usage(self, group_id: int, start: date, end: date) -> int:
        usage = self.domain_groups[group_id].usage
        return max((n for day, n in usage.items() if start <= day <= end), default=0)


def build_world(
    seed: int = 7,
    companies: int = 300,
    domain_groups: int | None = None,
    today: date | None = None,
) -> World:
    rng = random.Random(seed)  # noqa: S311 - test data, not cryptography
    world = World(seed=seed, today=today or datetime.now(UTC).date())
    names = NameMaker(rng)
    for n, (ident, desc, price, cost, recurring, inactive) in enumerate(CATALOG):
        world.catalog[101 + n] = CatalogItem(101 + n, ident, desc, price, cost, recurring, inactive)
    for n, board in enumerate(BOARDS):
        world.boards[n + 1] = ServiceBoard(n + 1, board)
    identifiers: set[str] = set()
    made = [_company(world, rng, names, identifiers) for _ in range(companies)]
    bases = {company.id: base for company, base in made}

    customers = [
        c for c in world.companies.values() if not c.deleted_flag and "Prospect" not in c.types
    ]
    rng.shuffle(customers)
    n_groups = round(companies * 0.8) if domain_groups is None else domain_groups
    n_mapped = min(len(customers), n_groups - round(n_groups * 0.1))
    kinds = _shuffled(rng, n_mapped, {"exact": 67, "near": 22, "unrelated": 11})
    situations = _shuffled(rng, n_mapped, SITUATION_WEIGHTS)
    unmatched = sorted(customers[n_mapped:], key=lambda c: c.id)
    groups = []
    for company, kind, situation in zip(customers, kinds, situations, strict=False):
        domain = company.website or f"{squash(bases[company.id]).lower()}.com"
        if kind == "exact":
            name = exact_variant(rng, company.name, bases[company.id])
        elif kind == "near":
            name = near_variant(rng, bases[company.id], domain)
        else:
            name = names.unrelated()
        groups.append((name, [domain], company, situation))
    for _ in range(n_groups - n_mapped):  # SpamTitan customers with no PSA company at all
        name, base = names.company()
        groups.append((name, [f"{squash(base).lower()}.net"], None, NEW_REVENUE))
    rng.shuffle(groups)

    for gid, (name, domains, company, situation) in enumerate(groups, start=12):
        peak = max(1, min(900, round(rng.lognormvariate(3.0, 0.9))))
        silent = situation == NO_VENDOR_DATA or (situation == STALE and rng.random() < 0.5)
        usage = {} if silent else _usage_series(rng, world.today, peak)
        ids = {d: world.next_id("domain", 101) for d in domains}
        desc = rng.choice(["", f"Primary domain {domains[0]}", "Migrated from on-premise"])
        world.domain_groups[gid] = DomainGroup(gid, name, desc, ids, usage)
        world.truth[gid] = company.id if company else None
        if company is not None:
            world.situations[gid] = situation
            _agreements(world, rng, company, situation, peak if usage else 0)
    for company in unmatched:
        if rng.random() < 0.6:
            _agreements(world, rng, company, None, 0)
    return world


def _company(
    world: World, rng: random.Random, names: NameMaker, identifiers: set[str]
) -> tuple[PsaCompany, str]:
    name, base = names.company()
    cid = world.next_id("company", 250) + rng.randrange(3)  # real ids have gaps
    world._next_id["company"] = cid
    identifier, n = squash(base)[:25], 1
    while identifier in identifiers:  # CW identifiers are unique and at most 25 characters
        n += 1
        identifier = f"{squash(base)[:22]}{n}"
    identifiers.add(identifier)
    website = None
    if rng.random() < 0.7:
        words = re.findall(r"[a-z0-9]+", base.lower().replace("'", "").replace("&", " and "))
        label = squash(base).lower() if rng.random() < 0.7 else "-".join(words)
        website = label + rng.choice([".com"] * 6 + [".net", ".us", ".co", ".org"])
    roll = rng.random()
    types = ["Prospect"] if roll < 0.05 else ["Customer", "Partner"] if roll > 0.97 else None
    company = PsaCompany(cid, identifier, name, website, types=types or ["Customer"])
    company.deleted_flag = rng.random() < 0.02
    world.companies[cid] = company
    return company, base


def _shuffled(rng: random.Random, n: int, weights: dict[str, int]) -> list[str]:
    """n labels in proportion to weights, every label at least once when n allows."""
    labels = list(weights)[:n]
    labels += rng.choices(list(weights), weights=list(weights.values()), k=max(0, n - len(labels)))
    rng.shuffle(labels)
    return labels


def _usage_series(rng: random.Random, today: date, peak: int) -> dict[date, int]:
    """Sixty days ending yesterday. The peak falls 3-20 days ago and nothing up to 36 days ago
    exceeds it, so any reasonable 30-day window finds the same maximum; older days may be higher
    (a customer that shrank), which catches a window that is too wide."""
    peak_day = rng.randint(3, 20)
    older = peak + rng.randint(1, max(2, peak // 4)) if rng.random() < 0.3 else peak
    series = {}
    for ago in range(1, USAGE_DAYS + 1):
        day = today - timedelta(days=ago)
        level = older if ago > 36 else peak
        n = level - rng.randint(0, max(1, level // 8))
        dip = rng.randint(0, max(1, level // 5))  # drawn every day: the date must not move the rng
        if day.weekday() >= 5:  # quieter mail at weekends
            n -= dip
        series[day] = peak if ago == peak_day else max(0, min(n, level))
    return series


def _agreements(
    world: World, rng: random.Random, company: PsaCompany, situation: str | None, usage: int
) -> None:
    """A managed-services agreement with everyday lines, plus the SpamTitan line the situation
    calls for."""
    main = _agreement(world, company, "Managed Services", "Active")
    for identifier in rng.sample(_EVERYDAY_PRODUCTS, rng.randint(1, 3)):
        _line(world, rng, main, identifier, rng.randint(1, 40))
    if rng.random() < 0.15:
        _line(world, rng, main, rng.choice(_MAILPROTECTOR), rng.randint(2, 60))
    if rng.random() < 0.1:  # block hours bill on use, not on a cycle
        block = _agreement(world, company, "Block Hours", "Active", billing_cycle=None)
        _line(world, rng, block, "LABOR-REMOTE", 10, bill="NoCharge")
    if situation in (NO_CHANGE, RECONCILE, NO_VENDOR_DATA):
        quantity = usage if situation == NO_CHANGE else _drifted(rng, usage)
        _line(world, rng, main, SPAMTITAN_PRODUCT, quantity, bill="Billable")
    elif situation == STALE:
        old = _agreement(world, company, "Email Security (old)", "Cancelled")
        _line(world, rng, old, SPAMTITAN_PRODUCT, rng.randint(3, 60), bill="Billable")
        if usage:  # renewed on the new agreement; the cancelled line was left behind
            _line(world, rng, main, SPAMTITAN_PRODUCT, usage, bill="Billable")


def _drifted(rng: random.Random, usage: int) -> int:
    if usage == 0:
        return rng.randint(3, 60)
    delta = rng.choice([-1, 1]) * rng.randint(1, max(1, usage // 3))
    return usage + delta if usage + delta >= 0 else usage + abs(delta)


def _agreement(
    world: World, company: PsaCompany, kind: str, status: str, billing_cycle: str | None = "Monthly"
) -> Agreement:
    aid = world.next_id("agreement", 1001)
    agreement = Agreement(aid, f"{company.identifier} - {kind}", company.id, status, billing_cycle)
    world.agreements[aid] = agreement
    return agreement


def _line(
    world: World,
    rng: random.Random,
    agreement: Agreement,
    identifier: str,
    quantity: int,
    bill: str | None = None,
) -> None:
    item = world.product(identifier)
    assert item is not None, identifier
    months = world.today.year * 12 + world.today.month - 1 - rng.randint(1, 36)
    effective = date(months // 12, months % 12 + 1, 1)
    bill = bill or rng.choices(["Billable", "DoNotBill", "NoCharge"], weights=[92, 5, 3])[0]
    world.add_addition(
        Addition(
            id=world.next_id("addition", 5001),
            agreement_id=agreement.id,
            product_id=item.id,
            quantity=float(quantity),
            unit_price=item.price,
            effective_date=effective,
            bill_customer=bill,
        )
    )
