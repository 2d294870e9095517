"""`msp-tui demo`: the whole app against the built-in simulators, in a throwaway data dir.

The SpamTitan simulator and the PSA's (ConnectWise by default, Autotask or HaloPSA) run
in-process on free loopback ports; the PSA is already connected. `open_demo` returns at once
(the simulators start in a thread, on sockets already listening, and the app's first sync fills
Home in); `start_demo` also waits for them and syncs the PSA, as the tests want. The wizard offers
the SpamTitan URL and key, and for Mailprotector a fake vendor console that plays Enable and
Update Counts with the partner key. Nothing outside the temporary directory is touched; it is
removed on exit.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from adapters.autotask import AutotaskCredentials
from adapters.connectwise import ConnectWiseCredentials
from adapters.errors import Secret
from adapters.halopsa import HaloCredentials
from adapters.sandbox.mailprotector import Customer, customers_from_world
from adapters.sandbox.server import LoopbackServer, listening_socket
from adapters.sandbox.world import World, build_world
from msp_tui.context import Context, open_context
from msp_tui.psa_setup import save_autotask, save_connectwise, save_halopsa
from msp_tui.store.models import PsaConnection
from msp_tui.sync import sync_psa


@dataclass
class Demo:
    directory: Path
    spamtitan_url: str
    spamtitan_key: str
    mailprotector_customers: list[Customer]
    servers: list[LoopbackServer] = field(default_factory=list)
    world: World | None = None
    # The partner key of each push integration made in this demo, by name, for the buttons
    # that play the vendor's console (the store keeps only a hash).
    partner_keys: dict[str, str] = field(default_factory=dict)
    store: str = ""  # the demo's store: a file in `directory`, or the database URL given
    psa: str = "connectwise"  # the PSA simulated: connectwise | autotask | halopsa
    psa_url: str = ""
    synced: bool = False  # the PSA's first sync is done (else the app starts it)
    _starting: threading.Thread | None = None
    _error: BaseException | None = None

    @property
    def psa_server(self) -> LoopbackServer:
        return self.servers[1]

    def serve(self, sockets: list[socket.socket]) -> None:
        """Start the simulators on `sockets` (SpamTitan's, the PSA's) in a thread: building
        their apps imports FastAPI, which the first frame should not wait for."""

        def start() -> None:
            try:
                apps = [_app("spamtitan")(self.world), _app(self.psa)(self.world)]
                for app, sock in zip(apps, sockets, strict=True):
                    self.servers.append(LoopbackServer(app, sock=sock).start())
            except BaseException as exc:
                self._error = exc

        self._starting = threading.Thread(target=start, name="demo-simulators", daemon=True)
        self._starting.start()

    def wait_until_serving(self, timeout: float = 30.0) -> None:
        if self._starting is not None:
            self._starting.join(timeout)
            if self._starting.is_alive():
                raise RuntimeError(f"the demo's simulators did not start in {timeout:.0f} s")
        if self._error is not None:
            raise RuntimeError(f"the demo's simulators did not start: {self._error!r}")

    def stop(self) -> None:
        if self._starting is not None:
            self._starting.join(30)
        for server in self.servers:
            server.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


PSAS = ("connectwise", "autotask", "halopsa")


def _app(name: str):
    """The simulator app factory for `name`, imported when asked for (FastAPI comes with it)."""
    if name == "spamtitan":
        from adapters.sandbox.spamtitan import spamtitan_app

        return spamtitan_app
    if name == "autotask":
        from adapters.sandbox.autotask import autotask_app

        return autotask_app
    if name == "halopsa":
        from adapters.sandbox.halopsa import halopsa_app

        return halopsa_app
    from adapters.sandbox.connectwise import connectwise_app

    return connectwise_app


def _base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{host}:{port}"


def open_demo(
    seed: int = 7, companies: int = 300, db: str | None = None, psa: str = "connectwise"
) -> tuple[Demo, Context]:
    """A store (a throwaway file, or the empty database `db` names) with the simulated PSA
    connected, returned at once: the simulators start in a thread on sockets that already
    listen, and nothing is synced yet (`MspTuiApp` starts the first sync)."""
    if psa not in PSAS:
        raise ValueError(f"the demo simulates {' or '.join(PSAS)}, not {psa!r}")
    directory = Path(tempfile.mkdtemp(prefix="msp-tui-demo-"))
    world = build_world(seed=seed, companies=companies)
    sockets = [listening_socket(), listening_socket()]
    demo = Demo(directory, f"{_base_url(sockets[0])}/restapi", world.spamtitan_token,
                customers_from_world(world), [], world, psa=psa,
                psa_url=_base_url(sockets[1]))  # fmt: skip
    try:
        demo.store = db or str(directory / "demo.db")
        ctx = open_context(demo.store, secrets_mode="memory")
        _connect(ctx, demo)
        demo.serve(sockets)
    except BaseException:
        for sock in sockets:
            sock.close()
        demo.stop()
        raise
    return demo, ctx


def start_demo(
    seed: int = 7, companies: int = 300, db: str | None = None, psa: str = "connectwise"
) -> tuple[Demo, Context]:
    """`open_demo`, then wait for the simulators and sync the PSA."""
    demo, ctx = open_demo(seed, companies, db, psa)
    try:
        demo.wait_until_serving()
        outcome = asyncio.run(sync_psa(PsaConnection.get(), ctx.secrets, mode="full"))
        if not outcome.ok:
            raise RuntimeError(f"the demo PSA did not sync: {outcome.error}")
        demo.synced = True
    except BaseException:
        demo.stop()
        raise
    return demo, ctx


def _connect(ctx: Context, demo: Demo) -> PsaConnection:
    """The simulated PSA's connection, saved as `psa set` saves it (settings to the store, the
    secrets to the secret store); unchecked until the sync that follows."""
    world, base, secrets = demo.world, demo.psa_url, ctx.secrets
    if demo.psa == "halopsa":
        return save_halopsa(secrets, HaloCredentials(
            base, world.halo_client_id, Secret(world.halo_client_secret), tenant=world.halo_tenant,
        ), checked=False)  # fmt: skip
    if demo.psa == "autotask":
        return save_autotask(secrets, AutotaskCredentials(
            world.at_username, world.at_integration_code, Secret(world.at_secret),
            f"{base}/atservicesrest/",
        ), checked=False)  # fmt: skip
    return save_connectwise(secrets, ConnectWiseCredentials(
        base, world.cw_company_id, Secret(world.cw_public_key), Secret(world.cw_private_key),
        world.cw_client_id,
    ), checked=False)  # fmt: skip
