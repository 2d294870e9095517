"""Autotask's own records of the seeded world: contract services and their units per billing
period, adjustments, tickets and the Tickets picklists. They live here, not in `World`, so that
what a client changes through the Autotask simulator never shows through the ConnectWise one.

A billing period is a calendar month. Every contract service starts with two units rows, last
month's (the lower id, and different units) and this month's; `units_on` picks the row in force
on a day as Autotask does: of the rows covering the day, the one that starts latest.
"""

from __future__ import annotations

import calendar
import math
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from adapters.sandbox.world import Agreement, CatalogItem, PsaCompany, World

QUEUE_BASE = 29682800  # queue id = QUEUE_BASE + board id
RETIRED_QUEUE = (QUEUE_BASE + 99, "Legacy Help Desk (retired)")  # inactive: never offered
STATUSES = {1: "New", 5: "Complete"}
PRIORITIES = {1: "High", 2: "Medium", 3: "Low", 4: "Critical"}
RECURRING_SERVICE, BLOCK_HOURS = 7, 4  # contractType
CUSTOMER, PROSPECT = 1, 3  # companyType
TITLE_MAX, DESCRIPTION_MAX = 255, 8000
# Field names per entity, exactly as the API spells them (queries check against these).
FIELDS: dict[str, tuple[str, ...]] = {
    "Companies": ("id", "companyName", "companyNumber", "companyType", "isActive", "webAddress",
                  "phone", "lastActivityDate", "ownerResourceID", "createDate"),
    "Services": ("id", "name", "description", "unitPrice", "unitCost", "isActive", "periodType",
                 "billingCodeID", "serviceLevelAgreementID", "markupRate"),
    "Contracts": ("id", "companyID", "contractName", "contractType", "status", "startDate",
                  "endDate", "contractNumber", "contractCategory", "isDefaultContract"),
    "ContractServices": ("id", "contractID", "serviceID", "unitPrice", "adjustedPrice",
                         "internalDescription", "invoiceDescription", "quoteItemID",
                         "internalCurrencyUnitPrice"),
    "ContractServiceUnits": ("id", "contractID", "contractServiceID", "serviceID", "startDate",
                             "endDate", "units", "price", "cost", "approveAndPostDate",
                             "organizationalLevelAssociationID", "vendorCompanyID"),
    "Tickets": ("id", "companyID", "title", "description", "queueID", "status", "priority",
                "createDate", "ticketNumber", "ticketType", "source"),
}  # fmt: skip
_WHEN = re.compile(r"(\d{4}-\d{2}-\d{2})(?:T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,7})?Z?)?")


class BookError(ValueError):
    """Bad input to a write; the API answers 500 with the message, as Autotask does."""


@dataclass
class ContractService:
    id: int
    contract_id: int
    service_id: int
    unit_price: float
    adjusted_price: float
    invoice_description: str
    internal_description: str = ""


@dataclass
class UnitsRow:
    id: int
    contract_service_id: int
    start: date
    end: date
    units: int
    price: float


def month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def iso(day: date | None) -> str | None:
    return None if day is None else f"{day.isoformat()}T00:00:00"


def parse_day(value: Any) -> date | None:
    """`YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SS[.fff][Z]`: the date part, taken as UTC."""
    match = _WHEN.fullmatch(value) if isinstance(value, str) else None
    try:
        return date.fromisoformat(match.group(1)) if match else None
    except ValueError:  # 2025-02-30
        return None


