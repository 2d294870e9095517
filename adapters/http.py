"""The one way adapters talk HTTP: httpx.AsyncClient plus timeouts, retries, a concurrency limit,
a shared back-off when the other side says 429, Link-header paging and typed errors.

Retried: connection errors (the request never arrived, so any method), 429 (not processed, so any
method), and 5xx or timeouts for idempotent requests only. Waits are exponential with full
jitter, or what `Retry-After` asks, capped.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import ssl
import threading
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from adapters.errors import (
    AdapterError,
    AuthenticationError,
    ConnectionFailed,
    MalformedResponse,
    NotFound,
    PermissionDenied,
    RateLimited,
    VendorError,
    redact,
)

log = logging.getLogger("msp_tui.http")
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4  # tries in all, the first included
    rate_limited_attempts: int = 10  # a 429 is the server pacing us, not failing: more patience
    base_delay: float = 0.5
    max_delay: float = 30.0

    def backoff(self, attempt: int) -> float:
        """Full jitter: a random wait up to base * 2^attempt, so clients do not retry in step."""
        return random.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))  # noqa: S311


def retry_after_seconds(value: str | None) -> float | None:
    """`Retry-After` as seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def vendor_message(response: httpx.Response) -> str:
    """What the other side said, from the error bodies the APIs use."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        return text[:200] if text else response.reason_phrase
    if isinstance(body, dict):
        for key in ("message", "error", "detail", "title"):
            value = body.get(key)
            if isinstance(value, str) and value:
                details = [
                    e.get("message") for e in body.get("errors") or [] if isinstance(e, dict)
                ]
                extra = "; ".join(d for d in details if d)
                return f"{value} ({extra})" if extra else value
        said = [e for e in body.get("errors") or [] if isinstance(e, str) and e]
        if said:  # Autotask: {"errors": ["..."]}
            return "; ".join(said)[:500]
    return response.reason_phrase


_ssl_context: ssl.SSLContext | None = None
_ssl_lock = threading.Lock()


def shared_ssl_context() -> ssl.SSLContext:
    """One TLS context (the CA bundle loaded once) for every client: loading it costs about
    50 ms of CPU, which each new client paid, on whichever loop made it. `MspTuiApp` warms it
    in a thread at start-up."""
    global _ssl_context
    with _ssl_lock:
        if _ssl_context is None:
            _ssl_context = httpx.create_ssl_context()
        return _ssl_context


class HttpClient:
    """An httpx.AsyncClient for one vendor, with the policies above."""

    def __init__(
        self,
        base_url: str,
        *,
        vendor: str,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        concurrency: int = 8,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.vendor = vendor
        self.retry = retry or RetryPolicy()
        self._limit = asyncio.Semaphore(concurrency)
        self._paused_until = 0.0  # a 429 pauses every request of this client, not just one
        self.requests = 0  # sent, retries included
        self._client = httpx.AsyncClient(
            base_url=base_url,
            headers={"Accept": "application/json", **(headers or {})},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=transport,
            follow_redirects=False,
            verify=shared_ssl_context() if transport is None else True,
        )

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _wait_for_pause(self) -> None:
        while (delay := self._paused_until - time.monotonic()) > 0:
            await asyncio.sleep(delay)

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        idempotent: bool | None = None,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        method = method.upper()
        idempotent = method in IDEMPOTENT if idempotent is None else idempotent
        attempt = throttled = 0
        while True:
            last = attempt >= self.retry.attempts - 1
            await self._wait_for_pause()
            try:
                async with self._limit:
                    self.requests += 1
                    started = time.monotonic()
                    response = await self._client.request(
                        method, url, params=params, json=json_body, data=data, headers=headers
                    )
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if last:
                    raise self._connection_error(exc) from None
                await asyncio.sleep(self.retry.backoff(attempt))
                attempt += 1
                continue
            except httpx.TransportError as exc:  # timeouts, resets: the request may have landed
                if last or not idempotent:
                    raise self._connection_error(exc) from None
                await asyncio.sleep(self.retry.backoff(attempt))
                attempt += 1
                continue
            log.debug(
                "%s %s %s -> %s in %.0f ms",
                self.vendor, method, response.request.url.path, response.status_code,
                (time.monotonic() - started) * 1000,
            )  # fmt: skip
            if response.status_code == 429:
                throttled += 1
                wait = retry_after_seconds(response.headers.get("Retry-After"))
                if wait is None:
                    wait = self.retry.backoff(throttled)
                wait = min(self.retry.max_delay, wait)
                if throttled >= self.retry.rate_limited_attempts:
                    raise RateLimited(
                        self.vendor,
                        f"{self.vendor} is rate limiting us (429) and did not recover after"
                        f" {throttled} tries; wait a minute and sync again",
                        wait,
                    )
                # Every request of this client waits, not just this one: that is slowing down.
                self._paused_until = max(self._paused_until, time.monotonic() + wait)
                continue
            if response.status_code >= 500 and idempotent and not last:
                await asyncio.sleep(self.retry.backoff(attempt))
                attempt += 1
                continue
            if response.status_code >= 400:
                raise self._status_error(response)
            return response

    async def get_json(self, url: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.json_of(await self.request("GET", url, params=params))

    def json_of(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except (ValueError, json.JSONDecodeError):
            raise MalformedResponse(
                self.vendor,
                f"{self.vendor} sent a reply that is not valid JSON"
                f" ({response.request.method} {response.request.url.path});"
                " nothing was changed, try the sync again later",
            ) from None

    async def pages(
        self, url: str, params: Mapping[str, Any] | None = None
    ) -> AsyncIterator[list[Any]]:
        """Each page of a list endpoint, following `Link: <...>; rel="next"` to the end."""
        next_url: str | None = url
        next_params: Mapping[str, Any] | None = params
        origin = self._client.base_url.copy_with(path="/", query=None, fragment=None)
        seen = 0
        while next_url is not None:
            response = await self.request("GET", next_url, params=next_params)
            page = self.json_of(response)
            if not isinstance(page, list):
                raise MalformedResponse(
                    self.vendor, f"{self.vendor} sent {type(page).__name__} where a list was due"
                )
            yield page
            link = response.links.get("next", {}).get("url")
            seen += 1
            if not link or not page or seen > 100_000:
                break
            target = httpx.URL(link)
            # Credentials go only where they were meant to go.
            if target.is_absolute_url and target.copy_with(path="/", query=None) != origin:
                raise MalformedResponse(self.vendor, f"{self.vendor} linked to another host")
            next_url, next_params = link, None

    def _connection_error(self, exc: httpx.TransportError) -> ConnectionFailed:
        where = redact(str(self._client.base_url))
        text = str(exc).lower()
        if isinstance(exc, httpx.TimeoutException):
            return ConnectionFailed(
                self.vendor, f"{self.vendor} at {where} did not answer in time; check the URL"
                " and that the service is up, then try again", "timeout",
            )  # fmt: skip
        if "certificate" in text or "ssl" in text or "tls" in text:
            return ConnectionFailed(
                self.vendor, f"TLS failed talking to {where}: the certificate is not trusted"
                " or the URL is not https", "tls",
            )  # fmt: skip
        if "name or service not known" in text or "nodename" in text or "getaddrinfo" in text:
            return ConnectionFailed(
                self.vendor, f"cannot find the host of {where} (DNS); check the URL", "dns"
            )
        return ConnectionFailed(
            self.vendor, f"cannot connect to {self.vendor} at {where}: {redact(str(exc))}",
            "connect",
        )  # fmt: skip

    def _status_error(self, response: httpx.Response) -> AdapterError:
        said = redact(vendor_message(response))
        status = response.status_code
        where = f"{response.request.method} {response.request.url.path}"
        if status == 401:
            return AuthenticationError(
                self.vendor, f"{self.vendor} refused the credentials (401): {said}", status
            )
        if status == 403:
            return PermissionDenied(
                self.vendor, f"{self.vendor} denied {where} (403): {said}", status
            )
        if status == 404:
            return NotFound(self.vendor, f"{self.vendor} has no {where} (404): {said}", status)
        return VendorError(
            self.vendor, f"{self.vendor} answered {status} to {where}: {said}", status
        )
