"""The Gradient-compatible Vendor API (REFERENCE.md): same paths, GRADIENT-TOKEN auth, bodies and
replies, so a vendor's existing push code works once pointed at our base URL.

Every rejection is `{"statusCode": N, "message": "..."}`, as the Gradient API (NestJS) answers.
Limits: 1 MiB per body (413), 100 requests per second per partner key (429 + Retry-After).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, field_validator
from starlette.exceptions import HTTPException as StarletteHTTPException

from adapters.records import VendorAccountRecord, VendorServiceRecord
from msp_tui import __version__
from msp_tui.push import inbox
from msp_tui.push.keys import BadToken, Caller, authenticate
from msp_tui.sources import PUSH_VENDORS
from msp_tui.store.models import Integration, VendorAccount, VendorService

PREFIX = "/api/vendor-api"
MAX_BODY = 1024 * 1024
DEFAULT_RATE_LIMIT = 100.0  # requests per second per partner key, as Gradient documents


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"statusCode": status, "message": message}, status, headers=headers)


# --- bodies (they also make the OpenAPI schema) ------------------------------------------------

Id = Annotated[str | StrictInt, Field(description="the vendor's own id")]


MAX_UNITS = 10**12


class Loose(BaseModel):
    model_config = ConfigDict(extra="allow")  # vendors send more than we read

    @field_validator("*", mode="after")
    @classmethod
    def _storable_text(cls, value: Any) -> Any:
        # JSON may carry lone surrogates ("\ud808"), which no database can store.
        if isinstance(value, str):
            value.encode("utf-8")
        return value


class AccountBody(Loose):
    id: Id
    name: Annotated[str, Field(min_length=1, max_length=255)]
    description: str | None = None


class AccountPatch(Loose):
    id: Id | None = None
    name: Annotated[str, Field(max_length=255)] | None = None
    description: str | None = None


class ServiceBody(Loose):
    id: Id
    name: Annotated[str, Field(min_length=1, max_length=255)]
    description: str | None = None


class SkuBody(Loose):
    name: Annotated[str, Field(min_length=1, max_length=255)]
    description: str | None = None
    category: str | None = None
    subcategory: str | None = None
    supportArticle: str | None = None
    supportContact: str | None = None


class CountBody(Loose):
    accountId: Id
    unitCount: Annotated[StrictInt | StrictFloat, Field(ge=0, le=MAX_UNITS, allow_inf_nan=False)]


class AlertBody(Loose):
    title: Annotated[str, Field(min_length=1, max_length=255)]
    description: str | None = None
    alertId: Id | None = None
    priority: Annotated[StrictInt, Field(ge=1, le=4)] = 3
    status: Annotated[StrictInt, Field(ge=1, le=6)] | None = None
    dueDateTime: datetime | None = None
    serviceId: Id | None = None


# --- limits ------------------------------------------------------------------------------------


class RateLimiter:
    """A token bucket per partner key: `rate` requests per second, bursts up to `rate` (at
    least one request). `clock` is injectable so tests need not race a real one."""

    def __init__(self, rate: float | None, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate or 0.0)
        self._clock = clock
        self._buckets: dict[int, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def describe(self) -> str:
        """The limit in words, for the 429 message."""
        return f"the limit is {self.rate:g} per second"

    def retry_after(self, key_id: int) -> int:
        """0 to go ahead, else the seconds to wait."""
        if not self.rate:
            return 0
        now = self._clock()
        with self._lock:
            tokens, then = self._buckets.get(key_id, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - then) * self.rate)
            if tokens >= 1:
                self._buckets[key_id] = (tokens - 1, now)
                return 0
            self._buckets[key_id] = (tokens, now)
            return max(1, math.ceil((1 - tokens) / self.rate))


class BodyLimit:
    """413 for bodies over the limit, whether or not they say their length up front."""

    def __init__(self, app: Any, limit: int = MAX_BODY) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await error(413, "Payload too large: the limit is 1 MiB")(scope, receive, send)
            return
        seen = 0

        async def limited_receive() -> dict:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise ApiError(413, "Payload too large: the limit is 1 MiB")
            return message

        await self.app(scope, limited_receive, send)


# --- the app -----------------------------------------------------------------------------------


def vendor_object(integration: Integration) -> dict[str, Any]:
    return {
        "_id": f"{integration.id:024x}",
        "name": PUSH_VENDORS.get(integration.vendor, integration.vendor),
        "description": f"{integration.name} (msp-tui push integration)",
        "integrationType": "push",
        "modules": [{"variation": m} for m in integration.modules.split(",") if m],
        "skus": [service_object(s) for s in inbox.services(integration)],
    }


def service_object(service: VendorService) -> dict[str, Any]:
    # Callers read a service's id as `_id` and as `id`: send both.
    return {"_id": service.external_id, "id": service.external_id, "name": service.name,
            "description": service.description, "category": service.category,
            "subcategory": service.subcategory}  # fmt: skip


def account_object(account: VendorAccount) -> dict[str, Any]:
    return {"id": account.external_id, "name": account.name, "description": account.description}


def _validation_message(exc: RequestValidationError) -> str:
    problems = exc.errors()
    if any(p.get("type") == "json_invalid" for p in problems):
        return "Malformed JSON in the request body"
    about_units = [p for p in problems if "unitCount" in map(str, p.get("loc", ()))]
    if any(p.get("type") == "less_than_equal" for p in about_units):
        return f"unitCount must be a number no greater than {MAX_UNITS}"
    if about_units:
        return "unitCount must be a number"
    first = problems[0] if problems else {}
    where = ".".join(str(x) for x in first.get("loc", ()) if x != "body")
    return f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg", "invalid"))


def caller(
    request: Request,
    gradient_token: Annotated[str | None, Header(alias="GRADIENT-TOKEN")] = None,
) -> Caller:
    """Who is calling: the partner key's integration, within its rate limit."""
    try:
        found = authenticate(gradient_token)
    except BadToken as exc:
        raise ApiError(401, str(exc)) from None
    limiter: RateLimiter = request.app.state.limiter
    wait = limiter.retry_after(found.key_id)
    if wait:
        raise ApiError(429, f"Too many requests: {limiter.describe()}",
                       {"Retry-After": str(wait)})  # fmt: skip
    inbox.mark_called(found.integration)
    return found


