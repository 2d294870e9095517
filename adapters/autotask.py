"""Autotask PSA (Datto/Kaseya) REST API v1.0 behind the PSA contract: companies, services,
recurring service contracts and their contract services, units per billing period, adjustments,
ticket queues and tickets. Facts and their sources: docs/psa-autotask.md.

- Quantities are read from ContractServiceUnits: one row per billing period; the units of a day
  are those of the row whose period holds it, the latest start winning.
- Quantities are written as changes: a ContractServiceAdjustment (`unitChange`, a whole number)
  from an effective date. It is create-only, so the write path re-reads before each one.
- Limits: 3 requests in flight per endpoint, and a request budget per hour shared by every
  integration of the tenant (`adapters.autotask_limits`).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import httpx

from adapters.autotask_limits import PER_ENDPOINT, RequestBudget, endpoint_of
from adapters.errors import MalformedResponse, NotFound, Secret, VendorError, register_secret
from adapters.http import HttpClient, RetryPolicy
from adapters.psa import WORDS
from adapters.records import (
    Board,
    PsaAdditionRecord,
    PsaAgreementRecord,
    PsaCompanyRecord,
    PsaProductRecord,
)
from adapters.values import as_date, as_float, as_int, service_url

VENDOR = "Autotask"
ZONE_LOOKUP = "https://webservices.autotask.net/atservicesrest/v1.0/zoneInformation"
PAGE = 500  # Autotask's page, and the most values an `in` condition may hold
BATCH = 200  # contracts per query of their services and units
RECURRING_SERVICE = 7  # contractType
CUSTOMER = 1  # companyType
COMPANY_TYPES = {1: "Customer", 2: "Lead", 3: "Prospect", 4: "Dead", 6: "Cancellation",
                 7: "Vendor", 8: "Partner"}  # fmt: skip
# The vendor's priority (1 highest .. 4) -> Autotask's stock ticket priorities
# (1 High, 2 Medium, 3 Low, 4 Critical).
PRIORITIES = {1: 4, 2: 1, 3: 2, 4: 3}
NEW_TICKET = 1  # status "New"
REFERENCE = "msp-tui reference: "


def zone_url(url: str) -> str:
    """The zone's REST base as zoneInformation gives it (`https://webservices5.autotask.net/
    atservicesrest/`), https only (plain http for a loopback simulator)."""
    return service_url(url, "Autotask") + "/"


async def find_zone(
    username: str,
    *,
    lookup: str = ZONE_LOOKUP,
    timeout: float = 20.0,
    transport: httpx.AsyncBaseTransport | None = None,
) -> str:
    """The REST base of the zone that holds this API user's database."""
    async with HttpClient(lookup, vendor=VENDOR, timeout=timeout, retry=RetryPolicy(attempts=2),
                          transport=transport) as http:  # fmt: skip
        # The URL as given: a relative "" would be sent as `zoneInformation/`, with a slash.
        info = await http.get_json(lookup, params={"user": username.strip()})
    url = info.get("url") if isinstance(info, dict) else None
    if not isinstance(url, str) or not url:
        raise NotFound(VENDOR, f"Autotask knows no zone for the API user {username.strip()!r}")
    try:
        return zone_url(url)
    except ValueError as exc:
        raise MalformedResponse(
            VENDOR, f"Autotask's zone lookup named no usable URL: {exc}"
        ) from None


@dataclass(frozen=True)
class AutotaskCredentials:
    username: str  # the API user's name (an email address)
    integration_code: str  # the API tracking identifier
    secret: Secret
    zone: str | None = None  # the zone's REST base; looked up from the user name when None


def _eq(field: str, value: Any) -> dict[str, Any]:
    return {"op": "eq", "field": field, "value": value}


def covering(day: date) -> list[dict[str, Any]]:
    """Units rows whose billing period holds `day`."""
    return [{"op": "lte", "field": "startDate", "value": f"{day.isoformat()}T23:59:59"},
            {"op": "gte", "field": "endDate", "value": f"{day.isoformat()}T00:00:00"}]  # fmt: skip


def current_units(rows: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Per contract service, the row in force: the latest start, then the highest id."""
    best: dict[int, dict[str, Any]] = {}
    for row in rows:
        service = as_int(row.get("contractServiceID"))
        if service is None:
            continue
        key = (str(row.get("startDate") or ""), as_int(row.get("id")) or 0)
        held = best.get(service)
        if held is None or key > (str(held.get("startDate") or ""), as_int(held.get("id")) or 0):
            best[service] = row
    return best


class AutotaskAdapter:
    """Autotask behind the PSA contract (adapters.psa.PsaAdapter)."""

    vendor = VENDOR
    words = WORDS["autotask"]

    def __init__(
        self,
        credentials: AutotaskCredentials,
        *,
        concurrency: int = 12,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        budget: RequestBudget | None = None,
        today: Callable[[], date] | None = None,
    ) -> None:
        self.credentials = credentials
        register_secret(credentials.secret.reveal())
        self.budget = budget or RequestBudget()
        self._options = {"concurrency": concurrency, "timeout": timeout, "retry": retry,
                         "transport": transport}  # fmt: skip
        self._http: HttpClient | None = None
        self._lanes: dict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(PER_ENDPOINT)
        )
        self._slow_lane = asyncio.Semaphore(1)
        self._services: dict[int, str] | None = None
        self._today = today or (lambda: datetime.now(UTC).date())

    async def __aenter__(self) -> AutotaskAdapter:
        zone = self.credentials.zone or await find_zone(
            self.credentials.username, transport=self._options["transport"]
        )
        self.zone = zone_url(zone)
        self._http = HttpClient(
            f"{self.zone}V1.0/",
            vendor=VENDOR,
            headers={
                "ApiIntegrationCode": self.credentials.integration_code,
                "UserName": self.credentials.username,
                "Secret": self.credentials.secret.reveal(),
                "Content-Type": "application/json",
            },
            **self._options,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._http is not None:
            await self._http.aclose()

    @property
    def http(self) -> HttpClient:
        if self._http is None:
            raise RuntimeError("use the Autotask adapter as `async with adapter:`")
        return self._http

    # --- one request, within the limits -------------------------------------------------------

    async def _call(self, method: str, path: str, body: Any = None, idempotent: bool = True) -> Any:
        await self.budget.before_request(self._threshold)
        async with self._lanes[endpoint_of(path)]:
            if self.budget.slow:  # past half the hour's budget Autotask adds latency: one lane
                async with self._slow_lane:
                    response = await self.http.request(method, path, json_body=body,
                                                       idempotent=idempotent)  # fmt: skip
            else:
                response = await self.http.request(method, path, json_body=body,
                                                   idempotent=idempotent)  # fmt: skip
        self.budget.made += 1
        return self.http.json_of(response)

    async def _threshold(self) -> dict[str, Any]:
        async with self._lanes["ThresholdInformation"]:
            response = await self.http.request("GET", "ThresholdInformation")
        self.budget.made += 1
        info = self.http.json_of(response)
        if not isinstance(info, dict):
            raise MalformedResponse(VENDOR, "Autotask's ThresholdInformation is not an object")
        return info

    async def query(
        self, entity: str, filters: list[dict[str, Any]], fields: list[str] | None = None
    ) -> list[dict[str, Any]]:
        """Every item of a query: `nextPageUrl` POSTed with the same body (a GET to it gives
        405), and, should a full page come with no next page, the ids after the last one."""
        body: dict[str, Any] = {"filter": filters}
        if fields:
            body["IncludeFields"] = sorted({"id", *fields})
        items: list[dict[str, Any]] = []
        url: str = f"{entity}/query"
        origin = httpx.URL(self.zone).copy_with(path="/", query=None)
        for _ in range(100_000):
            page = await self._call("POST", url, body)
            if not isinstance(page, dict) or not isinstance(page.get("items"), list):
                raise MalformedResponse(VENDOR, f"Autotask's {entity} query reply has no items")
            found = [i for i in page["items"] if isinstance(i, dict) and as_int(i.get("id"))]
            items.extend(found)
            details = page.get("pageDetails") if isinstance(page.get("pageDetails"), dict) else {}
            following = details.get("nextPageUrl")
            if isinstance(following, str) and following and found:
                target = httpx.URL(following)
                if not target.is_absolute_url or target.copy_with(path="/", query=None) != origin:
                    raise MalformedResponse(VENDOR, "Autotask's next page is on another host")
                url = following
            elif len(found) >= PAGE:  # a full page and no next one: walk on by id
                last = max(as_int(i["id"]) or 0 for i in found)
                body = {**body, "filter": [*filters, {"op": "gt", "field": "id", "value": last}]}
                url = f"{entity}/query"
            else:
                break
        unique = {int(i["id"]): i for i in items}
        return [unique[k] for k in sorted(unique)]

    # --- reading --------------------------------------------------------------------------------

    async def authenticate(self) -> dict[str, Any]:
        info = await self._threshold()
        self.budget.note(info)
        return {"zone": self.zone, "requests_this_hour": self.budget.used,
                "hourly_limit": self.budget.limit}  # fmt: skip

    def usage(self) -> dict[str, int]:
        return self.budget.report()

    async def companies(self) -> list[PsaCompanyRecord]:
        fields = ["companyName", "companyNumber", "companyType", "webAddress"]
        rows = await self.query("Companies", [_eq("isActive", True)], fields)
        return [
            PsaCompanyRecord(
                external_id=int(r["id"]),
                identifier=str(r.get("companyNumber") or r["id"]),
                name=str(r.get("companyName") or r["id"]),
                website=r.get("webAddress") or None,
                status=COMPANY_TYPES.get(as_int(r.get("companyType")) or 0),
                is_prospect=as_int(r.get("companyType")) != CUSTOMER,
            )
            for r in rows
        ]

    async def _service_names(self) -> dict[int, str]:
        if self._services is None:
            rows = await self.query("Services", [{"op": "gte", "field": "id", "value": 0}],
                                    ["name"])  # fmt: skip
            self._services = {int(r["id"]): str(r.get("name") or r["id"]) for r in rows}
        return self._services

    async def products(self) -> list[PsaProductRecord]:
        rows = await self.query("Services", [{"op": "gte", "field": "id", "value": 0}],
                                ["name", "description", "unitPrice", "isActive"])  # fmt: skip
        self._services = {int(r["id"]): str(r.get("name") or r["id"]) for r in rows}
        return [
            PsaProductRecord(
                external_id=int(r["id"]),
                identifier=str(r.get("name") or r["id"]),
                description=str(r.get("description") or r.get("name") or ""),
                inactive=r.get("isActive") is False,
                recurring=True,
                price=as_float(r.get("unitPrice")),
            )
            for r in rows
        ]

    async def agreements(self) -> list[PsaAgreementRecord]:
        """Recurring service contracts, active and inactive (their lines show as stale)."""
        rows = await self.query("Contracts", [_eq("contractType", RECURRING_SERVICE)],
                                ["companyID", "contractName", "status"])  # fmt: skip
        return [
            PsaAgreementRecord(
                external_id=int(r["id"]),
                company_id=int(r["companyID"]),
                name=str(r.get("contractName") or r["id"]),
                agreement_status="Active" if as_int(r.get("status")) == 1 else "Inactive",
                cancelled=as_int(r.get("status")) != 1,
                billing_cycle="Recurring",
            )
            for r in rows
            if as_int(r.get("companyID")) is not None
        ]

    async def lines_for(
        self, agreement_ids: list[int], progress: Callable[[int, int], None] | None = None
    ) -> list[PsaAdditionRecord]:
        return await self._lines_on(agreement_ids, progress)

    async def _lines_on(
        self,
        agreement_ids: list[int],
        progress: Callable[[int, int], None] | None = None,
        as_of: date | None = None,
    ) -> list[PsaAdditionRecord]:
        """Contract services in batches of contracts, their units on `as_of` (today)."""
        day = as_of or self._today()
        names = await self._service_names()
        batches = [
            sorted(agreement_ids)[i : i + BATCH] for i in range(0, len(agreement_ids), BATCH)
        ]
        done = 0

        async def one(batch: list[int]) -> list[PsaAdditionRecord]:
            nonlocal done
            where = [{"op": "in", "field": "contractID", "value": batch}]
            services, units = await asyncio.gather(
                self.query("ContractServices", where,
                           ["contractID", "serviceID", "unitPrice", "adjustedPrice"]),
                self.query("ContractServiceUnits", [*where, *covering(day)],
                           ["contractID", "contractServiceID", "startDate", "endDate", "units"]),
            )  # fmt: skip
            done += len(batch)
            if progress:
                progress(done, len(agreement_ids))
            return self._lines(services, current_units(units), names)

        found = await asyncio.gather(*(one(b) for b in batches))
        return [line for lines in found for line in lines]

    @staticmethod
    def _lines(services: list[dict[str, Any]], units: dict[int, dict[str, Any]],
               names: dict[int, str]) -> list[PsaAdditionRecord]:  # fmt: skip
        lines = []
        for s in services:
            contract, service = as_int(s.get("contractID")), as_int(s.get("serviceID"))
            if contract is None:
                continue
            row = units.get(int(s["id"]), {})
            price = as_float(s.get("adjustedPrice"))
            lines.append(PsaAdditionRecord(
                external_id=int(s["id"]), agreement_id=contract, product_id=service,
                product_identifier=names.get(service or 0, ""),
                quantity=float(as_int(row.get("units")) or 0), less_included=0.0,
                unit_price=price if price is not None else as_float(s.get("unitPrice")),
                bill_customer="Billable", effective_date=as_date(row.get("startDate")),
                cancelled_date=None, agreement_status="Active",
            ))  # fmt: skip
        return lines

    async def lines(self, agreement_id: int, as_of: date | None = None) -> list[PsaAdditionRecord]:
        return await self._lines_on([agreement_id], as_of=as_of)

    async def line(
        self, agreement_id: int, line_id: int, as_of: date | None = None
    ) -> PsaAdditionRecord:
        found = [a for a in await self.lines(agreement_id, as_of) if a.external_id == line_id]
        if not found:
            raise NotFound(VENDOR, f"Autotask's contract {agreement_id} has no contract service"
                                   f" {line_id} any more", 404)  # fmt: skip
        return found[0]

    # --- writing: adjustments ------------------------------------------------------------------

    async def _adjust(self, agreement_id: int, service_id: int, change: int,
                      effective: date | None, unit_price: float | None = None) -> None:  # fmt: skip
        body: dict[str, Any] = {
            "contractID": agreement_id, "serviceID": service_id, "unitChange": change,
            # Autotask takes the date as UTC: noon stays on that day in every working zone.
            "effectiveDate": f"{(effective or self._today()).isoformat()}T12:00:00",
        }  # fmt: skip
        if unit_price is not None:
            body["adjustedUnitPrice"] = unit_price
        # Not idempotent: an adjustment cannot be looked up or undone, so it is never retried
        # blind; the outbox re-reads the units before any new try.
        await self._call("POST", "ContractServiceAdjustments", body, idempotent=False)

    @staticmethod
    def _whole(quantity: float) -> int:
        if quantity != int(quantity):
            raise VendorError(VENDOR, f"Autotask bills whole units, not {quantity}: round it first")
        return int(quantity)

    async def set_line_quantity(
        self,
        agreement_id: int,
        line_id: int,
        quantity: float,
        *,
        current: float,
        effective_date: date | None = None,
    ) -> None:
        change = self._whole(quantity) - self._whole(current)
        if change == 0:
            return
        body = await self._call("GET", f"ContractServices/{line_id}")
        item = body.get("item") if isinstance(body, dict) else None
        service = as_int(item.get("serviceID")) if isinstance(item, dict) else None
        if service is None:
            raise MalformedResponse(
                VENDOR, f"Autotask's contract service {line_id} names no service"
            )
        await self._adjust(agreement_id, service, change, effective_date)

    async def add_line(
        self,
        agreement_id: int,
        product_id: int,
        quantity: float,
        unit_price: float | None = None,
        effective_date: date | None = None,
    ) -> None:
        """An adjustment for a service not on the contract adds it (new revenue)."""
        await self._adjust(agreement_id, product_id, self._whole(quantity), effective_date,
                           unit_price)  # fmt: skip

    # --- alerts: queues and tickets --------------------------------------------------------------

    async def boards(self) -> list[Board]:
        """The ticket queues: the active values of the Tickets entity's queueID picklist."""
        body = await self._call("GET", "Tickets/entityInformation/fields")
        fields = body.get("fields") if isinstance(body, dict) else None
        if not isinstance(fields, list):
            raise MalformedResponse(VENDOR, "Autotask's ticket fields are not a list")
        queue = next((f for f in fields if isinstance(f, dict)
                      and str(f.get("name", "")).casefold() == "queueid"), {})  # fmt: skip
        return [Board(int(v["value"]), str(v.get("label") or v["value"]))
                for v in queue.get("picklistValues") or []
                if isinstance(v, dict) and as_int(v.get("value")) is not None
                and v.get("isActive", True)]  # fmt: skip

    async def find_ticket(self, external_ref: str) -> int | None:
        """A ticket whose description carries this reference (Autotask tickets have no field
        for another system's id)."""
        rows = await self.query("Tickets", [{"op": "contains", "field": "description",
                                             "value": f"{REFERENCE}{external_ref}"}])  # fmt: skip
        return int(rows[0]["id"]) if rows else None

    async def create_ticket(
        self,
        *,
        summary: str,
        board_id: int,
        company_id: int,
        description: str,
        priority_id: int | None = None,
        external_ref: str | None = None,
    ) -> int:
        """A ticket in the queue `board_id`; `priority_id` is the vendor's 1 (highest) to 4."""
        if external_ref is not None:
            description = f"{description[:7900]}\n\n{REFERENCE}{external_ref}"
        body = {"companyID": company_id, "title": summary[:255], "description": description[:8000],
                "queueID": board_id, "status": NEW_TICKET,
                "priority": PRIORITIES.get(priority_id or 3, 2)}  # fmt: skip
        created = await self._call("POST", "Tickets", body, idempotent=False)
        if not isinstance(created, dict) or as_int(created.get("itemId")) is None:
            raise MalformedResponse(VENDOR, "Autotask created a ticket but sent no itemId")
        return int(created["itemId"])
