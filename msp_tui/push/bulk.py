"""Bulk bodies, off the event loop: a vendor's whole account list (40,000 rows, 1 MiB) is
parsed, checked and answered in a worker thread. On the event loop, pydantic's checking (about
0.3 s) and FastAPI's encoding of the reply (about 0.6 s) held every other client for most of a
second, 1.2 s on a busy machine.

The route still documents its body in the OpenAPI schema (`request_body`), inlined, so the
schema stays one document without references into pydantic's `$defs`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import anyio.to_thread
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError

T = TypeVar("T")
R = TypeVar("R")


def request_body(adapter: TypeAdapter[Any]) -> dict[str, Any]:
    """`openapi_extra` for a route that reads its body with `parsed`."""
    schema = adapter.json_schema()
    definitions = schema.pop("$defs", {})
    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": _inline(schema, definitions)}}}}  # fmt: skip


def _inline(node: Any, definitions: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            return _inline(definitions[node["$ref"].rsplit("/", 1)[1]], definitions)
        return {key: _inline(value, definitions) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline(value, definitions) for value in node]
    return node


async def parsed(request: Request, adapter: TypeAdapter[T], then: Callable[[T], R]) -> R:
    """The body checked by `adapter`, and `then` applied to it, in a worker thread; a bad body
    is the same 400 as FastAPI's own checking gives."""
    raw = await request.body()

    def work() -> R:
        return then(adapter.validate_json(raw))

    try:
        return await anyio.to_thread.run_sync(work)
    except ValidationError as exc:
        problems = [{**p, "loc": ("body", *p["loc"])} for p in exc.errors(include_url=False)]
        raise RequestValidationError(problems) from None


async def json_reply(content: Any, status_code: int = 200) -> Response:
    """A JSON reply encoded in a worker thread."""
    body = await anyio.to_thread.run_sync(
        lambda: json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode()
    )
    return Response(body, status_code=status_code, media_type="application/json")
