"""Misbehaviour on demand: a test flips a field on `Faults` and the next requests feel it.

Fault counters mean "the next N requests"; tests set them from their own thread while the
server's event loop reads them, hence the lock.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

ErrorBody = Callable[[int, str], dict[str, Any]]
LOG_LIMIT = 10_000  # a long-running demo server must not grow without bound
WRITES = frozenset({"POST", "PATCH", "PUT", "DELETE"})


@dataclass
class Faults:
    latency_s: float = 0.0
    status_500: int = 0
    rate_limit_429: int = 0
    retry_after_s: int = 1
    malformed_json: int = 0
    unauthorized: int = 0
    forbidden: int = 0  # 403: valid credentials without the permission asked for
    # 400 whose message echoes the request's Authorization header, as a misconfigured proxy
    # or API gateway might: the client must never show or store what comes back
    echo_authorization: int = 0
    hang: int = 0
    # the next N writes (POST, PATCH, PUT, DELETE) are carried out, then their reply is held
    # until `release_hangs`: a client killed meanwhile never learns that its write landed
    hang_after_write: int = 0
    replies_held: int = 0  # writes carried out whose reply is being held right now
    reads_by_post: tuple[str, ...] = ()  # path parts of POSTs that only read (Autotask's /query)
    max_requests_per_second: float | None = None
    requests: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    log: list[tuple[str, str]] = field(default_factory=list)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _hangs: dict[asyncio.AbstractEventLoop, asyncio.Event] = field(
        default_factory=dict, repr=False, compare=False
    )
    _tokens: float = field(default=math.inf, repr=False)  # the bucket starts full
    _refilled: float = field(default_factory=time.monotonic, repr=False)
    _generation: int = field(default=0, repr=False)

    def reset(self) -> None:
        """Back to a well-behaved server; the counters start again from zero."""
        with self._lock:
            self.latency_s = 0.0
            self.status_500 = self.rate_limit_429 = self.malformed_json = 0
            self.unauthorized = self.forbidden = self.hang = self.hang_after_write = 0
            self.echo_authorization = 0
            self.replies_held = 0
            self.retry_after_s = 1
            self.max_requests_per_second = None
            self.clock = time.monotonic
            self._tokens = math.inf
            self.requests = self.in_flight = self.max_in_flight = 0
            self._generation += 1
            self.log.clear()

    def release_hangs(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Let hanging requests (of one loop, or all) finish, so a server can stop. Thread-safe;
        after this, new hang faults on that loop answer 503 at once."""
        with self._lock:
            if loop is not None:
                self._hangs.setdefault(loop, asyncio.Event())
            targets = [(lp, ev) for lp, ev in self._hangs.items() if loop in (None, lp)]
        for lp, event in targets:
            if not lp.is_closed():
                lp.call_soon_threadsafe(event.set)

    def _hang_event(self) -> asyncio.Event:
        loop = asyncio.get_running_loop()
        with self._lock:
            return self._hangs.setdefault(loop, asyncio.Event())

    def _begin(self, method: str, target: str) -> int:
        """Count a request in; returns the generation it belongs to (see `_end`)."""
        with self._lock:
            self.requests += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.log.append((method, target))
            if len(self.log) > LOG_LIMIT:
                del self.log[: LOG_LIMIT // 10]
            return self._generation

    def _end(self, generation: int) -> None:
        """Count a request out, unless `reset` came between: a reply still being sent when a
        test resets the faults must not leave `in_flight` at -1."""
        with self._lock:
            if generation == self._generation:
                self.in_flight -= 1

    def _take(self) -> tuple[str | None, int]:
        """The fault this request gets, if any, counting it off; and the Retry-After for a 429."""
        with self._lock:
            for name in ("hang", "unauthorized", "forbidden", "echo_authorization",
                         "rate_limit_429", "status_500"):  # fmt: skip
                if getattr(self, name) > 0:
                    setattr(self, name, getattr(self, name) - 1)
                    return name, max(0, math.ceil(self.retry_after_s))
            wait = self._over_rate()
            return ("rate_limit_429", wait) if wait else (None, 0)

    def _over_rate(self) -> int:
        """Token bucket of `max_requests_per_second` a second, bursts of up to one second's
        worth. Returns the seconds until the next token when the bucket is empty, else 0."""
        rate = self.max_requests_per_second
        if rate is None:
            return 0
        now = self.clock()
        self._tokens = min(max(1.0, rate), self._tokens + (now - self._refilled) * rate)
        self._refilled = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0
        return max(1, math.ceil((1.0 - self._tokens) / rate))

    def _take_hang_after_write(self, method: str, path: str) -> bool:
        with self._lock:
            read = any(marker in path for marker in self.reads_by_post)
            if method in WRITES and not read and self.hang_after_write > 0:
                self.hang_after_write -= 1
                return True
            return False

    def _holding(self, change: int) -> None:
        with self._lock:
            self.replies_held += change

    def _take_malformed(self) -> bool:
        with self._lock:
            if self.malformed_json > 0:
                self.malformed_json -= 1
                return True
            return False


class FaultMiddleware:
    """Pure ASGI middleware: counts every request, then applies whatever `faults` asks for.
    `error_body(status, message)` gives the API's own error shape."""

    def __init__(self, app: Any, faults: Faults, error_body: ErrorBody) -> None:
        self.app = app
        self.faults = faults
        self.error_body = error_body

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        faults = self.faults
        query = scope.get("query_string", b"").decode("latin-1")
        generation = faults._begin(scope["method"], scope["path"] + (f"?{query}" if query else ""))
        try:
            if faults.latency_s > 0:
                await asyncio.sleep(faults.latency_s)
            await self._answer(scope, receive, send)
        finally:
            faults._end(generation)

    async def _answer(self, scope: dict, receive: Callable, send: Callable) -> None:
        faults = self.faults
        fault, retry_after = faults._take()
        if fault == "hang":
            await faults._hang_event().wait()
            await self._error(send, 503, "The server is shutting down.")
        elif fault == "unauthorized":
            await self._error(send, 401, "Unauthenticated.")
        elif fault == "forbidden":
            await self._error(send, 403, "You do not have permission to do this.")
        elif fault == "echo_authorization":
            sent = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
            await self._error(send, 400, f"Bad request (Authorization: {sent})")
        elif fault == "rate_limit_429":
            retry = [(b"retry-after", str(retry_after).encode())]
            await self._error(send, 429, "Too Many Attempts.", retry)
        elif fault == "status_500":
            await self._error(send, 500, "Server Error")
        elif faults._take_hang_after_write(scope["method"], scope["path"]):
            await self._write_then_hang(scope, receive, send)
        else:
            await self.app(scope, receive, _Truncating(send, faults))

    async def _write_then_hang(self, scope: dict, receive: Callable, send: Callable) -> None:
        """Carry the write out, hold its reply until released, then answer as the app did."""
        reply: list[dict] = []

        async def keep(message: dict) -> None:
            reply.append(message)

        await self.app(scope, receive, keep)
        self.faults._holding(+1)
        try:
            await self.faults._hang_event().wait()
        finally:
            self.faults._holding(-1)
        for message in reply:
            await send(message)

    async def _error(
        self, send: Callable, status: int, message: str, extra: list | None = None
    ) -> None:
        body = json.dumps(self.error_body(status, message)).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *(extra or []),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class _Truncating:
    """Wraps `send`: when a malformed-JSON fault is due, a successful response loses the second
    half of its body (still 200, still application/json), so the client's parser must fail."""

    def __init__(self, send: Callable, faults: Faults) -> None:
        self.send = send
        self.faults = faults
        self.start: dict | None = None
        self.body = b""

    async def __call__(self, message: dict) -> None:
        if message["type"] == "http.response.start":
            if 200 <= message["status"] < 300 and self.faults._take_malformed():
                self.start = message
                return
        elif message["type"] == "http.response.body" and self.start is not None:
            self.body += message.get("body", b"")
            if message.get("more_body", False):
                return
            body = self.body[: len(self.body) // 2]
            headers = [(k, v) for k, v in self.start["headers"] if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await self.send({**self.start, "headers": headers})
            await self.send({"type": "http.response.body", "body": body})
            return
        await self.send(message)