Auth = Annotated[Caller, Depends(caller)]


def create_app(rate_limit: float | None = DEFAULT_RATE_LIMIT) -> FastAPI:
    """The Vendor API over the store bound to the models (see msp_tui.store.db.open_store)."""
    app = FastAPI(
        title="msp-tui Vendor API",
        version=__version__,
        description="Gradient-compatible Vendor API: push vendors send accounts, services,"
        " usage counts and alerts. Authenticate with the GRADIENT-TOKEN header:"
        " base64('<vendorApiKey>:<partnerApiKey>').",
        docs_url=None,
        redoc_url=None,
    )
    app.state.limiter = RateLimiter(rate_limit)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error(exc.status, exc.message, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error(400, _validation_message(exc))

    @app.exception_handler(inbox.UnknownRecord)
    async def unknown(request: Request, exc: inbox.UnknownRecord) -> JSONResponse:
        return error(404, str(exc))

    @app.get(PREFIX + "/", include_in_schema=False)  # base URL + "/" as some clients join it
    @app.get(PREFIX, summary="The vendor, its modules and SKUs")
    async def vendor(c: Auth) -> dict[str, Any]:
        return {"status": "success", "data": vendor_object(c.integration), "message": "OK"}

    @app.post(PREFIX + "/service", summary="Define a SKU; returns the vendor with its SKUs")
    async def create_sku(body: SkuBody, c: Auth) -> dict[str, Any]:
        sku = VendorServiceRecord("", body.name, body.description, body.category, body.subcategory)
        inbox.create_service(c.integration, sku)
        return vendor_object(c.integration)

    @app.get(PREFIX + "/service/{service_id}", summary="One SKU")
    async def get_sku(service_id: str, c: Auth) -> dict[str, Any]:
        return service_object(inbox.service_by_id(c.integration, service_id))

    @app.patch(PREFIX + "/service/{service_id}", summary="Change a SKU")
    async def patch_sku(service_id: str, body: SkuBody, c: Auth) -> dict[str, Any]:
        return service_object(
            inbox.update_service(c.integration, service_id, body.model_dump(exclude_none=True))
        )

    @app.get(PREFIX + "/organization", summary="The credential check")
    async def organization(c: Auth) -> dict[str, Any]:
        i = c.integration
        last = i.last_push_at or i.last_sync_at
        return {
            "organizationId": f"{i.id:024x}", "name": i.name, "vendorId": f"{i.id:024x}",
            "vendorName": PUSH_VENDORS.get(i.vendor, i.vendor), "integrationId": str(i.id),
            "status": i.status,
            "lastSyncedAt": last.replace(tzinfo=UTC).isoformat() if last else None,
        }  # fmt: skip

    @app.patch(PREFIX + "/organization/status/{status}", summary="The vendor sets its status")
    async def set_status(
        status: Literal["active", "inactive", "pending", "disabled", "error"], c: Auth
    ) -> dict[str, Any]:
        inbox.set_status(c.integration, status)
        return {"status": status}

    @app.get(PREFIX + "/organization/accounts", summary="Accounts the vendor has sent")
    async def accounts(
        c: Auth,
        account_ids: Annotated[list[str] | None, Query(alias="accountIds[]")] = None,
        return_unmapped: Annotated[bool, Query(alias="returnUnmapped")] = False,
    ) -> list[dict[str, Any]]:
        found = inbox.list_accounts(c.integration, account_ids, return_unmapped)
        return [account_object(a) for a in found]

    @app.post(PREFIX + "/organization/accounts", status_code=201, summary="Upsert accounts by id")
    async def post_accounts(body: list[AccountBody], c: Auth) -> list[dict[str, Any]]:
        items = [VendorAccountRecord(str(a.id), a.name, a.description) for a in body]
        inbox.upsert_accounts(c.integration, items)
        return [
            account_object(a)
            for a in inbox.list_accounts(c.integration, [i.external_id for i in items])
        ]

    @app.patch(PREFIX + "/organization/accounts/{account_id}", summary="Change an account")
    async def patch_account(account_id: str, body: AccountPatch, c: Auth) -> dict[str, Any]:
        changes = VendorAccountRecord(account_id, body.name or "", body.description)
        return account_object(inbox.update_account(c.integration, account_id, changes))

    @app.post(PREFIX + "/organization/services", status_code=201, summary="Upsert services by id")
    async def post_services(body: list[ServiceBody], c: Auth) -> list[dict[str, Any]]:
        inbox.upsert_services(c.integration, [VendorServiceRecord(str(s.id), s.name, s.description)
                                              for s in body])  # fmt: skip
        return [service_object(s) for s in inbox.services(c.integration)]

    @app.post(PREFIX + "/service/{service_id}/count", status_code=201, summary="Update Counts")
    async def count(
        service_id: str, body: CountBody, c: Auth,
        no_build: Annotated[bool, Query()] = False,
    ) -> dict[str, Any]:  # fmt: skip
        quantity = Decimal(str(body.unitCount))
        inbox.record_count(c.integration, service_id, str(body.accountId), quantity)
        return {"serviceId": service_id, "accountId": str(body.accountId),
                "unitCount": body.unitCount}  # fmt: skip

    @app.post(PREFIX + "/alerting/{account_id}", status_code=201, summary="Queue an alert")
    async def alert(account_id: str, body: AlertBody, c: Auth) -> dict[str, Any]:
        data = body.model_dump()
        if body.dueDateTime is not None:
            due = body.dueDateTime
            data["dueDateTime"] = due.astimezone(UTC).replace(tzinfo=None) if due.tzinfo else due
        queued = inbox.queue_alert(c.integration, account_id, data)
        return {"messageId": queued.message_id, "alertId": queued.alert_id,
                "correlationID": queued.message_id}  # fmt: skip

    @app.get(PREFIX + "/alerting/debug/{message_id}", summary="What became of an alert")
    async def alert_debug(message_id: str, c: Auth) -> dict[str, Any]:
        a = inbox.alert_by_message(c.integration, message_id)
        return {
            "ticketId": a.ticket_id, "createdAt": a.created_at.replace(tzinfo=UTC).isoformat(),
            "message": a.title, "messageId": a.message_id, "status": a.state,
            "statusCode": 201 if a.state == "created" else (500 if a.state == "failed" else 202),
            "errors": list(a.errors or []),
        }  # fmt: skip

    app.add_middleware(BodyLimit)
    return app
