"""The Gradient-compatible Vendor API (REFERENCE.md): same paths, GRADIENT-TOKEN auth, bodies and
replies, so a vendor's existing push code works once pointed at our base URL.

Every answer that is not a success, 500 included, is `{"statusCode": N, "message": "..."}`, as
the Gradient API (NestJS) answers. Limits (README, "msp-tui serve"): 1 MiB per body (413), 100
requests per second per partner key (429 + Retry-After), failed authentications per client
address (429), a busy store (503 + Retry-After); transport.py adds the HTTP-level ones.
No handler touches the store on the event loop: see gate.py.
"""

from __future__ import annotations

import logging
from datetime import UTC
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter
from starlette.exceptions import HTTPException as StarletteHTTPException

from adapters.records import VendorAccountRecord, VendorServiceRecord
from msp_tui import __version__
from msp_tui.push import inbox
from msp_tui.push.bodies import (
    MAX_UNITS,
    AccountBody,
    AccountPatch,
    AlertBody,
    CountBody,
    ServiceBody,
    SkuBody,
    last_wins,
    plain_text,
)
from msp_tui.push.bulk import json_reply, parsed, request_body
from msp_tui.push.gate import RETRY_AFTER_S, StoreBusy, StoreGate
from msp_tui.push.keys import BadToken, Caller, authenticate
from msp_tui.push.limits import (
    BodyLimit,
    RateLimiter,
    TokenBuckets,
    auth_failure_limiter,
    error,
)
from msp_tui.sources import PUSH_VENDORS
from msp_tui.store.models import Integration, VendorAccount, VendorService

PREFIX = "/api/vendor-api"
DEFAULT_RATE_LIMIT = 100.0  # requests per second per partner key, as Gradient documents
REFUSED = "Invalid GRADIENT-TOKEN: send base64 of vendorApiKey:partnerApiKey"
BATCH_ROWS = 2_000  # a big batch is written in parts, so other clients' writes get turns
log = logging.getLogger("msp_tui.push")


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers


# --- the app -----------------------------------------------------------------------------------


ACCOUNTS = TypeAdapter(list[AccountBody])
SERVICES = TypeAdapter(list[ServiceBody])


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
    where = ".".join(str(x) for x in first.get("loc", ()) if x not in ("body", "path", "query"))
    what = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{where}: {what}" if where else what


def _identified(value: str, what: str) -> str:
    """An id from the path or the query: refused before it reaches the store if it is not text
    an id can be."""
    if not plain_text(value):
        raise ApiError(400, f"{what}: not a valid id (1-255 characters, no control characters)")
    return value


def client_address(request: Request) -> str:
    # With --forwarded-allow-ips naming the reverse proxy, uvicorn has already put the
    # X-Forwarded-For client here.
    return request.client.host if request.client else "unknown"


