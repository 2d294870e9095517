"""The ConnectWise Manage REST API 3.0, as far as billing reconciliation needs it, served from a
`World`: companies, catalog, agreements and their additions, boards and tickets, with real
paging (Link headers), `conditions`, `fields` and `orderBy`.

Every object carries a field or two that clients do not know about, because the real API does.
"""

from __future__ import annotations

import base64
import binascii
import functools
import math
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from adapters.sandbox.conditions import MISSING, ConditionError, lookup, parse_conditions
from adapters.sandbox.faults import FaultMiddleware, Faults
from adapters.sandbox.world import Addition, Agreement, CatalogItem, PsaCompany, Ticket, World

CODEBASE = "v4_6_release"
DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 1000
PRIORITIES = {
    1: "Priority 1 - Emergency Response",
    2: "Priority 2 - Quick Response",
    3: "Priority 3 - Normal Response",
    4: "Priority 4 - Schedule Maintenance",
}
BILL_CUSTOMER = ("Billable", "DoNotBill", "NoCharge")
PATCHABLE = ("quantity", "unitPrice", "effectiveDate", "cancelledDate")
_TYPE_IDS = {"Customer": 1, "Prospect": 2, "Partner": 3}
_INFO = {"lastUpdated": "2025-01-06T14:02:11Z", "updatedBy": "sandbox"}

Handler = Callable[[Request], Awaitable[Response]]
Items = Callable[[Request], list[dict[str, Any]]]


