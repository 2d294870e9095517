"""Request limits of the Vendor API: per partner key, per client address, per body."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

from starlette.responses import JSONResponse

MAX_BODY = 1024 * 1024
BODY_TOO_LARGE = "Payload too large: the limit is 1 MiB"
# Failed authentications per client address: a burst of 20, then one every 3 seconds.
AUTH_FAILURES_BURST = 20
AUTH_FAILURES_PER_S = 1 / 3
MAX_TRACKED = 10_000  # buckets kept before the full ones are forgotten


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """Every answer that is not a success: `{"statusCode", "message"}`, as Gradient's API."""
    return JSONResponse({"statusCode": status, "message": message}, status, headers=headers)


class TokenBuckets:
    """A token bucket per key: `rate` tokens a second, holding at most `capacity` (at least
    one). `clock` is injectable so tests need not race a real one."""

    def __init__(
        self, rate: float | None, capacity: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        self.rate = rate
        self.capacity = max(1.0, capacity if capacity is not None else rate or 0.0)
        self._clock = clock
        self._buckets: dict[Hashable, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def describe(self) -> str:
        """The limit in words, for a 429 message."""
        return f"the limit is {self.rate:g} per second"

    def _tokens(self, key: Hashable, now: float) -> float:
        tokens, then = self._buckets.get(key, (self.capacity, now))
        return min(self.capacity, tokens + (now - then) * (self.rate or 0.0))

    def _wait_s(self, tokens: float) -> int:
        return max(1, math.ceil((1 - tokens) / self.rate)) if self.rate else 1

    def retry_after(self, key: Hashable) -> int:
        """Take a token: 0 to go ahead, else the seconds until there is one."""
        if not self.rate:
            return 0
        now = self._clock()
        with self._lock:
            tokens = self._tokens(key, now)
            if tokens >= 1:
                self._store(key, tokens - 1, now)
                return 0
            self._store(key, tokens, now)
            return self._wait_s(tokens)

    def waiting(self, key: Hashable) -> int:
        """Without taking one: 0 when a token is there, else the seconds until there is."""
        if not self.rate:
            return 0
        with self._lock:
            tokens = self._tokens(key, self._clock())
        return 0 if tokens >= 1 else self._wait_s(tokens)

    def _store(self, key: Hashable, tokens: float, now: float) -> None:
        if key not in self._buckets and len(self._buckets) >= MAX_TRACKED:
            # Many addresses (or keys): forget the buckets that have refilled; they hold nothing.
            full = [k for k in self._buckets if self._tokens(k, now) >= self.capacity]
            for k in full:
                del self._buckets[k]
        self._buckets[key] = (tokens, now)


class RateLimiter(TokenBuckets):
    """Requests per second per partner key, bursts up to one second's worth."""


def auth_failure_limiter(clock: Callable[[], float] = time.monotonic) -> TokenBuckets:
    return TokenBuckets(AUTH_FAILURES_PER_S, AUTH_FAILURES_BURST, clock)


class BodyLimit:
    """413 for bodies over the limit, whether or not they say their length up front (a chunked
    body is read up to the limit before the application sees any of it)."""

    def __init__(self, app: Any, limit: int = MAX_BODY) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await error(413, BODY_TOO_LARGE)(scope, receive, send)
            return
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            seen += len(chunks[-1])
            if seen > self.limit:
                await error(413, BODY_TOO_LARGE, {"Connection": "close"})(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: only a disconnect can come

        await self.app(scope, replay, send)