async def caller(
    request: Request,
    gradient_token: Annotated[str | None, Header(alias="GRADIENT-TOKEN")] = None,
) -> Caller:
    """Who is calling: the partner key's integration, within its rate limit. One message for
    every kind of bad token, and a limit on failures per client address."""
    state = request.app.state
    address = client_address(request)
    failures: TokenBuckets = state.auth_failures
    wait = failures.waiting(address)
    if wait:
        raise ApiError(429, "Too many failed authentications: try again later",
                       {"Retry-After": str(wait)})  # fmt: skip
    try:
        found = await state.gate.read(authenticate, gradient_token)
    except BadToken as exc:
        failures.retry_after(address)  # counts the failure
        log.info("refused a token from %s: %s", address, exc)
        raise ApiError(401, REFUSED) from None
    limiter: RateLimiter = state.limiter
    wait = limiter.retry_after(found.key_id)
    if wait:
        raise ApiError(429, f"Too many requests: {limiter.describe()}",
                       {"Retry-After": str(wait)})  # fmt: skip
    if found.integration.status == "not_connected":
        await state.gate.write(inbox.mark_called, found.integration)
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
    app.state.auth_failures = auth_failure_limiter()
    app.state.gate = gate = StoreGate()
    _errors_as_json(app)

    @app.get(PREFIX + "/", include_in_schema=False)  # base URL + "/" as some clients join it
    @app.get(PREFIX, summary="The vendor, its modules and SKUs")
    async def vendor(c: Auth) -> dict[str, Any]:
        data = await gate.read(vendor_object, c.integration)
        return {"status": "success", "data": data, "message": "OK"}

    @app.post(PREFIX + "/service", summary="Define a SKU; returns the vendor with its SKUs")
    async def create_sku(body: SkuBody, c: Auth) -> dict[str, Any]:
        sku = VendorServiceRecord("", body.name, body.description, body.category, body.subcategory)
        await gate.write(inbox.create_service, c.integration, sku)
        return await gate.read(vendor_object, c.integration)

    @app.get(PREFIX + "/service/{service_id}", summary="One SKU")
    async def get_sku(service_id: str, c: Auth) -> dict[str, Any]:
        service_id = _identified(service_id, "serviceId")
        return service_object(await gate.read(inbox.service_by_id, c.integration, service_id))

    @app.patch(PREFIX + "/service/{service_id}", summary="Change a SKU")
    async def patch_sku(service_id: str, body: SkuBody, c: Auth) -> dict[str, Any]:
        service_id = _identified(service_id, "serviceId")
        changes = body.model_dump(exclude_none=True)
        return service_object(
            await gate.write(inbox.update_service, c.integration, service_id, changes)
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
        await gate.write(inbox.set_status, c.integration, status)
        return {"status": status}

    @app.get(PREFIX + "/organization/accounts", summary="Accounts the vendor has sent")
    async def accounts(
        c: Auth,
        account_ids: Annotated[list[str] | None, Query(alias="accountIds[]")] = None,
        return_unmapped: Annotated[bool, Query(alias="returnUnmapped")] = False,
    ) -> list[dict[str, Any]]:
        ids = [_identified(i, "accountIds[]") for i in account_ids or []]

        def listed() -> list[dict[str, Any]]:
            found = inbox.list_accounts(c.integration, ids or None, return_unmapped)
            return [account_object(a) for a in found]

        return await gate.read(listed)

    @app.post(
        PREFIX + "/organization/accounts", status_code=201, summary="Upsert accounts by id",
        response_model=list[dict[str, Any]], openapi_extra=request_body(ACCOUNTS),
    )  # fmt: skip
    async def post_accounts(request: Request, c: Auth) -> Response:
        def records(body: list[AccountBody]) -> list[VendorAccountRecord]:
            return [VendorAccountRecord(str(a.id), a.name, a.description) for a in last_wins(body)]

        items = await parsed(request, ACCOUNTS, records)
        for start in range(0, len(items), BATCH_ROWS):
            await gate.write(inbox.upsert_accounts, c.integration,
                             items[start : start + BATCH_ROWS])  # fmt: skip
        return await json_reply([{"id": a.external_id, "name": a.name,
                                  "description": a.description} for a in items], 201)  # fmt: skip

    @app.patch(PREFIX + "/organization/accounts/{account_id}", summary="Change an account")
    async def patch_account(account_id: str, body: AccountPatch, c: Auth) -> dict[str, Any]:
        account_id = _identified(account_id, "accountId")
        changes = VendorAccountRecord(account_id, body.name or "", body.description)
        return account_object(
            await gate.write(inbox.update_account, c.integration, account_id, changes)
        )

    @app.post(PREFIX + "/organization/services", status_code=201, summary="Upsert services by id",
              openapi_extra=request_body(SERVICES))  # fmt: skip
    async def post_services(request: Request, c: Auth) -> list[dict[str, Any]]:
        def records(body: list[ServiceBody]) -> list[VendorServiceRecord]:
            return [VendorServiceRecord(str(s.id), s.name, s.description) for s in last_wins(body)]

        items = await parsed(request, SERVICES, records)
        for start in range(0, len(items), BATCH_ROWS):
            await gate.write(inbox.upsert_services, c.integration,
                             items[start : start + BATCH_ROWS])  # fmt: skip
        found = await gate.read(inbox.services, c.integration)
        return [service_object(s) for s in found]

    @app.post(PREFIX + "/service/{service_id}/count", status_code=201, summary="Update Counts")
    async def count(
        service_id: str, body: CountBody, c: Auth,
        no_build: Annotated[bool, Query()] = False,
    ) -> dict[str, Any]:  # fmt: skip
        service_id = _identified(service_id, "serviceId")
        quantity = Decimal(str(body.unitCount))
        await gate.write(inbox.record_count, c.integration, service_id, str(body.accountId),
                         quantity)  # fmt: skip
        return {"serviceId": service_id, "accountId": str(body.accountId),
                "unitCount": body.unitCount}  # fmt: skip

    @app.post(PREFIX + "/alerting/{account_id}", status_code=201, summary="Queue an alert")
    async def alert(account_id: str, body: AlertBody, c: Auth) -> dict[str, Any]:
        account_id = _identified(account_id, "accountId")
        queued = await gate.write(inbox.queue_alert, c.integration, account_id, body.model_dump())
        return {"messageId": queued.message_id, "alertId": queued.alert_id,
                "correlationID": queued.message_id}  # fmt: skip

    @app.get(PREFIX + "/alerting/debug/{message_id}", summary="What became of an alert")
    async def alert_debug(message_id: str, c: Auth) -> dict[str, Any]:
        message_id = _identified(message_id, "messageId")
        a = await gate.read(inbox.alert_by_message, c.integration, message_id)
        return {
            "ticketId": a.ticket_id, "createdAt": a.created_at.replace(tzinfo=UTC).isoformat(),
            "message": a.title, "messageId": a.message_id, "status": a.state,
            "statusCode": 201 if a.state == "created" else (500 if a.state == "failed" else 202),
            "errors": list(a.errors or []),
        }  # fmt: skip

    app.add_middleware(BodyLimit)
    return app


def _errors_as_json(app: FastAPI) -> None:
    """Every failure answers in the API's own shape: nothing plain text, no traceback."""

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

    @app.exception_handler(StoreBusy)
    async def busy(request: Request, exc: StoreBusy) -> JSONResponse:
        return error(503, exc.message, {"Retry-After": str(RETRY_AFTER_S)})

    @app.exception_handler(Exception)
    async def failed(request: Request, exc: Exception) -> JSONResponse:
        log.error("%s %s failed: %s", request.method, request.url.path, type(exc).__name__)
        # uvicorn closes the connection after an unhandled error: say so, lest it be reused.
        return error(500, "Internal error: try again later",
                     {"Connection": "close"})  # fmt: skip
