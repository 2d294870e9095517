"""Serving the Vendor API: in the foreground (`msp-tui serve`) or beside the TUI in a thread."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any

import uvicorn

from msp_tui.push import DEFAULT_PORT
from msp_tui.push.api import DEFAULT_RATE_LIMIT, create_app
from msp_tui.push.transport import (
    KEEP_ALIVE_S,
    MAX_CONNECTIONS,
    GuardedHttpProtocol,
    connection_cap,
)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_FORWARDED_ALLOW_IPS = "127.0.0.1"
log = logging.getLogger("msp_tui.push")


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before uvicorn starts so port 0 tells us the real port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def _config(
    rate_limit: float | None,
    forwarded_allow_ips: str | None = None,
    max_connections: int = MAX_CONNECTIONS,
) -> uvicorn.Config:
    protocol = type("VendorApiProtocol", (GuardedHttpProtocol,),
                    {"max_connections": connection_cap(max_connections)})  # fmt: skip
    return uvicorn.Config(
        create_app(rate_limit),
        http=protocol,
        log_level="warning",
        access_log=False,
        lifespan="off",
        server_header=False,
        timeout_keep_alive=KEEP_ALIVE_S,
        timeout_graceful_shutdown=5,
        # The client address (for the failed-authentication limit) comes from X-Forwarded-For
        # only when the connection is from one of these: the reverse proxy.
        proxy_headers=True,
        forwarded_allow_ips=forwarded_allow_ips or DEFAULT_FORWARDED_ALLOW_IPS,
    )


class _Beside:
    """A coroutine (the alert worker) in a thread and event loop of its own, so its database
    work never holds up the Vendor API's event loop."""

    def __init__(self, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self.loop = asyncio.new_event_loop()
        self.task = self.loop.create_task(work())
        self.thread = threading.Thread(target=self._run, name="alert-worker", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        with contextlib.suppress(asyncio.CancelledError):
            self.loop.run_until_complete(self.task)
        self.loop.close()

    def stop(self) -> None:
        if not self.loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed in between
                self.loop.call_soon_threadsafe(self.task.cancel)
        self.thread.join(timeout=10)


def serve_forever(
    sock: socket.socket,
    rate_limit: float | None = DEFAULT_RATE_LIMIT,
    beside: Callable[[], Coroutine[Any, Any, None]] | None = None,
    forwarded_allow_ips: str | None = None,
    max_connections: int = MAX_CONNECTIONS,
) -> None:
    """Serve until interrupted; `beside` (such as the alert worker's loop) runs in a thread of
    its own and is cancelled when the server stops."""
    server = uvicorn.Server(_config(rate_limit, forwarded_allow_ips, max_connections))
    worker = _Beside(beside) if beside else None
    try:
        with asyncio.Runner(loop_factory=server.config.get_loop_factory()) as runner:
            runner.run(server.serve(sockets=[sock]))
    finally:
        if worker is not None:
            worker.stop()


class BackgroundServer:
    """The Vendor API in a daemon thread of the TUI. If another process (`msp-tui serve`)
    already holds the port, it is left to that one: `owned` is then False."""

    def __init__(self, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
                 rate_limit: float | None = DEFAULT_RATE_LIMIT) -> None:  # fmt: skip
        self.host, self.port, self.rate_limit = host, port, rate_limit
        self.owned = False
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, wait_s: float = 10.0) -> BackgroundServer:
        try:
            sock = bind(self.host, self.port)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                log.info("port %s is taken: another msp-tui serve answers pushes", self.port)
                return self
            raise
        self.port = sock.getsockname()[1]
        self._server = uvicorn.Server(_config(self.rate_limit))
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._server.serve(sockets=[sock])),
            name="vendor-api", daemon=True,
        )  # fmt: skip
        self._thread.start()
        deadline = time.monotonic() + wait_s
        while not self._server.started and self._thread.is_alive():
            if time.monotonic() > deadline:
                raise RuntimeError("the Vendor API did not start")
            time.sleep(0.01)
        self.owned = True
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
