"""The HaloPSA REST API, as far as billing reconciliation needs it, served from a `World`: OAuth2
client credentials at `/auth/token`, Bearer tokens that expire, `GET /api/{Entity}` lists paged
with `pageinate`/`page_size`/`page_no` (a page holds at most 100 rows whatever `page_size` asks,
so a client must page until `record_count`), recurring invoices whose lines are replaced by a
write, teams and tickets. The records live in `HaloBook` (halopsa_book.py).

    base = server.base_url          # the instance URL
    POST {base}/auth/token[?tenant=sandbox]   form: grant_type, client_id, client_secret, scope
    GET  {base}/api/Client?pageinate=true&page_size=100&page_no=1   Authorization: Bearer ...

Errors are `{"message": "..."}`, except the token endpoint's and the token check's, which use
OAuth2's `{"error": "...", "error_description": "..."}`.
"""

from __future__ import annotations

import hmac
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapters.sandbox.faults import FaultMiddleware, Faults
from adapters.sandbox.halopsa_book import HaloBook, HaloError
from adapters.sandbox.world import World

DEFAULT_PAGE_SIZE = 50
ENTITIES = {
    name.casefold(): name for name in ("Client", "Item", "RecurringInvoice", "Team", "Tickets")
}
LIST_KEYS = {"Client": "clients", "Item": "items", "RecurringInvoice": "invoices",
             "Tickets": "tickets"}  # fmt: skip
_SCOPE = re.compile(r"all|(read|edit):[a-z_]+")
_TRUE = ("true", "1", "yes")


@dataclass
class HaloLimits:
    """Token lifetime and the page cap; the counters are for tests. Thread-safe."""

    token_lifetime_s: float = 3600.0
    page_cap: int = 100
    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)
    expired_refusals: int = 0  # API calls refused because their token had expired
    max_page_size_asked: int = 0  # the largest page_size a paged list asked for
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def _expired(self) -> None:
        with self._lock:
            self.expired_refusals += 1

    def _asked(self, size: int) -> None:
        with self._lock:
            self.max_page_size_asked = max(self.max_page_size_asked, size)


