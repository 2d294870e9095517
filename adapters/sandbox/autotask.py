"""The Autotask PSA REST API, as far as billing reconciliation needs it, served from a `World`:
zone lookup, header authentication, `POST {Entity}/query` with JSON filters and 500-item pages
continued by POSTing the same body to `nextPageUrl`, contract service adjustments, tickets, and
Autotask's limits: requests per rolling hour (slower past half of it) and three threads at once
per endpoint. The records themselves live in `AutotaskBook` (autotask_book.py).

Like the real API, bad input to a write (and a bad query) answers 500 `{"errors": [...]}`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import operator
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from adapters.sandbox.autotask_book import FIELDS, AutotaskBook, BookError
from adapters.sandbox.faults import FaultMiddleware, Faults
from adapters.sandbox.world import World

VERSION = "V1.0"
PAGE_MAX = 500
IN_LIST_MAX = 500
HOUR_S = 3600.0
ENTITIES = {name.casefold(): name for name in FIELDS} | {
    name.casefold(): name for name in ("ContractServiceAdjustments", "ThresholdInformation")
}
Predicate = Callable[[dict[str, Any]], bool]
_TEXT_OPS: dict[str, Callable[[str, str], bool]] = {
    "beginswith": str.startswith,
    "endswith": str.endswith,
    "contains": lambda have, want: want in have,
}
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "noteq": operator.ne,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}
OPS = {*_TEXT_OPS, *_COMPARE, "exist", "notexist", "in", "notin"}
_WHEN = re.compile(r"(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}:\d{2})(?:\.\d+)?Z?)?")


def _error_body(status: int, message: str) -> dict[str, Any]:
    return {"errors": [message]}


@dataclass
class AutotaskLimits:
    """Autotask's limits; the counters are for tests. Thread-safe: tests change the fields
    while the server's loop reads them."""

    hourly_requests: int = 10_000
    per_endpoint: int = 3
    latency_past_half_s: float = 0.5
    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)
    max_in_flight: dict[str, int] = field(default_factory=dict)  # per entity, the most at once
    in_flight: dict[str, int] = field(default_factory=dict)
    refused_threads: int = 0  # answered 429 for the thread limit
    refused_hourly: int = 0  # answered 429 for the hourly threshold
    slowed: int = 0  # requests past half the threshold, each given `latency_past_half_s`
    _stamps: deque[float] = field(default_factory=deque, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def requests_this_hour(self) -> int:
        with self._lock:
            return self._prune()

    def _prune(self) -> int:
        horizon = self.clock() - HOUR_S
        while self._stamps and self._stamps[0] <= horizon:
            self._stamps.popleft()
        return len(self._stamps)

    def _count(self) -> tuple[bool, bool]:
        """(refused, slowed) for a new request. Refused ones are not counted, so the hour can
        drain; every other request is, thread-refused ones included."""
        with self._lock:
            if self._prune() >= self.hourly_requests:
                self.refused_hourly += 1
                return True, False
            self._stamps.append(self.clock())
            slow = len(self._stamps) > self.hourly_requests / 2
            self.slowed += slow
            return False, slow

    def _enter(self, entity: str) -> bool:
        with self._lock:
            if self.in_flight.get(entity, 0) >= self.per_endpoint:
                self.refused_threads += 1
                return False
            self.in_flight[entity] = self.in_flight.get(entity, 0) + 1
            self.max_in_flight[entity] = max(
                self.max_in_flight.get(entity, 0), self.in_flight[entity]
            )
            return True

    def _leave(self, entity: str) -> None:
        with self._lock:
            self.in_flight[entity] -= 1


class AutotaskGate:
    """Outermost ASGI middleware: the three auth headers, then the hourly threshold and the
    per-endpoint thread limit. The fault middleware runs inside it, so its latency keeps a
    request in flight. The zone lookup needs none of this."""

    def __init__(self, app: Any, world: World, limits: AutotaskLimits) -> None:
        self.app, self.world, self.limits = app, world, limits

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        parts = scope["path"].split("/") if scope["type"] == "http" else []
        zone = [p.casefold() for p in parts[3:]] == ["zoneinformation"]
        if len(parts) < 4 or parts[1] != "atservicesrest" or zone:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        world, limits = self.world, self.limits
        if (
            headers.get("username", "").casefold() != world.at_username.casefold()
            or headers.get("secret") != world.at_secret
            or headers.get("apiintegrationcode") != world.at_integration_code
        ):
            await _send_error(send, 401, "User is not authenticated")
            return
        refused, slow = limits._count()
        if refused:
            message = (
                f"The API has exceeded the request threshold of {limits.hourly_requests} requests"
                " per hour for this database; calls are refused until the hour's usage drops."
            )
            await _send_error(send, 429, message)
            return
        entity = ENTITIES.get(parts[3].casefold(), parts[3])
        if not limits._enter(entity):
            message = (
                f"The thread threshold of {limits.per_endpoint} concurrent requests to"
                f" {entity} has been exceeded; retry once a request has finished."
            )
            await _send_error(send, 429, message)
            return
        try:
            if slow and limits.latency_past_half_s > 0:
                await asyncio.sleep(limits.latency_past_half_s)
            await self.app(scope, receive, send)
        finally:
            limits._leave(entity)


async def _send_error(send: Callable, status: int, message: str) -> None:
    body = json.dumps(_error_body(status, message)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def autotask_app(
    world: World, faults: Faults | None = None, limits: AutotaskLimits | None = None
) -> Starlette:
    faults = faults or Faults()
    faults.reads_by_post = ("/query",)  # a query is a POST, but not a write
    limits = limits or AutotaskLimits()
    book = AutotaskBook(world)

    async def zone(request: Request) -> Response:
        user = request.query_params.get("user")
        if not user:
            raise HTTPException(400, "The user parameter is required.")
        if user.casefold() != world.at_username.casefold():
            raise HTTPException(404, f"Zone information could not be determined for user {user}.")
        base = _base(request)
        return JSONResponse(
            {"zoneName": "Sandbox", "url": f"{base}/atservicesrest/", "webUrl": f"{base}/", "ci": 0}
        )

    async def root(request: Request) -> Response:
        """`/{Entity}`: create, or the threshold information."""
        entity, method = _entity(request), request.method
        if entity == "zoneInformation" and method == "GET":
            return await zone(request)
        if entity == "ThresholdInformation" and method == "GET":
            return JSONResponse(
                {
                    "externalRequestThreshold": limits.hourly_requests,
                    "requestThresholdTimeframe": 60,
                    "currentTimeframeRequestCount": limits.requests_this_hour(),
                }
            )
        creators = {"ContractServiceAdjustments": book.adjust, "Tickets": book.create_ticket}
        if entity in creators and method == "POST":
            return JSONResponse({"itemId": creators[entity](await _body(request))})
        raise _not_allowed(entity, method)

    async def one(request: Request) -> Response:
        entity = _queryable(request)
        if entity == "ContractServiceUnits" or request.method != "GET":
            raise _not_allowed(entity, request.method)
        wanted = request.path_params["id"]
        found = next((i for i in book.items(entity) if i["id"] == wanted), None)
        if found is None:
            raise HTTPException(404, f"{entity} with id {wanted} was not found.")
        return JSONResponse({"item": found})

    async def query(request: Request) -> Response:
        entity = _queryable(request)
        return _page(request, book, entity, await _body(request), None)

    async def next_page(request: Request) -> Response:
        entity = _queryable(request)
        if request.method != "POST":  # a GET loses the filter; real Autotask answers 405
            raise HTTPException(405, "Continue a query by POSTing its body to nextPageUrl.")
        body = await _body(request)
        where = _option(body, "filter")
        after = _read_token(request.query_params.get("paging", ""), entity, where)
        return _page(request, book, entity, body, after)

    async def count(request: Request) -> Response:
        entity = _queryable(request)
        matches = _predicate(_option(await _body(request), "filter"), FIELDS[entity])
        return JSONResponse({"queryCount": sum(map(matches, book.items(entity)))})

    async def fields(request: Request) -> Response:
        if _entity(request) != "Tickets":
            raise HTTPException(404, "The simulator describes the fields of Tickets only.")
        return JSONResponse({"fields": book.ticket_fields()})

    async def api_error(request: Request, exc: Exception) -> Response:
        """Errors as `{"errors": [...]}`; a write's bad input (BookError) is a 500."""
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        message = exc.detail if isinstance(exc, HTTPException) else str(exc)
        return JSONResponse(_error_body(status, message), status_code=status)

    every = ["GET", "POST", "PATCH", "PUT", "DELETE"]
    routes = [
        Route("/{entity}/query", query, methods=["POST"]),
        Route("/{entity}/query/next", next_page, methods=["GET", "POST"]),
        Route("/{entity}/query/count", count, methods=["POST"]),
        Route("/{entity}/entityInformation/fields", fields, methods=["GET"]),
        Route("/{entity}/{id:int}", one, methods=every),
        Route("/{entity}", root, methods=every),
    ]
    app = Starlette(
        routes=[Mount("/atservicesrest/{version}", routes=routes)],
        middleware=[
            Middleware(AutotaskGate, world=world, limits=limits),
            Middleware(FaultMiddleware, faults=faults, error_body=_error_body),
        ],
        exception_handlers={BookError: api_error, HTTPException: api_error},
    )
    app.state.faults, app.state.book, app.state.limits = faults, book, limits
    return app


def _base(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def _entity(request: Request) -> str:
    if request.path_params["version"].casefold() != VERSION.casefold():
        raise HTTPException(404, f"API version {request.path_params['version']} does not exist.")
    name = request.path_params["entity"]
    if name.casefold() == "zoneinformation":
        return "zoneInformation"
    if name.casefold() not in ENTITIES:
        raise HTTPException(404, f"{name} is not an entity of this API.")
    return ENTITIES[name.casefold()]


def _queryable(request: Request) -> str:
    entity = _entity(request)
    if entity not in FIELDS:
        raise _not_allowed(entity, request.method)
    return entity


def _not_allowed(entity: str, method: str) -> HTTPException:
    if entity == "ContractServiceAdjustments":
        return HTTPException(
            405, "ContractServiceAdjustments is create-only: POST one, nothing else."
        )
    return HTTPException(405, f"{entity} does not support {method} here.")


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body())
    except ValueError as exc:
        raise HTTPException(500, "The request body is not valid JSON.") from exc
    if not isinstance(body, dict):
        raise HTTPException(500, "The request body must be a JSON object.")
    return body


def _option(body: dict[str, Any], name: str) -> Any:
    """Body keys ignore case ("filter", "Filter"; "MaxRecords", "maxRecords")."""
    return next((v for k, v in body.items() if k.casefold() == name.casefold()), None)


# --- queries -------------------------------------------------------------------------------


def _page(
    request: Request, book: AutotaskBook, entity: str, body: dict[str, Any], after: int | None
) -> Response:
    where = _option(body, "filter")
    matches = _predicate(where, FIELDS[entity])
    size = _option(body, "MaxRecords")
    if size is None:
        size = PAGE_MAX
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise HTTPException(500, "MaxRecords must be a whole number from 1 to 500.")
    size = min(size, PAGE_MAX)
    keep = _included(_option(body, "IncludeFields"), FIELDS[entity])
    found = [item for item in book.items(entity) if matches(item)]
    start = 0
    if after is not None:
        start = next((n for n, i in enumerate(found) if i["id"] > after), len(found))
    chunk = found[start : start + size]

    def url(last: int | None) -> str:
        token = _token(entity, where, last)
        return f"{_base(request)}/atservicesrest/{VERSION}/{entity}/query/next?paging={token}"

    back = max(0, start - size)
    details = {
        "count": len(chunk),
        "requestCount": PAGE_MAX,
        "prevPageUrl": url(found[back - 1]["id"] if back else None) if start else None,
        "nextPageUrl": url(chunk[-1]["id"]) if start + size < len(found) else None,
    }
    items = [{k: v for k, v in i.items() if keep is None or k in keep} for i in chunk]
    return JSONResponse({"items": items, "pageDetails": details})


def _included(names: Any, fields: tuple[str, ...]) -> set[str] | None:
    if names is None or names == []:
        return None
    known = {f.casefold(): f for f in fields}
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise HTTPException(500, "IncludeFields must be a list of field names.")
    unknown = [n for n in names if n.casefold() not in known]
    if unknown:
        raise HTTPException(500, f"IncludeFields: {', '.join(unknown)} not a field of this entity.")
    return {known[n.casefold()] for n in names} | {"id"}


def _digest(entity: str, where: Any) -> str:
    text = json.dumps([entity, where], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _token(entity: str, where: Any, after: int | None) -> str:
    text = json.dumps({"e": entity, "a": after, "h": _digest(entity, where)})
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _read_token(token: str, entity: str, where: Any) -> int | None:
    try:
        state = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        after, digest = state["a"], state["h"]
    except (binascii.Error, ValueError, TypeError, KeyError) as exc:
        raise HTTPException(500, "The paging token is not valid.") from exc
    if digest != _digest(entity, where):
        raise HTTPException(500, "The paging token does not match the query: POST the same body.")
    if after is not None and (isinstance(after, bool) or not isinstance(after, int)):
        raise HTTPException(500, "The paging token is not valid.")
    return after


def _predicate(where: Any, fields: tuple[str, ...]) -> Predicate:
    """The top-level filter list, AND-ed. Autotask insists on one."""
    if not isinstance(where, list) or not where:
        raise HTTPException(
            500, 'A filter is required: e.g. [{"op": "gte", "field": "id", "value": 0}]'
        )
    known = {f.casefold(): f for f in fields}
    parts = [_condition(c, known) for c in where]
    return lambda item: all(p(item) for p in parts)


def _condition(cond: Any, known: dict[str, str]) -> Predicate:
    if not isinstance(cond, dict):
        raise HTTPException(500, f"filter: {cond!r} is not a condition object.")
    op = str(cond.get("op", "")).casefold()
    if op in ("and", "or"):
        items = cond.get("items")
        if not isinstance(items, list) or not items:
            raise HTTPException(500, f'filter: an "{op}" group needs a list of items.')
        parts = [_condition(c, known) for c in items]
        combine = all if op == "and" else any
        return lambda item: combine(p(item) for p in parts)
    if op not in OPS:
        raise HTTPException(500, f"filter: unknown operator {cond.get('op')!r}.")
    name = known.get(str(cond.get("field", "")).casefold())
    if name is None:
        raise HTTPException(500, f"filter: {cond.get('field')!r} is not a field of this entity.")
    value = cond.get("value")
    if op in ("in", "notin"):
        if not isinstance(value, list):
            raise HTTPException(500, f"filter: {op} needs a list of values.")
        if len(value) > IN_LIST_MAX:
            raise HTTPException(500, f"filter: at most {IN_LIST_MAX} values in an {op} list.")
        return _member(op, name, value)
    if op not in ("exist", "notexist") and "value" not in cond:
        raise HTTPException(500, f"filter: {name} {op} needs a value.")
    return lambda item: _matches(op, name, item[name], value)


def _member(op: str, name: str, values: list[Any]) -> Predicate:
    """`in` / `notIn` as a set lookup: a 500-value list over thousands of rows stays cheap."""
    texts = {_folded(v) for v in values if isinstance(v, str)}
    numbers = set()
    for v in values:
        try:
            numbers.add(float(v))
        except (TypeError, ValueError):
            continue

    def matches(item: dict[str, Any]) -> bool:
        have = item[name]
        if have is None or isinstance(have, bool):
            found = have is not None and have in values
        elif isinstance(have, str):
            found = _folded(have) in texts
        else:
            found = float(have) in numbers
        return found == (op == "in")

    return matches


def _matches(op: str, name: str, have: Any, want: Any) -> bool:
    if op in ("exist", "notexist"):
        return (have is not None and have != "") == (op == "exist")
    if op in ("in", "notin"):
        return any(_matches("eq", name, have, w) for w in want) == (op == "in")
    if have is None or want is None:
        return op in ("eq", "noteq") and (have is want) == (op == "eq")
    if op in _TEXT_OPS:
        return _TEXT_OPS[op](str(have).casefold(), str(want).casefold())
    return _COMPARE[op](_folded(have), _like(have, want, name))


def _folded(value: Any) -> Any:
    """Strings compare ignoring case, dates in their ISO form without fractions or zone."""
    if not isinstance(value, str):
        return value
    when = _WHEN.fullmatch(value)
    if when:
        return f"{when.group(1)}T{when.group(2) or '00:00:00'}"
    return value.casefold()


def _like(have: Any, want: Any, name: str) -> Any:
    """The filter's value as the field's type, folded like the field's."""
    if isinstance(have, str):
        return _folded(str(want))
    if isinstance(have, bool):
        if str(want).casefold() in ("true", "1", "false", "0"):
            return str(want).casefold() in ("true", "1")
    elif not isinstance(want, bool):
        try:
            return float(want)
        except (TypeError, ValueError):
            pass
    raise HTTPException(500, f"filter: {want!r} is not a valid value for {name}.")
