"""HaloPSA behind the PSA contract: clients, items, recurring invoices and their lines, teams and
tickets. Facts and their sources: docs/psa-halopsa.md.

- OAuth2 client credentials: a Bearer token from `{auth}/token`, renewed a minute before it
  expires, and once more if the API says 401 anyway.
- Lists are paged (`pageinate`, `page_size`, `page_no`); the server caps a page at 100 whatever
  `page_size` asks, so paging goes on until `record_count` rows have come.
- Recurring invoices have negative ids (as Halo gives them); nothing here assumes otherwise.
- A recurring invoice's lines are written by posting the whole invoice with every line: an update
  that carries `lines` replaces them, so a line left out would be deleted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx

from adapters.errors import (
    AuthenticationError,
    MalformedResponse,
    NotFound,
    Secret,
    VendorError,
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
from adapters.values import as_float, as_int, service_url

VENDOR = "HaloPSA"
PAGE = 100  # the most a page holds, whatever page_size asks
RENEW_BEFORE_S = 60.0
MAX_PAGES = 10_000


def halo_url(url: str) -> str:
    """`https://acme.halopsa.com` as given; plain http only for a loopback simulator."""
    return service_url(url, "HaloPSA")


@dataclass(frozen=True)
class HaloCredentials:
    url: str  # the instance, e.g. https://acme.halopsa.com (the API is {url}/api)
    client_id: str
    client_secret: Secret
    auth_url: str | None = None  # default {url}/auth
    tenant: str | None = None  # hosted instances

    @property
    def token_url(self) -> str:
        return f"{halo_url(self.auth_url or f'{self.url}/auth')}/token"


class HaloAdapter:
    """HaloPSA behind the PSA contract (adapters.psa.PsaAdapter)."""

    vendor = VENDOR
    words = WORDS["halopsa"]

    def __init__(
        self,
        credentials: HaloCredentials,
        *,
        concurrency: int = 6,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.credentials = credentials
        register_secret(credentials.client_secret.reveal())
        self.http = HttpClient(f"{halo_url(credentials.url)}/api/", vendor=VENDOR,
                               concurrency=concurrency, timeout=timeout, retry=retry,
                               transport=transport)  # fmt: skip
        self._auth = HttpClient(credentials.token_url, vendor=VENDOR, timeout=min(timeout, 30.0),
                                retry=retry, transport=transport)  # fmt: skip
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()
        self._clock = clock
        self.tokens = 0  # tokens fetched, for the tests and the bench
        self._invoices_read: dict[int, dict[str, Any]] | None = None  # lines came with them
        self._names: dict[int, str] | None = None

    async def __aenter__(self) -> HaloAdapter:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()
        await self._auth.aclose()

    # --- the token ------------------------------------------------------------------------------

    async def _bearer(self, stale: str | None = None) -> str:
        """A token good for at least another minute; a new one if `stale` was refused."""
        async with self._lock:
            fresh = self._token and self._token != stale
            if not fresh or self._clock() >= self._expires - RENEW_BEFORE_S:
                await self._fetch_token()
            assert self._token is not None
            return self._token

    async def _fetch_token(self) -> None:
        secret = self.credentials.client_secret.reveal()
        form = {"grant_type": "client_credentials", "client_id": self.credentials.client_id,
                "client_secret": secret, "scope": "all"}  # fmt: skip
        params = {"tenant": self.credentials.tenant} if self.credentials.tenant else None
        try:  # the URL itself: a relative "" would be sent with a trailing slash
            response = await self._auth.request("POST", self.credentials.token_url, data=form,
                                                params=params, idempotent=True)  # fmt: skip
        except VendorError as exc:
            if exc.status != 400:
                raise
            raise AuthenticationError(VENDOR, f"HaloPSA refused the token request: {exc}; check"
                                      " the tenant and the client id", 400) from None  # fmt: skip
        body = self._auth.json_of(response)
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise MalformedResponse(VENDOR, "HaloPSA's token reply has no access_token")
        register_secret(token)
        self._token, self.tokens = token, self.tokens + 1
        self._expires = self._clock() + (as_float(body.get("expires_in")) or 3600.0)

    async def _call(self, method: str, path: str, *, params: dict | None = None,
                    body: Any = None, idempotent: bool | None = None) -> Any:  # fmt: skip
        token = await self._bearer()
        for attempt in range(2):
            try:
                response = await self.http.request(
                    method, path, params=params, json_body=body, idempotent=idempotent,
                    headers={"Authorization": f"Bearer {token}"},
                )  # fmt: skip
            except AuthenticationError:
                if attempt:
                    raise
                token = await self._bearer(stale=token)  # expired early, or revoked: once more
                continue
            return self.http.json_of(response) if response.content else None
        raise AssertionError("unreachable")

    async def _all(self, entity: str, key: str, **params: Any) -> list[dict[str, Any]]:
        """Every row: pages of (at most) 100 until `record_count` rows have come."""
        rows: dict[int, dict[str, Any]] = {}
        total = None
        for page_no in range(1, MAX_PAGES):
            body = await self._call("GET", entity, params={
                **params, "pageinate": "true", "page_size": PAGE, "page_no": page_no})  # fmt: skip
            found = body.get(key) if isinstance(body, dict) else None
            if not isinstance(found, list):
                raise MalformedResponse(VENDOR, f"HaloPSA's {entity} list has no {key!r}")
            total = as_int(body.get("record_count"))
            rows.update(
                (int(r["id"]), r) for r in found if isinstance(r, dict) and as_int(r.get("id"))
            )
            if not found or total is None or len(rows) >= total:
                break
        return [rows[k] for k in sorted(rows)]

    # --- reading --------------------------------------------------------------------------------

    def usage(self) -> dict[str, int]:
        return {"requests": self.http.requests}

    async def authenticate(self) -> dict[str, Any]:
        await self._bearer()
        body = await self._call("GET", "Client", params={"pageinate": "true", "page_size": 1,
                                                         "page_no": 1})  # fmt: skip
        return {"clients": as_int(body.get("record_count")) if isinstance(body, dict) else None}

    async def companies(self) -> list[PsaCompanyRecord]:
        rows = await self._all("Client", "clients")
        return [PsaCompanyRecord(external_id=int(r["id"]), identifier=str(r["id"]),
                                 name=str(r.get("name") or r["id"]),
                                 website=r.get("website") or None, status=None,
                                 is_prospect=False)
                for r in rows if not r.get("inactive")]  # fmt: skip

    async def products(self) -> list[PsaProductRecord]:
        rows = await self._all("Item", "items", includeinactive="true")
        self._names = {int(r["id"]): str(r.get("name") or r["id"]) for r in rows}
        return [PsaProductRecord(external_id=int(r["id"]), identifier=str(r.get("name") or r["id"]),
                                 description=str(r.get("description") or r.get("name") or ""),
                                 inactive=bool(r.get("inactive")), recurring=True,
                                 price=as_float(r.get("baseprice")))
                for r in rows]  # fmt: skip

    async def _invoices(self, **params: Any) -> list[dict[str, Any]]:
        return await self._all("RecurringInvoice", "invoices", includelines="true", **params)

    async def agreements(self) -> list[PsaAgreementRecord]:
        """Recurring invoices, enabled and disabled (their lines show as stale)."""
        rows = await self._invoices()
        self._invoices_read = {int(r["id"]): r for r in rows}
        return [PsaAgreementRecord(external_id=int(r["id"]), company_id=int(r["client_id"]),
                                   name=str(r.get("name") or r.get("notes_1")
                                            or f"Recurring invoice {r['id']}"),
                                   agreement_status="Disabled" if r.get("disabled") else "Active",
                                   cancelled=bool(r.get("disabled")), billing_cycle="Recurring")
                for r in rows if as_int(r.get("client_id")) is not None]  # fmt: skip

    @staticmethod
    def _lines(invoice: dict[str, Any], names: dict[int, str]) -> list[PsaAdditionRecord]:
        found = []
        for line in invoice.get("lines") or []:
            if not isinstance(line, dict) or as_int(line.get("id")) is None:
                continue
            item = as_int(line.get("_itemid"))
            found.append(PsaAdditionRecord(
                external_id=int(line["id"]), agreement_id=int(invoice["id"]), product_id=item,
                product_identifier=names.get(item or 0, ""),
                quantity=as_float(line.get("qty_order")) or 0.0, less_included=0.0,
                unit_price=as_float(line.get("unit_price")), bill_customer="Billable",
                effective_date=None, cancelled_date=None,
                agreement_status="Disabled" if invoice.get("disabled") else "Active",
            ))  # fmt: skip
        return found

    async def _item_names(self) -> dict[int, str]:
        if self._names is None:
            rows = await self._all("Item", "items", includeinactive="true")
            self._names = {int(r["id"]): str(r.get("name") or r["id"]) for r in rows}
        return self._names

    async def lines_for(
        self, agreement_ids: list[int], progress: Callable[[int, int], None] | None = None
    ) -> list[PsaAdditionRecord]:
        """The lines came with the invoices (`includelines`): read them again only if the
        invoices were not read by this adapter."""
        names = await self._item_names()
        cached = self._invoices_read
        if cached is None:
            cached = {int(r["id"]): r for r in await self._invoices()}
        wanted = set(agreement_ids)
        lines = [line for invoice_id, invoice in cached.items() if invoice_id in wanted
                 for line in self._lines(invoice, names)]  # fmt: skip
        if progress:
            progress(len(agreement_ids), len(agreement_ids))
        return lines

    async def _invoice(self, invoice_id: int) -> dict[str, Any]:
        body = await self._call("GET", f"RecurringInvoice/{invoice_id}",
                                params={"includelines": "true"})  # fmt: skip
        if not isinstance(body, dict) or as_int(body.get("id")) != invoice_id:
            raise MalformedResponse(VENDOR, f"HaloPSA sent no recurring invoice {invoice_id}")
        return body

    async def lines(self, agreement_id: int, as_of: date | None = None) -> list[PsaAdditionRecord]:
        return self._lines(await self._invoice(agreement_id), await self._item_names())

    async def line(
        self, agreement_id: int, line_id: int, as_of: date | None = None
    ) -> PsaAdditionRecord:
        found = [a for a in await self.lines(agreement_id) if a.external_id == line_id]
        if not found:
            raise NotFound(VENDOR, f"HaloPSA's recurring invoice {agreement_id} has no line"
                                   f" {line_id} any more", 404)  # fmt: skip
        return found[0]

    # --- writing: the whole invoice, every line ---------------------------------------------------

    async def _post_lines(self, invoice: dict[str, Any], lines: list[dict[str, Any]]) -> None:
        # Setting a quantity is idempotent; adding a line is not, and the outbox re-reads first.
        await self._call("POST", "RecurringInvoice", body=[{"id": invoice["id"], "lines": lines}],
                         idempotent=all("id" in line for line in lines))  # fmt: skip

    @staticmethod
    def _kept(line: dict[str, Any]) -> dict[str, Any]:
        """A line as it must be sent back to keep it: its id, item, quantity and price."""
        return {k: line[k] for k in ("id", "_itemid", "qty_order", "unit_price",
                                     "item_shortdescription") if k in line}  # fmt: skip

    async def set_line_quantity(
        self,
        agreement_id: int,
        line_id: int,
        quantity: float,
        *,
        current: float,
        effective_date: date | None = None,
    ) -> None:
        invoice = await self._invoice(agreement_id)
        lines = [self._kept(line) for line in invoice.get("lines") or [] if isinstance(line, dict)]
        target = [line for line in lines if as_int(line.get("id")) == line_id]
        if not target:
            raise NotFound(VENDOR, f"HaloPSA's recurring invoice {agreement_id} has no line"
                                   f" {line_id} any more", 404)  # fmt: skip
        target[0]["qty_order"] = quantity
        await self._post_lines(invoice, lines)

    async def add_line(
        self,
        agreement_id: int,
        product_id: int,
        quantity: float,
        unit_price: float | None = None,
        effective_date: date | None = None,
    ) -> None:
        invoice = await self._invoice(agreement_id)
        lines = [self._kept(line) for line in invoice.get("lines") or [] if isinstance(line, dict)]
        new: dict[str, Any] = {"_itemid": product_id, "qty_order": quantity}
        if unit_price is not None:
            new["unit_price"] = unit_price
        await self._post_lines(invoice, [*lines, new])

    # --- alerts: teams and tickets ---------------------------------------------------------------

    async def boards(self) -> list[Board]:
        body = await self._call("GET", "Team")
        rows = body if isinstance(body, list) else (body or {}).get("teams")
        if not isinstance(rows, list):
            raise MalformedResponse(VENDOR, "HaloPSA's teams are not a list")
        return [Board(int(r["id"]), str(r.get("name") or r["id"])) for r in rows
                if isinstance(r, dict) and as_int(r.get("id")) is not None
                and not r.get("inactive")]  # fmt: skip

    async def find_ticket(self, external_ref: str) -> int | None:
        """A ticket opened with this reference in `third_party_id_string`."""
        rows = await self._all("Tickets", "tickets", third_party_id_string=external_ref)
        found = [r for r in rows if r.get("third_party_id_string") in (None, external_ref)]
        return int(found[0]["id"]) if found else None

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
        ticket = {"client_id": company_id, "summary": summary[:255], "details": description,
                  "team_id": board_id, "priority_id": priority_id or 3}  # fmt: skip
        if external_ref is not None:  # find_ticket looks it up by this
            ticket["third_party_id_string"] = external_ref
        created = await self._call("POST", "Tickets", body=[ticket], idempotent=False)
        first = created[0] if isinstance(created, list) and created else created
        if not isinstance(first, dict) or as_int(first.get("id")) is None:
            raise MalformedResponse(VENDOR, "HaloPSA created a ticket but sent no id")
        return int(first["id"])
