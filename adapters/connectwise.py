"""ConnectWise Manage (ConnectWise PSA) REST API 3.0: the companies, products and agreements we
bill against, boards for alert tickets, and the writes reconciliation makes.

Lists are read in pages of 1000 by following the Link header. Only live companies (not deleted)
and the agreements that take part in reconciliation are read; prospects are kept but flagged.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import quote

import httpx

from adapters.errors import (
    AdapterError,
    MalformedResponse,
    NotFound,
    Secret,
    register_secret,
)
from adapters.http import HttpClient, RetryPolicy
from adapters.psa import WORDS
from adapters.records import (
    Board,
    PsaAdditionRecord,
    PsaAgreementRecord,
    PsaCompanyRecord,
    PsaProductRecord,
)
from adapters.values import as_date, as_float, service_url

VENDOR = "ConnectWise"
PAGE_SIZE = 1000
DEFAULT_CODEBASE = "v4_6_release"


def site_url(site: str) -> str:
    """`https://na.myconnectwise.net` as given; plain http only for a loopback simulator."""
    return service_url(site, "ConnectWise")


@dataclass(frozen=True)
class ConnectWiseCredentials:
    site: str
    company_id: str
    public_key: Secret
    private_key: Secret
    client_id: str
    codebase: str = DEFAULT_CODEBASE

    def authorization(self) -> str:
        raw = f"{self.company_id}+{self.public_key.reveal()}:{self.private_key.reveal()}"
        encoded = base64.b64encode(raw.encode()).decode()
        # Masked wherever it might come back: an error that echoes the header, a log line.
        register_secret(raw)
        register_secret(encoded)
        return "Basic " + encoded


async def find_codebase(
    site: str,
    company_id: str,
    *,
    timeout: float = 20.0,
    transport: httpx.AsyncBaseTransport | None = None,
) -> str:
    """The API codebase of a ConnectWise site (`v2025_1`), from its public company-info call,
    which needs no keys. A wrong company id answers 404 or an empty body."""
    async with HttpClient(f"{site_url(site)}/login/", vendor=VENDOR, timeout=timeout,
                          retry=RetryPolicy(attempts=2), transport=transport) as http:  # fmt: skip
        try:
            info = await http.get_json(f"companyinfo/{quote(company_id.strip(), safe='')}")
        except NotFound:
            info = None
    codebase = str(info.get("Codebase") or "").strip("/") if isinstance(info, dict) else ""
    if not codebase:
        raise NotFound(
            VENDOR,
            f"{site_url(site)} does not know the company id"
            f" {company_id.strip()!r}: use the one you log in with",
            404,
        )
    if not codebase.replace("_", "").replace(".", "").isalnum():
        raise MalformedResponse(VENDOR, "ConnectWise's company info names no usable codebase")
    return codebase


def _ref(value: Any, key: str = "id") -> Any:
    return value.get(key) if isinstance(value, dict) else None


class ConnectWiseAdapter:
    """ConnectWise Manage behind the PSA contract (adapters.psa.PsaAdapter)."""

    vendor = VENDOR
    words = WORDS["connectwise"]

    def __init__(
        self,
        credentials: ConnectWiseCredentials,
        *,
        concurrency: int = 6,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.credentials = credentials
        codebase = credentials.codebase.strip("/")
        self.http = HttpClient(
            f"{site_url(credentials.site)}/{codebase}/apis/3.0/",
            vendor=VENDOR,
            headers={
                "Authorization": credentials.authorization(),
                "clientId": credentials.client_id,
                "Content-Type": "application/json",
            },
            concurrency=concurrency,
            timeout=timeout,
            retry=retry,
            transport=transport,
        )

    async def __aenter__(self) -> ConnectWiseAdapter:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    async def _all(self, path: str, **params: Any) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        async for page in self.http.pages(path, {**params, "pageSize": PAGE_SIZE, "page": 1}):
            rows.extend(r for r in page if isinstance(r, dict))
        return rows

    async def authenticate(self) -> dict[str, Any]:
        info = await self.http.get_json("system/info")
        if not isinstance(info, dict):
            raise MalformedResponse(VENDOR, "ConnectWise's /system/info reply is not an object")
        return info

    def usage(self) -> dict[str, int]:
        return {"requests": self.http.requests}

    async def companies(self) -> list[PsaCompanyRecord]:
        rows = await self._all(
            "company/companies",
            conditions="deletedFlag=false",
            fields="id,identifier,name,website,status,types,deletedFlag",
        )
        return [
            PsaCompanyRecord(
                external_id=int(r["id"]),
                identifier=str(r.get("identifier") or r["id"]),
                name=str(r.get("name") or r.get("identifier") or r["id"]),
                website=r.get("website") or None,
                status=_ref(r.get("status"), "name"),
                is_prospect=any(
                    "prospect" in str(_ref(t, "name") or "").lower() for t in r.get("types") or []
                ),
            )
            for r in rows
        ]

    async def products(self) -> list[PsaProductRecord]:
        rows = await self._all(
            "procurement/catalog",
            fields="id,identifier,description,inactiveFlag,recurringFlag,price",
        )
        return [
            PsaProductRecord(
                external_id=int(r["id"]),
                identifier=str(r.get("identifier") or r["id"]),
                description=str(r.get("description") or ""),
                inactive=bool(r.get("inactiveFlag")),
                recurring=bool(r.get("recurringFlag")),
                price=as_float(r.get("price"), None),
            )
            for r in rows
        ]

    async def agreements(self) -> list[PsaAgreementRecord]:
        """Active agreements, and cancelled ones (their lines show as stale)."""
        rows = await self._all(
            "finance/agreements",
            conditions='agreementStatus="Active" or cancelledFlag=true',
            fields="id,name,company,agreementStatus,cancelledFlag,billingCycle",
        )
        return [
            PsaAgreementRecord(
                external_id=int(r["id"]),
                company_id=int(_ref(r.get("company"))),
                name=str(r.get("name") or r["id"]),
                agreement_status=r.get("agreementStatus"),
                cancelled=bool(r.get("cancelledFlag")),
                billing_cycle=_ref(r.get("billingCycle"), "name"),
            )
            for r in rows
            if _ref(r.get("company")) is not None
        ]

    @staticmethod
    def _addition(agreement_id: int, r: dict[str, Any]) -> PsaAdditionRecord:
        product = r.get("product") if isinstance(r.get("product"), dict) else {}
        return PsaAdditionRecord(
            external_id=int(r["id"]),
            agreement_id=agreement_id,
            product_id=product.get("id"),
            product_identifier=str(product.get("identifier") or ""),
            quantity=as_float(r.get("quantity")) or 0.0,
            less_included=as_float(r.get("lessIncluded")) or 0.0,
            unit_price=as_float(r.get("unitPrice"), None),
            bill_customer=r.get("billCustomer"),
            effective_date=as_date(r.get("effectiveDate")),
            cancelled_date=as_date(r.get("cancelledDate")),
            agreement_status=r.get("agreementStatus"),
        )

    async def lines(self, agreement_id: int, as_of: date | None = None) -> list[PsaAdditionRecord]:
        """An addition holds one quantity whatever the date: `as_of` changes nothing here."""
        rows = await self._all(f"finance/agreements/{agreement_id}/additions")
        return [self._addition(agreement_id, r) for r in rows]

    async def lines_for(
        self, agreement_ids: list[int], progress: Callable[[int, int], None] | None = None
    ) -> list[PsaAdditionRecord]:
        done = 0

        async def one(agreement_id: int) -> list[PsaAdditionRecord]:
            nonlocal done
            found = await self.lines(agreement_id)
            done += 1
            if progress:
                progress(done, len(agreement_ids))
            return found

        try:  # the first failure cancels the rest and is raised as itself
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(one(a)) for a in agreement_ids]
        except* AdapterError as failures:
            raise failures.exceptions[0] from None
        return [a for task in tasks for a in task.result()]

    async def line(
        self, agreement_id: int, line_id: int, as_of: date | None = None
    ) -> PsaAdditionRecord:
        body = await self.http.get_json(f"finance/agreements/{agreement_id}/additions/{line_id}")
        return self._addition(agreement_id, body)

    async def set_line_quantity(
        self,
        agreement_id: int,
        line_id: int,
        quantity: float,
        *,
        current: float,
        effective_date: date | None = None,
    ) -> None:
        """PATCH the addition's quantity (a total: `current` and the date are not needed)."""
        # "replace" with a value is idempotent, so a retry after a lost reply is safe.
        await self.http.request(
            "PATCH",
            f"finance/agreements/{agreement_id}/additions/{line_id}",
            json_body=[{"op": "replace", "path": "quantity", "value": quantity}],
            idempotent=True,
        )

    async def add_line(
        self,
        agreement_id: int,
        product_id: int,
        quantity: float,
        unit_price: float | None = None,
        effective_date: date | None = None,
    ) -> None:
        body: dict[str, Any] = {"product": {"id": product_id}, "quantity": quantity}
        if unit_price is not None:
            body["unitPrice"] = unit_price
        if effective_date is not None:
            body["effectiveDate"] = f"{effective_date.isoformat()}T00:00:00Z"
        await self.http.request(
            "POST", f"finance/agreements/{agreement_id}/additions", json_body=body
        )

    async def boards(self) -> list[Board]:
        rows = await self._all("service/boards", fields="id,name,inactiveFlag")
        return [Board(int(r["id"]), str(r.get("name") or r["id"])) for r in rows
                if not r.get("inactiveFlag")]  # fmt: skip

    async def find_ticket(self, external_ref: str) -> int | None:
        """The id of a ticket opened with this externalXRef, if there is one."""
        quoted = external_ref[:100].replace("\\", "\\\\").replace('"', '\\"')
        rows = await self.http.get_json(
            "service/tickets",
            params={"conditions": f'externalXRef="{quoted}"', "fields": "id", "pageSize": 1},
        )
        if not isinstance(rows, list):
            raise MalformedResponse(VENDOR, "ConnectWise sent tickets that are not a list")
        return (
            int(rows[0]["id"]) if rows and isinstance(rows[0], dict) and "id" in rows[0] else None
        )

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
        """Open a service ticket; `external_ref` (ConnectWise's externalXRef, 100 characters at
        most) lets `find_ticket` recognise it later."""
        body: dict[str, Any] = {
            "summary": summary[:100],
            "board": {"id": board_id},
            "company": {"id": company_id},
            "initialDescription": description,
        }
        if priority_id is not None:
            body["priority"] = {"id": priority_id}
        if external_ref is not None:
            body["externalXRef"] = external_ref[:100]
        response = await self.http.request("POST", "service/tickets", json_body=body)
        created = self.http.json_of(response)
        if not isinstance(created, dict) or "id" not in created:
            raise MalformedResponse(VENDOR, "ConnectWise created a ticket but sent no id")
        return int(created["id"])
