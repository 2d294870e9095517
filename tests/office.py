"""A small MSP in the store, written directly with fixed names and times: the PSA with four
companies, SpamTitan synced (three accounts mapped, one not), agreement lines that differ,
agree and are missing. For tests whose output must not change from day to day (snapshots)."""

from __future__ import annotations

from datetime import date, datetime

from msp_tui.store.models import (
    AccountMapping,
    Integration,
    PsaAgreement,
    PsaAgreementLine,
    PsaCompany,
    PsaConnection,
    PsaProduct,
    ServiceMapping,
    SyncRun,
    UsageCount,
    VendorAccount,
    VendorService,
)

AT = datetime(2026, 11, 30, 9, 15)
# company, PSA quantity on its agreement (None: no line), SpamTitan's count (None: no account)
CUSTOMERS = (
    ("Acme Dental", 10, 12),
    ("Birch & Vale Law", 5, 5),
    ("Cobalt Freight", None, 7),
    ("Dunmore Clinic", 8, None),
)
UNMAPPED_ACCOUNT = "Unknown Holdings"


def office(run: str = "ok", error: str | None = None) -> Integration:
    """Everything above, the latest SpamTitan sync run ending `run` (ok or failed)."""
    psa = PsaConnection.create(name="connectwise", site="https://cw.example.com",
                               company_identifier="example", client_id="client",
                               status="active", last_sync_at=AT)  # fmt: skip
    SyncRun.create(psa_connection=psa, status="ok", started_at=AT, finished_at=AT)
    product = PsaProduct.create(connection=psa, external_id=1, identifier="ST-TOTAL-LIC",
                                description="SpamTitan licence", recurring=True,
                                price=2.5)  # fmt: skip
    PsaProduct.create(connection=psa, external_id=2, identifier="MP-USER",
                      description="Mailprotector user", recurring=True, price=3)  # fmt: skip
    st = Integration.create(name="spamtitan", vendor="spamtitan", kind="pull", status="active",
                            last_sync_at=AT)  # fmt: skip
    service = VendorService.create(integration=st, external_id="total", name="Total Licenses")
    ServiceMapping.create(vendor_service=service, psa_product=product, operator="op")
    sync = SyncRun.create(integration=st, status=run, error=error, started_at=AT,
                          finished_at=AT)  # fmt: skip
    for n, (name, billed, counted) in enumerate(CUSTOMERS, start=1):
        company = PsaCompany.create(connection=psa, external_id=n, identifier=f"C{n}", name=name)
        if billed is None:  # an agreement with no line for the product: new revenue goes here
            PsaAgreement.create(connection=psa, external_id=100 + n, company=company,
                                name="Managed services", agreement_status="Active")  # fmt: skip
        if billed is not None:
            agreement = PsaAgreement.create(connection=psa, external_id=n, company=company,
                                            name="Managed email",
                                            agreement_status="Active")  # fmt: skip
            PsaAgreementLine.create(agreement=agreement, external_id=n, product=product,
                                    product_identifier=product.identifier, quantity=billed,
                                    unit_price=2.5, effective_date=date(2026, 1, 1))  # fmt: skip
        if counted is not None:
            account = VendorAccount.create(integration=st, external_id=str(n), name=name)
            AccountMapping.create(vendor_account=account, psa_company=company, method="exact",
                                  operator="op")  # fmt: skip
            UsageCount.create(account=account, service=service, quantity=counted,
                              counted_at=AT, received_at=AT, sync_run=sync)  # fmt: skip
    VendorAccount.create(integration=st, external_id="99", name=UNMAPPED_ACCOUNT)
    return st
