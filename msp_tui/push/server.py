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

from msp_tui.push.api import DEFAULT_RATE_LIMIT, create_app

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8787
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


def _config(rate_limit: float | None) -> uvicorn.Config:
    return uvicorn.Config(
        create_app(rate_limit),
        log_level="warning",
        access_log=False,
        lifespan="off",
        server_header=False,
        timeout_graceful_shutdown=5,
    )


def serve_forever(
    sock: socket.socket,
    rate_limit: float | None = DEFAULT_RATE_LIMIT,
    beside: Callable[[], Coroutine[Any, Any, None]] | None = None,
) -> None:
    """Serve until interrupted; `beside` (such as the alert worker's loop) runs as a task in the
    same event loop and is cancelled when the server stops."""
    server = uvicorn.Server(_config(rate_limit))

    async def main() -> None:
        task = asyncio.create_task(beside()) if beside else None
        try:
            await server.serve(sockets=[sock])
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    with asyncio.Runner(loop_factory=server.config.get_loop_factory()) as runner:
        runner.run(main())


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