class ApiError(Exception):
    """Raised anywhere in a handler; rendered in ConnectWise's error shape."""

    def __init__(
        self, status: int, code: str, message: str, errors: list[dict[str, str]] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.errors = status, code, message, errors or []


def invalid(resource: str, field: str, message: str) -> ApiError:
    detail = {"code": "InvalidField", "message": message, "resource": resource, "field": field}
    return ApiError(400, "InvalidObject", f"{resource} object is invalid", [detail])


def _error_body(status: int, message: str) -> dict[str, Any]:
    codes = {401: "Unauthorized", 404: "NotFound", 405: "MethodNotAllowed", 429: "TooManyRequests"}
    return {"code": codes.get(status, "InternalServerError"), "message": message, "errors": []}


def _iso(day: date | None) -> str | None:
    return None if day is None else f"{day.isoformat()}T00:00:00Z"


def _ref(company: PsaCompany) -> dict[str, Any]:
    return {"id": company.id, "identifier": company.identifier, "name": company.name}


def company_json(company: PsaCompany) -> dict[str, Any]:
    return {
        "id": company.id,
        "identifier": company.identifier,
        "name": company.name,
        "status": {"id": 1, "name": company.status},
        "types": [{"id": _TYPE_IDS.get(t, 9), "name": t} for t in company.types],
        "website": company.website,
        "deletedFlag": company.deleted_flag,
        "phoneNumber": f"555{company.id % 10_000_000:07d}",
        "_info": dict(_INFO),
    }


def agreement_json(world: World, agreement: Agreement) -> dict[str, Any]:
    cycle = agreement.billing_cycle
    return {
        "id": agreement.id,
        "name": agreement.name,
        "type": {"id": 1, "name": agreement.name.rsplit(" - ", 1)[-1]},
        "company": _ref(world.companies[agreement.company_id]),
        "agreementStatus": agreement.status,
        "cancelledFlag": agreement.cancelled_flag,
        "billingCycle": {"id": 1, "name": cycle} if cycle else None,
        "applicationUnits": "Amount",
        "_info": dict(_INFO),
    }


def addition_json(world: World, addition: Addition) -> dict[str, Any]:
    item = world.catalog[addition.product_id]
    return {
        "id": addition.id,
        "product": {"id": item.id, "identifier": item.identifier},
        "quantity": addition.quantity,
        "lessIncluded": addition.less_included,
        "unitPrice": addition.unit_price,
        "unitCost": item.cost,
        "billCustomer": addition.bill_customer,
        "effectiveDate": _iso(addition.effective_date),
        "cancelledDate": _iso(addition.cancelled_date),
        "agreementStatus": addition.status,
        "agreementId": addition.agreement_id,
        "description": item.description,
        "extPrice": round(addition.quantity * addition.unit_price, 2),
        "_info": dict(_INFO),
    }


def ticket_json(world: World, ticket: Ticket) -> dict[str, Any]:
    board = world.boards[ticket.board_id]
    return {
        "id": ticket.id,
        "summary": ticket.summary,
        "recordType": "ServiceTicket",
        "board": {"id": board.id, "name": board.name},
        "company": _ref(world.companies[ticket.company_id]),
        "status": {"id": 1, "name": "New"},
        "priority": {"id": ticket.priority_id, "name": PRIORITIES[ticket.priority_id]},
        "initialDescription": ticket.initial_description,
        "externalXRef": ticket.external_xref,
        "dateEntered": ticket.entered.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "_info": dict(_INFO),
    }


def connectwise_app(world: World, faults: Faults | None = None) -> Starlette:
    faults = faults or Faults()

    def api(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(request: Request) -> Response:
            _authenticate(world, request)
            return await handler(request)

        return guarded

    def collection(path: str, resource: str, items: Items) -> list[BaseRoute]:
        """List, count and get-one routes for a resource."""

        async def many(request: Request) -> Response:
            return page_of(request, items(request))

        async def count(request: Request) -> Response:
            return JSONResponse({"count": len(_filtered(request, items(request)))})

        async def one(request: Request) -> Response:
            wanted = request.path_params["id"]
            found = next((i for i in items(request) if i["id"] == wanted), None)
            if found is None:
                raise ApiError(404, "NotFound", f"{resource} with id {wanted} was not found.")
            return JSONResponse(_select(found, request.query_params.get("fields")))

        return [
            Route(path, api(many)),
            Route(f"{path}/count", api(count)),
            Route(f"{path}/{{id:int}}", api(one)),
        ]

    def agreement_of(request: Request) -> Agreement:
        aid = request.path_params["agreement_id"]
        if aid not in world.agreements:
            raise ApiError(404, "NotFound", f"Agreement with id {aid} was not found.")
        return world.agreements[aid]

    def additions_of(request: Request) -> list[dict[str, Any]]:
        agreement = agreement_of(request)
        return [addition_json(world, a) for a in world.agreement_additions(agreement.id)]

    async def company_info(request: Request) -> Response:
        if request.path_params["company_id"].casefold() != world.cw_company_id.casefold():
            raise ApiError(404, "NotFound", "Company not found.")
        return JSONResponse(
            {
                "CompanyName": world.cw_company_name,
                "Codebase": f"{CODEBASE}/",
                "VersionCode": "v2025.1",
                "VersionNumber": "v4.6",
                "CompanyID": world.cw_company_id,
                "IsCloud": False,
                "SiteUrl": request.url.netloc,
            }
        )

    async def system_info(request: Request) -> Response:
        return JSONResponse(
            {
                "version": "v2025.1.10431",
                "isCloud": False,
                "serverTimeZone": "Eastern Standard Time",
                "cloudRegion": "NA",
                "licenseBits": [],
            }
        )

    async def create_addition(request: Request) -> Response:
        agreement = agreement_of(request)
        body = await _json_body(request, dict, "agreementAddition")
        addition = world.add_addition(_new_addition(world, agreement, body))
        return JSONResponse(addition_json(world, addition), status_code=201)

    async def patch_addition(request: Request) -> Response:
        agreement = agreement_of(request)
        addition = world.additions.get(request.path_params["id"])
        if addition is None or addition.agreement_id != agreement.id:
            wanted = request.path_params["id"]
            raise ApiError(404, "NotFound", f"Addition with id {wanted} was not found.")
        operations = await _json_body(request, list, "agreementAddition")
        _apply_patch(addition, operations)
        return JSONResponse(addition_json(world, addition))

    async def create_ticket(request: Request) -> Response:
        body = await _json_body(request, dict, "ticket")
        ticket = _new_ticket(world, body)
        world.tickets[ticket.id] = ticket
        return JSONResponse(ticket_json(world, ticket), status_code=201)

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        body = {"code": exc.code, "message": exc.message, "errors": exc.errors}
        return JSONResponse(body, status_code=exc.status)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return JSONResponse(_error_body(exc.status_code, exc.detail), status_code=exc.status_code)

    additions = "/finance/agreements/{agreement_id:int}/additions"
    routes = [
        Route("/system/info", api(system_info)),
        *collection(
            "/company/companies",
            "Company",
            lambda r: [company_json(c) for c in world.companies.values()],
        ),
        *collection(
            "/procurement/catalog",
            "Catalog item",
            lambda r: [_catalog_json(i) for i in world.catalog.values()],
        ),
        *collection(
            "/finance/agreements",
            "Agreement",
            lambda r: [agreement_json(world, a) for a in world.agreements.values()],
        ),
        Route(additions, api(create_addition), methods=["POST"]),
        Route(f"{additions}/{{id:int}}", api(patch_addition), methods=["PATCH"]),
        *collection(additions, "Addition", additions_of),
        *collection(
            "/service/boards",
            "Board",
            lambda r: [_board_json(b.id, b.name) for b in world.boards.values()],
        ),
        Route("/service/tickets", api(create_ticket), methods=["POST"]),
        *collection(
            "/service/tickets",
            "Ticket",
            lambda r: [ticket_json(world, t) for t in world.tickets.values()],
        ),
    ]
    app = Starlette(
        routes=[
            Route("/login/companyinfo/{company_id}", company_info),
            Mount(f"/{CODEBASE}/apis/3.0", routes=routes),
        ],
        middleware=[Middleware(FaultMiddleware, faults=faults, error_body=_error_body)],
        exception_handlers={ApiError: api_error, HTTPException: http_error},
    )
    app.state.faults = faults
    return app


def _catalog_json(item: CatalogItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "identifier": item.identifier,
        "description": item.description,
        "inactiveFlag": item.inactive_flag,
        "recurringFlag": item.recurring_flag,
        "price": item.price,
        "cost": item.cost,
        "productClass": "Service",
        "_info": dict(_INFO),
    }


def _board_json(board_id: int, name: str) -> dict[str, Any]:
    location = {"id": 1, "name": "Main Office"}
    return {"id": board_id, "name": name, "inactiveFlag": False, "location": location, "_info": {}}


def _authenticate(world: World, request: Request) -> None:
    """Basic auth of "<companyId>+<publicKey>:<privateKey>", then the clientId header."""
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    try:
        user, _, private_key = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        user, private_key = "", ""
    company, _, public_key = user.partition("+")
    if (
        scheme.casefold() != "basic"
        or company.casefold() != world.cw_company_id.casefold()
        or (public_key, private_key) != (world.cw_public_key, world.cw_private_key)
    ):
        raise ApiError(401, "Unauthorized", "Invalid API member credentials.")
    client_id = request.headers.get("clientid")
    if not client_id:
        message = "clientId is required: send the clientId header from developer.connectwise.com"
        detail = {
            "code": "Required",
            "message": message,
            "resource": "request",
            "field": "clientId",
        }
        raise ApiError(400, "BadRequest", message, [detail])
    if client_id.casefold() != world.cw_client_id.casefold():
        raise ApiError(401, "Unauthorized", f"clientId {client_id!r} is not registered.")


def _filtered(request: Request, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    conditions = request.query_params.get("conditions")
    if not conditions or not conditions.strip():
        return items
    try:
        predicate = parse_conditions(conditions, items[0].keys() if items else None)
    except ConditionError as exc:
        detail = {"code": "InvalidCondition", "message": str(exc), "resource": "conditions"}
        raise ApiError(
            400, "InvalidObject", f"conditions: {exc}", [detail | {"field": ""}]
        ) from exc
    return [item for item in items if predicate(item)]


def page_of(request: Request, items: list[dict[str, Any]]) -> Response:
    """One page of `items` after conditions and orderBy, with a ConnectWise Link header."""
    query = request.query_params
    page = _positive(query.get("page"), 1, "page")
    size = min(_positive(query.get("pageSize"), DEFAULT_PAGE_SIZE, "pageSize"), MAX_PAGE_SIZE)
    items = _ordered(_filtered(request, items), query.get("orderBy"))
    last = max(1, math.ceil(len(items) / size))
    chunk = [_select(i, query.get("fields")) for i in items[(page - 1) * size : page * size]]

    def link(n: int, rel: str) -> str:
        return f'<{request.url.include_query_params(pageSize=size, page=n)}>; rel="{rel}"'

    links = [link(page + 1, "next"), link(last, "last")] if page < last else []
    if page > 1:
        links += [link(1, "first"), link(min(page - 1, last), "prev")]
    headers = {"Link": ", ".join(links)} if links else None
    return JSONResponse(chunk, headers=headers)


def _positive(value: str | None, default: int, name: str) -> int:
    if value is None or value == "":
        return default
    if not value.isdigit() or int(value) < 1:
        raise ApiError(400, "InvalidObject", f"{name} must be a positive whole number.")
    return int(value)


def _ordered(items: list[dict[str, Any]], order_by: str | None) -> list[dict[str, Any]]:
    if not order_by or not order_by.strip():
        return items
    field, _, direction = order_by.strip().partition(" ")
    direction = direction.strip().casefold() or "asc"
    bad = ApiError(400, "InvalidObject", f"orderBy {order_by!r}: use 'field asc' or 'field desc'.")
    if direction not in ("asc", "desc") or (items and lookup(items[0], field) is MISSING):
        raise bad

    def key(item: dict[str, Any]) -> tuple[bool, Any]:
        value = lookup(item, field)
        if value is None or value is MISSING:
            return (True, 0)  # nulls last, as SQL Server puts them first only when asked
        return (False, value.casefold() if isinstance(value, str) else value)

    try:
        return sorted(items, key=key, reverse=direction == "desc")
    except TypeError as exc:  # ordering by an object, or by a field of mixed types
        raise bad from exc


def _select(item: dict[str, Any], fields: str | None) -> dict[str, Any]:
    """`fields=id,name,company/id`: top-level fields only, a nested path keeps its parent."""
    if not fields:
        return item
    wanted = {f.strip().split("/")[0].casefold() for f in fields.split(",") if f.strip()}
    return {k: v for k, v in item.items() if k.casefold() in wanted}


async def _json_body(request: Request, kind: type, resource: str) -> Any:
    try:
        body = await request.json()
    except ValueError as exc:
        raise invalid(resource, "", "The request body is not valid JSON.") from exc
    if not isinstance(body, kind):
        shape = "a JSON object" if kind is dict else "a JSON Patch list of operations"
        raise invalid(resource, "", f"The request body must be {shape}.")
    return body


def _number(value: Any, resource: str, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise invalid(resource, field, f"{field} must be a number.")
    if value < 0:
        raise invalid(resource, field, f"{field} cannot be negative.")
    return float(value)


def _day(value: Any, resource: str, field: str) -> date:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
        except ValueError:
            pass
    raise invalid(resource, field, f"{field} must be a date like 2025-01-31T00:00:00Z.")


def _ref_id(body: dict[str, Any], resource: str, field: str) -> int:
    ref = body.get(field)
    value = ref.get("id") if isinstance(ref, dict) else None
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(resource, field, f'{field} is required: send {{"{field}": {{"id": N}}}}.')
    return value


def _new_addition(world: World, agreement: Agreement, body: dict[str, Any]) -> Addition:
    resource = "agreementAddition"
    product = body.get("product")
    product = product if isinstance(product, dict) else {}
    if isinstance(product.get("id"), int) and not isinstance(product.get("id"), bool):
        item = world.catalog.get(product["id"])
    elif isinstance(product.get("identifier"), str):
        item = world.product(product["identifier"])
    else:
        raise invalid(resource, "product", "product is required: send its id or identifier.")
    if item is None or item.inactive_flag:
        raise invalid(resource, "product", "product is not an active catalog item.")
    if "quantity" not in body:
        raise invalid(resource, "quantity", "quantity is required.")
    bill = body.get("billCustomer", "Billable")
    if bill not in BILL_CUSTOMER:
        raise invalid(resource, "billCustomer", f"billCustomer must be one of {BILL_CUSTOMER}.")
    cancelled = body.get("cancelledDate")
    return Addition(
        id=world.next_id("addition", 5001),
        agreement_id=agreement.id,
        product_id=item.id,
        quantity=_number(body["quantity"], resource, "quantity"),
        unit_price=_number(body.get("unitPrice", item.price), resource, "unitPrice"),
        less_included=_number(body.get("lessIncluded", 0), resource, "lessIncluded"),
        effective_date=_day(
            body.get("effectiveDate", world.today.isoformat()), resource, "effectiveDate"
        ),
        cancelled_date=None if cancelled is None else _day(cancelled, resource, "cancelledDate"),
        bill_customer=bill,
    )


def _apply_patch(addition: Addition, operations: list[Any]) -> None:
    """JSON Patch, `replace` only, on top-level fields; all or nothing."""
    resource, changes = "agreementAddition", {}
    fields = {f.casefold(): f for f in PATCHABLE}
    if not operations:
        raise invalid(resource, "", "The patch has no operations.")
    for op in operations:
        path = str(op.get("path", "")).lstrip("/") if isinstance(op, dict) else ""
        field = fields.get(path.casefold())
        if not isinstance(op, dict) or str(op.get("op", "")).casefold() != "replace":
            raise invalid(resource, path, "Only the 'replace' operation is supported.")
        if field is None:
            raise invalid(resource, path, f"path must be one of {', '.join(PATCHABLE)}.")
        if "value" not in op:
            raise invalid(resource, field, "A replace operation needs a value.")
        value = op["value"]
        if field in ("quantity", "unitPrice"):
            changes[field] = _number(value, resource, field)
        elif field == "cancelledDate" and value is None:
            changes[field] = None
        else:
            changes[field] = _day(value, resource, field)
    attribute = {"quantity": "quantity", "unitPrice": "unit_price"}
    attribute |= {"effectiveDate": "effective_date", "cancelledDate": "cancelled_date"}
    for field, value in changes.items():
        setattr(addition, attribute[field], value)


def _new_ticket(world: World, body: dict[str, Any]) -> Ticket:
    summary = body.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        raise invalid("ticket", "summary", "summary is required.")
    if len(summary) > 100:
        raise invalid("ticket", "summary", "summary is limited to 100 characters.")
    board_id = _ref_id(body, "ticket", "board")
    if board_id not in world.boards:
        raise invalid("ticket", "board", f"board {board_id} does not exist.")
    company_id = _ref_id(body, "ticket", "company")
    if company_id not in world.companies:
        raise invalid("ticket", "company", f"company {company_id} does not exist.")
    priority_id = _ref_id(body, "ticket", "priority") if "priority" in body else 3
    if priority_id not in PRIORITIES:
        raise invalid("ticket", "priority", f"priority {priority_id} does not exist.")
    description = body.get("initialDescription") or ""
    xref = body.get("externalXRef")
    if xref is not None and (not isinstance(xref, str) or len(xref) > 100):
        raise invalid("ticket", "externalXRef", "externalXRef is a string of 100 characters or"
                      " fewer.")  # fmt: skip
    return Ticket(
        id=world.next_id("ticket", 50001),
        summary=summary.strip(),
        board_id=board_id,
        company_id=company_id,
        initial_description=str(description),
        priority_id=priority_id,
        entered=datetime.now(UTC),
        external_xref=xref,
    )
