"""The SpamTitan REST API, as far as licence reporting needs it, served from a `World`.

Errors look like Laravel's (SpamTitan's API is a Laravel app): `{"message": ...}`, with the
offending fields under `errors` for a 422.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapters.sandbox.faults import FaultMiddleware, Faults
from adapters.sandbox.world import World

Handler = Callable[[Request], Awaitable[Response]]
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _message(status: int, message: str) -> dict[str, Any]:
    return {"message": message}


def _error(status: int, message: str, errors: dict[str, list[str]] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"message": message}
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status)


def spamtitan_app(world: World, faults: Faults | None = None) -> Starlette:
    faults = faults or Faults()

    def authenticated(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(request: Request) -> Response:
            if request.headers.get("authorization") != f"Bearer {world.spamtitan_token}":
                return _error(401, "Unauthenticated.")
            return await handler(request)

        return guarded

    async def issue_token(request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            return _error(422, "The request body must be JSON.")
        if not isinstance(body, dict) or not body.get("email") or not body.get("password"):
            return _error(422, "The email and password fields are required.")
        if (body["email"], body["password"]) != (world.spamtitan_email, world.spamtitan_password):
            return _error(401, "These credentials do not match our records.")
        return JSONResponse({"access_token": world.spamtitan_token, "token_type": "Bearer"})

    @authenticated
    async def domain_groups(request: Request) -> Response:
        data = [
            {
                "id": group.id,
                "name": group.name,
                "description": group.description,
                "domains_count": len(group.domains),  # unknown to clients: they must ignore it
                "created_at": "2021-03-04T09:15:00.000000Z",
            }
            for group in world.domain_groups.values()
        ]
        return JSONResponse({"data": data})

    @authenticated
    async def license_usage(request: Request) -> Response:
        query = request.query_params
        errors: dict[str, list[str]] = {}
        dates: dict[str, date] = {}
        for name in ("start_date", "end_date"):
            value = query.get(name)
            label = name.replace("_", " ")
            if not value:
                errors[name] = [f"The {label} field is required."]
            elif not _DATE.fullmatch(value) or not _valid_date(value):
                errors[name] = [f"The {label} is not a valid date (YYYY-MM-DD)."]
            else:
                dates[name] = date.fromisoformat(value)
        group_id = query.get("domain_group_id", "")
        if not group_id.isdigit():
            errors["domain_group_id"] = ["The domain group id must be an integer."]
        if len(dates) == 2 and dates["start_date"] > dates["end_date"]:
            errors["end_date"] = ["The end date must be a date after or equal to start date."]
        if errors:
            return _error(422, next(iter(errors.values()))[0], errors)
        if int(group_id) not in world.domain_groups:
            return _error(404, "Domain group not found")
        maximum = world.expected_max_usage(int(group_id), dates["start_date"], dates["end_date"])
        return JSONResponse({"data": {"maximum": maximum}})

    @authenticated
    async def domain(request: Request) -> Response:
        name = request.path_params["name"].lower()
        for group in world.domain_groups.values():
            if name in group.domains:
                return JSONResponse(
                    {"id": group.domains[name], "domain": name, "domain_group_id": group.id}
                )
        return _error(404, "Domain not found")

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return _error(exc.status_code, exc.detail)

    app = Starlette(
        routes=[
            Route("/restapi/auth/tokens", issue_token, methods=["POST"]),
            Route("/restapi/domain-groups", domain_groups),
            Route("/restapi/reports/license-usage", license_usage),
            Route("/restapi/domains/{name}", domain),
        ],
        middleware=[Middleware(FaultMiddleware, faults=faults, error_body=_message)],
        exception_handlers={HTTPException: http_error},
    )
    app.state.faults = faults
    return app


def _valid_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True
