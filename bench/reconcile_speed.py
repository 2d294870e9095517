"""Computing 20,000 reconciliation lines, beside a query-per-line baseline.

    python bench/reconcile_speed.py [--companies 10000]

A fresh SQLite store: N companies, two mapped products, one vendor account per company mapped
to it, two counts of history per (account, service), and agreement lines for most pairs, so
2 x N lines come out. Ours is `reconciliation_lines()` (best of 3); the baseline asks the
database once per line (the latest counts of the company's accounts, then its agreement lines),
timed over 500 lines and scaled to all of them, in the same run.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from peewee import fn

from msp_tui.reconcile import reconciliation_lines
from msp_tui.store.db import open_store, resolve_location, writing
from msp_tui.store.models import (
    AccountMapping,
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


def build(n: int) -> list[tuple[int, int]]:
    rng = random.Random(3)
    with writing():
        cw = PsaConnection.create(
            name="cw", site="https://x", company_identifier="c", client_id="i"
        )
        st = Integration.create(name="st", vendor="spamtitan", kind="pull")
        products = [PsaProduct.create(connection=cw, external_id=i, identifier=f"P{i}",
                                      price=Decimal("2.5")) for i in (1, 2)]  # fmt: skip
        services = [VendorService.create(integration=st, external_id=f"s{i}", name=f"S{i}")
                    for i in (1, 2)]  # fmt: skip
        for s, p in zip(services, products, strict=True):
            ServiceMapping.create(vendor_service=s, psa_product=p, operator="bench")
        for i in range(n):
            company = PsaCompany.create(connection=cw, external_id=i, identifier=f"C{i}",
                                        name=f"Company {i}")  # fmt: skip
            account = VendorAccount.create(integration=st, external_id=str(i), name=f"Company {i}")
            AccountMapping.create(vendor_account=account, psa_company=company, method="exact",
                                  operator="bench")  # fmt: skip
            agreement = PsaAgreement.create(connection=cw, external_id=i, company=company,
                                            name="MSA", agreement_status="Active")  # fmt: skip
            for j, (s, p) in enumerate(zip(services, products, strict=True)):
                for _ in range(2):
                    UsageCount.create(account=account, service=s, quantity=rng.randint(1, 50))
                if rng.random() < 0.85:
                    PsaAgreementLine.create(agreement=agreement, external_id=i * 2 + j, product=p,
                                            product_identifier=p.identifier,
                                            quantity=rng.randint(1, 50))  # fmt: skip
    return [(c, p) for c in range(1, n + 1) for p in (1, 2)]


def one_line(company_id: int, product_id: int) -> tuple:
    """What a query-per-line implementation does."""
    accounts = [m.vendor_account_id for m in
                AccountMapping.select().where(AccountMapping.psa_company == company_id)]  # fmt: skip
    services = [m.vendor_service_id for m in
                ServiceMapping.select().where(ServiceMapping.psa_product == product_id)]  # fmt: skip
    vendor = Decimal(0)
    for a in accounts:
        for s in services:
            latest = (UsageCount.select().where((UsageCount.account == a) & (UsageCount.service == s))
                      .order_by(UsageCount.id.desc()).first())  # fmt: skip
            vendor += latest.quantity if latest else 0
    psa = (PsaAgreementLine.select(fn.SUM(PsaAgreementLine.quantity)).join(PsaAgreement)
           .where((PsaAgreement.company == company_id) & (PsaAgreementLine.product == product_id))
           .scalar())  # fmt: skip
    return vendor, psa


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        open_store(resolve_location(str(Path(tmp, "r.db"))))
        pairs = build(args.companies)
        timings = []
        for _ in range(3):
            started = time.perf_counter()
            lines = reconciliation_lines()
            timings.append(time.perf_counter() - started)
        ours = min(timings)
        sample = pairs[:500]
        started = time.perf_counter()
        for company, product in sample:
            one_line(company, product)
        naive = (time.perf_counter() - started) * len(pairs) / len(sample)
    print(f"input: {args.companies:,} companies x 2 mapped products, {len(lines):,} lines")
    print(f"reconciliation_lines(): {ours:.3f} s (best of 3)")
    print(f"query per line: {naive:.1f} s (timed on {len(sample)} lines, scaled)")
    print(f"speed-up: {naive / ours:.0f}x")


if __name__ == "__main__":
    main()