class Refusal(Exception):
    """An OAuth2-shaped refusal: the token endpoint's errors and the API's token check."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


def _error_body(status: int, message: str) -> dict[str, Any]:
    return {"message": message}


def halopsa_app(
    world: World, faults: Faults | None = None, limits: HaloLimits | None = None
) -> Starlette:
    faults = faults or Faults()
    faults.reads_by_post = ("/auth/",)  # a token request is a POST, but not a write
    limits = limits or HaloLimits()
    book = HaloBook(world)

    def authorize(request: Request) -> None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.casefold() != "bearer" or not token:
            raise Refusal(401, "invalid_token", "An 'Authorization: Bearer' token is required.")
        expires = book.token_expiry(token)
        if expires is None:
            raise Refusal(401, "invalid_token", "The access token is not valid.")
        if limits.clock() >= expires:
            limits._expired()
            raise Refusal(401, "invalid_token", "The access token has expired.")

    async def token(request: Request) -> Response:
        tenant = request.query_params.get("tenant")
        if tenant is not None and tenant != world.halo_tenant:
            raise Refusal(400, "invalid_request", "Unknown tenant.")
        kind = request.headers.get("content-type", "").split(";")[0].strip().casefold()
        if kind != "application/x-www-form-urlencoded":
            raise Refusal(400, "invalid_request", "Send the form as x-www-form-urlencoded.")
        form = parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)

        def value(name: str) -> str:
            return (form.get(name) or [""])[0]

        if value("grant_type") != "client_credentials":
            raise Refusal(400, "unsupported_grant_type", "Use grant_type=client_credentials.")
        if not (
            _same(value("client_id"), world.halo_client_id)
            and _same(value("client_secret"), world.halo_client_secret)
        ):
            raise Refusal(401, "invalid_client", "The client id or secret is not valid.")
        scope = value("scope") or "all"
        if not all(_SCOPE.fullmatch(word) for word in scope.split()):
            raise Refusal(400, "invalid_scope", "Ask for scope=all or read:/edit: scopes.")
        lifetime = limits.token_lifetime_s
        access = book.issue_token(limits.clock() + lifetime)
        body = {"access_token": access, "token_type": "Bearer", "expires_in": int(lifetime),
                "scope": scope}  # fmt: skip
        return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    async def authinfo(request: Request) -> Response:
        base = f"{request.url.scheme}://{request.url.netloc}"
        return JSONResponse({"auth_url": f"{base}/auth", "tenant_id": world.halo_tenant})

    def rows_of(entity: str, request: Request) -> list[dict[str, Any]]:
        q = request.query_params
        inactive = _flag(q.get("includeinactive"))
        if entity == "Client":
            rows = [r for r in book.clients() if inactive or not r["inactive"]]
            return _searched(rows, q.get("search"), "name")
        if entity == "Item":
            rows = [r for r in book.items() if inactive or not r["inactive"]]
            return _searched(rows, q.get("search"), "name", "description")
        if entity == "RecurringInvoice":
            rows = book.invoices(lines=_flag(q.get("includelines")))
            client = _int_param(q.get("client_id"), "client_id")
            rows = [r for r in rows if client is None or r["client_id"] == client]
            return _searched(rows, q.get("search"), "client_name", "notes_1")
        rows = book.ticket_list()
        client = _int_param(q.get("client_id"), "client_id")
        reference = q.get("third_party_id_string")
        rows = [r for r in rows if (client is None or r["client_id"] == client)
                and (reference is None or r["third_party_id_string"] == reference)]  # fmt: skip
        rows = _searched(rows, q.get("search"), "summary", "details", "id")
        rows = _searched(rows, q.get("search_summary"), "summary")
        return _searched(rows, q.get("search_details"), "details")

    async def collection(request: Request) -> Response:
        authorize(request)
        entity = _entity(request)
        if request.method == "POST":
            body = await _json(request)
            if entity == "RecurringInvoice":
                return JSONResponse(book.save_invoices(body), status_code=201)
            if entity == "Tickets":
                return JSONResponse(book.create_tickets(body), status_code=201)
            raise HTTPException(405, f"The simulator does not write {entity} records.")
        if entity == "Team":  # a bare array, like Halo's other lookup lists
            wanted = _flag(request.query_params.get("includedisabled"))
            return JSONResponse([t for t in book.teams() if wanted or not t["inactive"]])
        return _page(request, rows_of(entity, request), LIST_KEYS[entity], limits)

    async def one(request: Request) -> Response:
        authorize(request)
        entity = _entity(request)
        try:
            wanted = int(request.path_params["id"])
        except ValueError:
            raise HTTPException(404, f"{entity} {request.path_params['id']} not found.") from None
        if entity == "RecurringInvoice":
            found = book.invoice(wanted, lines=True)
        else:
            rows = {"Client": book.clients, "Item": book.items, "Team": book.teams,
                    "Tickets": book.ticket_list}[entity]()  # fmt: skip
            found = next((r for r in rows if r["id"] == wanted), None)
        if found is None:
            raise HTTPException(404, f"{entity} {wanted} not found.")
        return JSONResponse(found)

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Refusal)
        headers = {"WWW-Authenticate": f'Bearer error="{exc.error}"'} if exc.status == 401 else {}
        body = {"error": exc.error, "error_description": exc.description}
        return JSONResponse(body, status_code=exc.status, headers=headers)

    async def bad_input(request: Request, exc: Exception) -> Response:
        return JSONResponse(_error_body(400, str(exc)), status_code=400)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        body = _error_body(exc.status_code, str(exc.detail))
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    app = Starlette(
        routes=[
            Route("/auth/token", token, methods=["POST"]),
            Route("/api/authinfo", authinfo, methods=["GET"]),
            Route("/api/{entity}", collection, methods=["GET", "POST"]),
            Route("/api/{entity}/{id}", one, methods=["GET"]),
        ],
        middleware=[Middleware(FaultMiddleware, faults=faults, error_body=_error_body)],
        exception_handlers={Refusal: refused, HaloError: bad_input, HTTPException: http_error},
    )
    app.state.faults, app.state.book, app.state.limits = faults, book, limits
    return app


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _flag(value: str | None) -> bool:
    return value is not None and value.casefold() in _TRUE


def _int_param(value: str | None, name: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise HaloError(f"{name} must be a whole number, not {value!r}.") from None


def _entity(request: Request) -> str:
    name = request.path_params["entity"]
    if name.casefold() not in ENTITIES:
        raise HTTPException(404, f"There is no {name} endpoint.")
    return ENTITIES[name.casefold()]


def _searched(rows: list[dict[str, Any]], text: str | None, *fields: str) -> list[dict[str, Any]]:
    if not text:
        return rows
    wanted = text.casefold()
    return [r for r in rows if any(wanted in str(r.get(f, "")).casefold() for f in fields)]


async def _json(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except ValueError:
        raise HaloError("The request body is not valid JSON.") from None


def _page(request: Request, rows: list[dict[str, Any]], key: str, limits: HaloLimits) -> Response:
    """`pageinate=true`: page `page_no` (from 1) of min(page_size, the cap) rows; a page_no
    counts pages of that capped size. Without it, every row (or the first `count`)."""
    q = request.query_params
    if _flag(q.get("pageinate")):
        size = _positive(q.get("page_size"), DEFAULT_PAGE_SIZE, "page_size")
        number = _positive(q.get("page_no"), 1, "page_no")
        limits._asked(size)
        held = min(size, limits.page_cap)
        chunk = rows[(number - 1) * held : number * held]
    else:
        count = _int_param(q.get("count"), "count")
        chunk = rows if count is None or count < 1 else rows[:count]
    return JSONResponse({"record_count": len(rows), key: chunk})


def _positive(value: str | None, default: int, name: str) -> int:
    number = _int_param(value, name)
    if number is None:
        return default
    if number < 1:
        raise HaloError(f"{name} must be 1 or more, not {number}.")
    return number
