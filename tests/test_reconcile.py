"""Reconciliation lines over small fixtures: every status, aggregation, many-to-one mappings."""

from __future__ import annotations

from decimal import Decimal

from msp_tui.context import Context
from msp_tui.reconcile import reconciliation_lines
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


class World:
    """A tiny PSA and two vendors, built row by row."""

    def __init__(self) -> None:
        self.cw = PsaConnection.create(name="cw", site="https://x", company_identifier="c",
                                       client_id="id")  # fmt: skip
        self.st = Integration.create(name="st", vendor="spamtitan", kind="pull")
        self.mp = Integration.create(name="mp", vendor="mailprotector", kind="push")
        self.n = 0

    def _next(self) -> int:
        self.n += 1
        return self.n

    def company(self, name: str) -> PsaCompany:
        return PsaCompany.create(connection=self.cw, external_id=self._next(), identifier=name,
                                 name=name)  # fmt: skip

    def product(self, identifier: str, price: str = "2.50") -> PsaProduct:
        return PsaProduct.create(connection=self.cw, external_id=self._next(),
                                 identifier=identifier, price=Decimal(price))  # fmt: skip

    def line(
        self, company, product, quantity, *, cancelled=False, price="3.00"
    ) -> PsaAgreementLine:
        agreement = PsaAgreement.create(
            connection=self.cw, external_id=self._next(), company=company, name="MSA",
            agreement_status="Cancelled" if cancelled else "Active", cancelled=cancelled,
        )  # fmt: skip
        return PsaAgreementLine.create(
            agreement=agreement, external_id=self._next(), product=product,
            product_identifier=product.identifier, quantity=quantity, unit_price=Decimal(price),
        )  # fmt: skip

    def account(self, integration, name, company=None) -> VendorAccount:
        account = VendorAccount.create(integration=integration, external_id=str(self._next()),
                                       name=name)  # fmt: skip
        if company is not None:
            AccountMapping.create(vendor_account=account, psa_company=company, method="manual",
                                  operator="t")  # fmt: skip
        return account

    def service(self, integration, name, *products) -> VendorService:
        service = VendorService.create(integration=integration, external_id=str(self._next()),
                                       name=name)  # fmt: skip
        for product in products:
            ServiceMapping.create(vendor_service=service, psa_product=product, operator="t")
        return service

    def count(self, account, service, quantity) -> None:
        UsageCount.create(account=account, service=service, quantity=quantity)


def by_company(lines):
    return {(line.company_name, line.product_identifier): line for line in lines}


def test_every_status_aggregation_and_many_to_one(ctx: Context) -> None:
    w = World()
    licenses = w.product("ST-TOTAL-LIC")
    filtering = w.product("MP-FILTER", price="1.00")
    acme, globex, initech, hooli, umbrella = (
        w.company(n) for n in ("Acme", "Globex", "Initech", "Hooli", "Umbrella")
    )
    total = w.service(w.st, "Total Licenses", licenses)
    cloudfilter = w.service(w.mp, "CloudFilter", filtering)
    safesend = w.service(w.mp, "SafeSend", filtering)  # many-to-one: two SKUs, one product

    # Acme: two SpamTitan groups add up (10 + 5) = PSA 15 -> no change
    w.count(w.account(w.st, "acme.com", acme), total, 10)
    w.count(w.account(w.st, "acme-labs.com", acme), total, 5)
    w.line(acme, licenses, 15)
    # Acme on Mailprotector: CloudFilter 7 + SafeSend 3 = 10 against PSA 8 -> reconcile
    mp_acme = w.account(w.mp, "Acme Inc", acme)
    w.count(mp_acme, cloudfilter, 4)
    w.count(mp_acme, cloudfilter, 7)  # the latest count wins
    w.count(mp_acme, safesend, 3)
    w.line(acme, filtering, 8)
    # Globex: vendor 12, no PSA line -> new revenue
    w.count(w.account(w.st, "Globex", globex), total, 12)
    # Initech: a PSA line, no count -> no vendor data
    w.line(initech, licenses, 9)
    # Hooli: a line on a cancelled agreement -> stale
    w.count(w.account(w.st, "Hooli", hooli), total, 4)
    w.line(hooli, licenses, 6, cancelled=True)
    # Umbrella: a line for a product nobody maps is not reconciled at all
    w.line(umbrella, w.product("MANAGED-WS"), 20)
    # an account with counts but no company -> unmapped
    w.count(w.account(w.st, "Mystery Dental"), total, 6)
    # an excluded account is left out
    excluded = w.account(w.st, "test.local")
    excluded.excluded = True
    excluded.save()
    w.count(excluded, total, 99)

    lines = by_company(reconciliation_lines())
    assert set(lines) == {
        ("Acme", "ST-TOTAL-LIC"), ("Acme", "MP-FILTER"), ("Globex", "ST-TOTAL-LIC"),
        ("Initech", "ST-TOTAL-LIC"), ("Hooli", "ST-TOTAL-LIC"),
        ("Mystery Dental", "Total Licenses"),
    }  # fmt: skip
    acme_st = lines[("Acme", "ST-TOTAL-LIC")]
    assert (acme_st.status, acme_st.vendor_quantity, acme_st.psa_quantity) == ("no_change", 15, 15)
    assert len(acme_st.sources) == 2 and acme_st.impact == 0
    acme_mp = lines[("Acme", "MP-FILTER")]
    assert (acme_mp.status, acme_mp.vendor_quantity, acme_mp.psa_quantity) == ("reconcile", 10, 8)
    assert acme_mp.impact == Decimal("6.00")  # 2 more x 3.00 on the agreement line
    globex = lines[("Globex", "ST-TOTAL-LIC")]
    assert (globex.status, globex.vendor_quantity, globex.psa_quantity) == ("new_revenue", 12, None)
    assert globex.impact == Decimal("30.00")  # 12 x the catalog price 2.50
    initech = lines[("Initech", "ST-TOTAL-LIC")]
    assert (initech.status, initech.vendor_quantity, initech.psa_quantity) == (
        "no_vendor_data", None, 9)  # fmt: skip
    assert lines[("Hooli", "ST-TOTAL-LIC")].status == "stale"
    mystery = lines[("Mystery Dental", "Total Licenses")]
    assert (mystery.status, mystery.company_id, mystery.vendor_quantity) == ("unmapped", None, 6)


def test_one_sku_mapped_to_two_products_counts_toward_both(ctx: Context) -> None:
    w = World()
    a, b = w.product("BUNDLE-A"), w.product("BUNDLE-B")
    acme = w.company("Acme")
    bundle = w.service(w.mp, "BracketBundle", a, b)
    w.count(w.account(w.mp, "Acme", acme), bundle, 5)
    lines = by_company(reconciliation_lines())
    assert lines[("Acme", "BUNDLE-A")].vendor_quantity == 5
    assert lines[("Acme", "BUNDLE-B")].vendor_quantity == 5
