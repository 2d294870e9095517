"""Plain records the adapters return: only the fields msp-tui uses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class VendorAccountRecord:
    external_id: str
    name: str
    description: str | None = None
    domain: str | None = None


@dataclass(frozen=True)
class VendorServiceRecord:
    external_id: str
    name: str
    description: str | None = None
    category: str | None = None
    subcategory: str | None = None


@dataclass(frozen=True)
class UsageRecord:
    account_id: str
    service_id: str
    quantity: float


@dataclass(frozen=True)
class PsaCompanyRecord:
    external_id: int
    identifier: str
    name: str
    website: str | None
    status: str | None
    is_prospect: bool


@dataclass(frozen=True)
class PsaProductRecord:
    external_id: int
    identifier: str
    description: str
    inactive: bool
    recurring: bool
    price: float | None


@dataclass(frozen=True)
class PsaAgreementRecord:
    external_id: int
    company_id: int
    name: str
    agreement_status: str | None
    cancelled: bool
    billing_cycle: str | None


@dataclass(frozen=True)
class PsaAdditionRecord:
    external_id: int
    agreement_id: int
    product_id: int | None
    product_identifier: str
    quantity: float
    less_included: float
    unit_price: float | None
    bill_customer: str | None
    effective_date: date | None
    cancelled_date: date | None
    agreement_status: str | None


@dataclass(frozen=True)
class Board:
    external_id: int
    name: str