class AutotaskBook:
    """Built from the world once; thread-safe, since tests change it while the server runs."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.contract_services: dict[int, ContractService] = {}
        self.rows: dict[int, UnitsRow] = {}
        self.adjustments: list[dict[str, Any]] = []  # as posted, each with its "itemId"
        self.tickets: dict[int, dict[str, Any]] = {}
        self._rows_of: dict[int, list[UnitsRow]] = {}
        self._lock = threading.RLock()
        this_month = world.today.replace(day=1)
        last_month = (this_month - timedelta(days=1)).replace(day=1)
        next_month = month_end(this_month) + timedelta(days=1)
        for addition in sorted(world.additions.values(), key=lambda a: a.id):
            item = world.catalog[addition.product_id]
            cs = self._line(addition.id, addition.agreement_id, item, addition.unit_price)
            self._add_row(cs, last_month, int(addition.quantity) + 1 + addition.id % 3)
            self._add_row(cs, this_month, round(addition.quantity))
            self._add_row(cs, next_month, round(addition.quantity))
        self._contract_days = {a.id: self._days(a) for a in world.agreements.values()}

    # --- units ----------------------------------------------------------------------------

    def rows_of(self, contract_service_id: int) -> list[UnitsRow]:
        with self._lock:
            return list(self._rows_of.get(contract_service_id, []))

    def units_on(self, contract_service_id: int, day: date) -> int | None:
        """The units in force on `day`: of the rows covering it, the latest start (then id)."""
        covering = [r for r in self.rows_of(contract_service_id) if r.start <= day <= r.end]
        return max(covering, key=lambda r: (r.start, r.id)).units if covering else None

    def set_units(
        self, contract_service_id: int, units: int, start: date | None = None
    ) -> UnitsRow:
        """Someone changing the units in Autotask's UI: a row from `start` (default today) to
        the end of that month."""
        day = start or self.world.today
        with self._lock:
            cs = self.contract_services[contract_service_id]
            change = units - (self.units_on(cs.id, day) or 0)
            self._carry(cs.id, day, change)
            return self._add_row(cs, day, units)

    def _carry(self, contract_service_id: int, day: date, change: int) -> None:
        """A change from `day` holds in the periods after it too."""
        for row in self._rows_of.get(contract_service_id, []):
            if row.start > day:
                row.units = max(0, row.units + change)

    def find_contract_service(self, contract_id: int, service_id: int) -> ContractService | None:
        with self._lock:
            found = [
                cs
                for cs in self.contract_services.values()
                if (cs.contract_id, cs.service_id) == (contract_id, service_id)
            ]
        return min(found, key=lambda cs: cs.id) if found else None

    def _add_row(
        self, cs: ContractService, start: date, units: int, price: float | None = None
    ) -> UnitsRow:
        price = cs.adjusted_price if price is None else price
        with self._lock:
            row_id = self.world.next_id("autotask_units", 70001)
            row = UnitsRow(row_id, cs.id, start, month_end(start), units, price)
            self.rows[row.id] = row
            self._rows_of.setdefault(cs.id, []).append(row)
        return row

    def _line(
        self, cs_id: int, contract_id: int, item: CatalogItem, price: float
    ) -> ContractService:
        cs = ContractService(cs_id, contract_id, item.id, price, price, item.description)
        self.contract_services[cs.id] = cs
        return cs

    # --- writes ---------------------------------------------------------------------------

    def adjust(self, body: dict[str, Any]) -> int:
        """A ContractServiceAdjustment: validate, then append the units row it makes."""
        contract = self._contract(body.get("contractID"))
        service = self._service(body.get("serviceID"))
        change = body.get("unitChange")
        if isinstance(change, float) and change.is_integer():
            change = int(change)
        if isinstance(change, bool) or not isinstance(change, int):
            raise BookError(f"unitChange must be a whole number of units, not {change!r}.")
        day = parse_day(body.get("effectiveDate"))
        if day is None:
            raise BookError("effectiveDate is required: a date like 2025-03-01T00:00:00.")
        price = body.get("adjustedUnitPrice")
        if price is not None and not _amount(price):
            raise BookError("adjustedUnitPrice must be a number, zero or more.")
        with self._lock:
            cs = self.find_contract_service(contract.id, service.id)
            units = (0 if cs is None else self.units_on(cs.id, day) or 0) + change
            if units < 0:
                raise BookError(
                    f"Contract {contract.id} would have {units} units of service {service.id}"
                    f" from {day.isoformat()}: units cannot be negative."
                )
            if cs is None:  # new revenue: the service joins the contract
                first = service.price if price is None else float(price)
                cs = self._line(self.world.next_id("addition", 5001), contract.id, service, first)
            self._carry(cs.id, day, change)
            self._add_row(cs, day, units, None if price is None else float(price))
            item_id = self.world.next_id("autotask_adjustment", 90001)
            self.adjustments.append({**body, "itemId": item_id})
        return item_id

    def create_ticket(self, body: dict[str, Any]) -> int:
        company_id = _whole(body, "companyID")
        if company_id not in self.world.companies:
            raise BookError(f"companyID {company_id} does not exist.")
        title = body.get("title")
        if not isinstance(title, str) or not title.strip() or len(title) > TITLE_MAX:
            raise BookError(f"title is required: text of 1 to {TITLE_MAX} characters.")
        description = body.get("description")
        if description is not None and (
            not isinstance(description, str) or len(description) > DESCRIPTION_MAX
        ):
            raise BookError(f"description is text of at most {DESCRIPTION_MAX} characters.")
        picks = {"status": STATUSES, "priority": PRIORITIES, "queueID": dict(self.queues())}
        values = {name: _whole(body, name, picklist=True) for name in picks}
        for name, allowed in picks.items():
            if values[name] not in allowed:
                raise BookError(f"{name} {values[name]} is not an active picklist value.")
        now = datetime.now(UTC)
        with self._lock:
            ticket_id = self.world.next_id("autotask_ticket", 7001)
            number = f"T{self.world.today:%Y%m%d}.{len(self.tickets) + 1:04d}"
            self.tickets[ticket_id] = {
                "id": ticket_id,
                "companyID": company_id,
                "title": title,
                "description": description,
                **values,
                "createDate": now.strftime("%Y-%m-%dT%H:%M:%S.")
                + f"{now.microsecond // 1000:03d}Z",
                "ticketNumber": number,
                "ticketType": 1,
                "source": 4,
            }
        return ticket_id

    def _contract(self, value: Any) -> Agreement:
        agreement = self.world.agreements.get(value) if _is_int(value) else None
        if agreement is None:
            raise BookError(f"contractID {value!r} is not a contract.")
        if agreement.status == "Cancelled":
            raise BookError(f"Contract {value} is inactive.")
        return agreement

    def _service(self, value: Any) -> CatalogItem:
        item = self.world.catalog.get(value) if _is_int(value) else None
        if item is None:
            raise BookError(f"serviceID {value!r} is not a service.")
        if item.inactive_flag:
            raise BookError(f"Service {value} is inactive.")
        return item

    # --- what the API serves --------------------------------------------------------------

    def queues(self) -> list[tuple[int, str]]:
        """The active queues, the ones a ticket may go to."""
        return [(QUEUE_BASE + b.id, b.name) for b in self.world.boards.values()]

    def items(self, entity: str) -> list[dict[str, Any]]:
        """Every record of a queryable entity, as the API shows it, by id."""
        makers: dict[str, Callable[[], list[dict[str, Any]]]] = {
            "Companies": lambda: [_company(c, self.world.today) for c in self._all("companies")],
            "Services": lambda: [_service(i) for i in self._all("catalog")],
            "Contracts": lambda: [self._contract_json(a) for a in self._all("agreements")],
            "ContractServices": lambda: [_contract_service(cs) for cs in self._services()],
            "ContractServiceUnits": self._units_json,
            "Tickets": lambda: [dict(t) for t in self.tickets.values()],
        }
        with self._lock:
            return sorted(makers[entity](), key=lambda item: item["id"])

    def _all(self, kind: str) -> list[Any]:
        return list(getattr(self.world, kind).values())

    def _services(self) -> list[ContractService]:
        return list(self.contract_services.values())

    def _days(self, agreement: Agreement) -> tuple[date, date]:
        lines = self.world.agreement_additions(agreement.id)
        start = min((a.effective_date for a in lines), default=self.world.today.replace(day=1))
        if agreement.status == "Cancelled":
            return start, self.world.today.replace(day=1) - timedelta(days=1)
        return start, date(self.world.today.year + 1, 12, 31)

    def _contract_json(self, agreement: Agreement) -> dict[str, Any]:
        start, end = self._contract_days.get(agreement.id) or self._days(agreement)
        recurring = agreement.billing_cycle is not None
        return {
            "id": agreement.id,
            "companyID": agreement.company_id,
            "contractName": agreement.name,
            "contractType": RECURRING_SERVICE if recurring else BLOCK_HOURS,
            "status": 0 if agreement.status == "Cancelled" else 1,
            "startDate": iso(start),
            "endDate": iso(end),
            "contractNumber": f"MSA-{agreement.id}",
            "contractCategory": 1,
            "isDefaultContract": False,
        }

    def _units_json(self) -> list[dict[str, Any]]:
        catalog = self.world.catalog
        out = []
        for row in self.rows.values():
            cs = self.contract_services[row.contract_service_id]
            out.append(
                {
                    "id": row.id,
                    "contractID": cs.contract_id,
                    "contractServiceID": cs.id,
                    "serviceID": cs.service_id,
                    "startDate": iso(row.start),
                    "endDate": iso(row.end),
                    "units": row.units,
                    "price": row.price,
                    "cost": catalog[cs.service_id].cost,
                    "approveAndPostDate": None,
                    "organizationalLevelAssociationID": None,
                    "vendorCompanyID": None,
                }
            )
        return out

    def ticket_fields(self) -> list[dict[str, Any]]:
        """`Tickets/entityInformation/fields`: the fields a ticket needs, with their picklists."""
        queues = [(value, label, True) for value, label in self.queues()]
        queues.append((*RETIRED_QUEUE, False))
        return [
            _field("title", "string", length=TITLE_MAX, required=True),
            _field("description", "string", length=DESCRIPTION_MAX),
            _field("companyID", "integer", required=True, reference="Company"),
            _picklist("queueID", queues),
            _picklist("status", [(v, label, True) for v, label in STATUSES.items()], default=1),
            _picklist("priority", [(v, label, True) for v, label in PRIORITIES.items()], default=2),
        ]


def _company(company: PsaCompany, today: date) -> dict[str, Any]:
    return {
        "id": company.id,
        "companyName": company.name,
        "companyNumber": company.identifier,
        "companyType": PROSPECT if "Prospect" in company.types else CUSTOMER,
        "isActive": not company.deleted_flag,
        "webAddress": company.website,
        "phone": f"555-{company.id % 10_000_000:07d}",
        "lastActivityDate": iso(today - timedelta(days=company.id % 45)),
        "ownerResourceID": 29682885,
        "createDate": iso(date(2019, 1, 1) + timedelta(days=company.id % 1500)),
    }


def _service(item: CatalogItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "name": item.identifier,
        "description": item.description,
        "unitPrice": item.price,
        "unitCost": item.cost,
        "isActive": not item.inactive_flag,
        "periodType": 1 if item.recurring_flag else None,
        "billingCodeID": 29682833 if item.recurring_flag else 29682805,
        "serviceLevelAgreementID": None,
        "markupRate": None,
    }


def _contract_service(cs: ContractService) -> dict[str, Any]:
    return {
        "id": cs.id,
        "contractID": cs.contract_id,
        "serviceID": cs.service_id,
        "unitPrice": cs.unit_price,
        "adjustedPrice": cs.adjusted_price,
        "internalDescription": cs.internal_description,
        "invoiceDescription": cs.invoice_description,
        "quoteItemID": None,
        "internalCurrencyUnitPrice": cs.unit_price,
    }


def _field(
    name: str, kind: str, length: int = 0, required: bool = False, reference: str = ""
) -> dict[str, Any]:
    return {
        "name": name,
        "dataType": kind,
        "length": length,
        "isRequired": required,
        "isReadOnly": False,
        "isQueryable": True,
        "isReference": bool(reference),
        "referenceEntityType": reference,
        "isPickList": False,
        "picklistValues": None,
        "picklistParentValueField": "",
        "isSupportedWebhookField": True,
    }


def _picklist(name: str, values: list[tuple[int, str, bool]], default: int = 0) -> dict[str, Any]:
    picks = [
        {
            "value": str(value),
            "label": label,
            "isDefaultValue": value == default,
            "sortOrder": n,
            "parentValue": "",
            "isActive": active,
            "isSystem": False,
        }
        for n, (value, label, active) in enumerate(values, start=1)
    ]
    return _field(name, "integer", required=True) | {"isPickList": True, "picklistValues": picks}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _whole(body: dict[str, Any], name: str, picklist: bool = False) -> int:
    """An integer field; a picklist's may come as its picklist value, a string of digits."""
    value = body.get(name)
    if picklist and isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if not _is_int(value):
        raise BookError(f"{name} is required: an integer, not {value!r}.")
    return value


def _amount(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= 0
    )
