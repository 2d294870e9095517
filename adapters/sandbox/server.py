"""Serve an ASGI app on 127.0.0.1 from a background thread with its own event loop, so sync and
async tests alike can talk to a real socket.

    with LoopbackServer(connectwise_app(world)) as server:
        httpx.get(f"{server.base_url}/login/companyinfo/sandbox")
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn

from adapters.sandbox.faults import Faults

START_TIMEOUT_S = 10.0


class LoopbackServer:
    def __init__(
        self,
        app: Any,
        port: int = 0,
        faults: Faults | None = None,
        host: str = "127.0.0.1",
        sock: socket.socket | None = None,
    ) -> None:
        """`sock`: a socket already listening (see `listening_socket`), so clients could
        connect before the server started; their connections wait in its backlog."""
        self.app = app
        self._sock = sock
        if sock is not None:
            host, port = sock.getsockname()[:2]
        self.host = host
        # The apps keep their Faults on app.state; stop() must release requests hanging there.
        self.faults = faults or getattr(getattr(app, "state", None), "faults", None)
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            # the last resort when a handler ignores the hang release; stop() waits longer
            timeout_graceful_shutdown=3,
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._error: BaseException | None = None
        self.port = port

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> LoopbackServer:
        """Return once the socket accepts connections; raise if that takes over 10 s."""
        self._thread = threading.Thread(target=self._run, name="loopback-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"the loopback server did not start: {self._error!r}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the loopback server did not start in {START_TIMEOUT_S} s")
            time.sleep(0.005)  # uvicorn has no started event to wait on
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving, releasing hanging requests first so the shutdown does not wait on them."""
        if self._thread is None:
            return
        if self.faults is not None and self._loop is not None:
            self.faults.release_hangs(self._loop)
        self._server.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(timeout)
        if self._thread.is_alive():
            raise RuntimeError("the loopback server did not stop")
        self._thread = None

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # SystemExit from uvicorn when the port is taken
            self._error = exc

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self._server.serve(sockets=[self._sock] if self._sock is not None else None)

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def listening_socket(host: str = "127.0.0.1") -> socket.socket:
    """A socket on a free port, listening: its address can be handed out before any server
    runs on it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    sock.listen(128)
    return sock
