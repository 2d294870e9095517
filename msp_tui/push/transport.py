"""HTTP-level guards for the Vendor API, the one part of msp-tui on the internet.

uvicorn (with httptools) bounds neither the size of request headers nor the time a client may
take to send them, and answers its own errors in plain text. `GuardedHttpProtocol` adds, per
connection: headers over 16 KiB -> 431, headers not complete within 10 s -> 408, more open
connections than the cap -> 503, and JSON bodies for those and for unparsable requests, in the
API's own shape. Idle keep-alive connections close after uvicorn's `timeout_keep_alive`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEADER_BYTES = 16 * 1024  # request line and headers together
HEADER_TIMEOUT_S = 10.0
KEEP_ALIVE_S = 5
MAX_CONNECTIONS = 1000
RESERVED_DESCRIPTORS = 64  # for the database, logs and outgoing PSA calls
REASONS = {
    400: "Bad Request",
    408: "Request Timeout",
    431: "Request Header Fields Too Large",
    503: "Service Unavailable",
}
log = logging.getLogger("msp_tui.push")


def raw_response(status: int, message: str, retry_after: int | None = None) -> bytes:
    """A complete HTTP/1.1 response that closes the connection, for answers given before (or
    instead of) the application: `{"statusCode", "message"}` as every other rejection."""
    body = json.dumps({"statusCode": status, "message": message}).encode()
    head = [
        f"HTTP/1.1 {status} {REASONS[status]}",
        "content-type: application/json",
        f"content-length: {len(body)}",
        "connection: close",
    ]
    if retry_after is not None:
        head.append(f"retry-after: {retry_after}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("ascii") + body


def connection_cap(wanted: int = MAX_CONNECTIONS) -> int:
    """How many connections may be open at once: `wanted`, or fewer when the process may not
    open that many files. Raises the soft descriptor limit to the hard one first."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, wanted * 2)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return max(1, min(wanted, soft - RESERVED_DESCRIPTORS))


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the limits above (see the module docstring)."""

    max_connections = MAX_CONNECTIONS
    header_timeout_s = HEADER_TIMEOUT_S
    max_header_bytes = MAX_HEADER_BYTES

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._awaiting_headers = False
        self._header_bytes = 0
        self._header_timer: asyncio.TimerHandle | None = None

    # --- the connection -----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            log.warning("connection refused: %s connections open", len(self.connections) - 1)
            self._refuse(503, "Too many connections: try again shortly", retry_after=1)
            return
        self._await_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._awaiting_headers:
            self._header_bytes += len(data)
        super().data_received(data)
        if self._awaiting_headers and self._header_bytes > self.max_header_bytes:
            self._refuse(431, "Request headers too large: the limit is 16 KiB")

    def send_400_response(self, msg: str) -> None:
        self._refuse(400, "Malformed HTTP request")

    # --- parser callbacks ---------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if not self._awaiting_headers:  # the next request on a kept-alive connection
            self._await_headers()

    def on_headers_complete(self) -> None:
        size = len(self.url) + sum(len(n) + len(v) + 4 for n, v in self.headers)
        if size > self.max_header_bytes:
            self._refuse(431, "Request headers too large: the limit is 16 KiB")
            return
        self._awaiting_headers = False
        self._stop_header_timer()
        super().on_headers_complete()

    # --- helpers ------------------------------------------------------------------------------

    def _await_headers(self) -> None:
        self._awaiting_headers = True
        self._header_bytes = 0
        self._stop_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def _stop_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self._awaiting_headers and not self.transport.is_closing():
            self._refuse(408, "Request headers not received in time")

    def _refuse(self, status: int, message: str, retry_after: int | None = None) -> None:
        self._awaiting_headers = False
        self._stop_header_timer()
        if self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete:  # nothing else is answering
            self.transport.write(raw_response(status, message, retry_after))
        self.transport.close()
