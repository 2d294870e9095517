"""`msp-tui demo`: the whole app against the built-in simulators, in a throwaway data dir.

The SpamTitan simulator and the PSA's (ConnectWise by default, Autotask or HaloPSA) run
in-process on free loopback ports; the PSA is already connected and synced. The wizard offers
the SpamTitan URL and key, and for Mailprotector a fake vendor console that plays Enable and
Update Counts with the partner key. Nothing outside the temporary directory is touched; it is
removed on exit.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from adapters.autotask import AutotaskCredentials
from adapters.connectwise import ConnectWiseCredentials
from adapters.errors import Secret
from adapters.halopsa import HaloCredentials
from adapters.sandbox import LoopbackServer, World, build_world
from adapters.sandbox.autotask import autotask_app
from adapters.sandbox.connectwise import connectwise_app
from adapters.sandbox.halopsa import halopsa_app
from adapters.sandbox.mailprotector import Customer, customers_from_world
from adapters.sandbox.spamtitan import spamtitan_app
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

    @property
    def psa_server(self) -> LoopbackServer:
        return self.servers[1]

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


PSAS = ("connectwise", "autotask", "halopsa")
APPS = {"connectwise": connectwise_app, "autotask": autotask_app, "halopsa": halopsa_app}


def start_demo(
    seed: int = 7, companies: int = 300, db: str | None = None, psa: str = "connectwise"
) -> tuple[Demo, Context]:
    """The simulators on loopback ports and a store (a throwaway file, or the empty database
    `db` names) with the PSA connected and synced."""
    if psa not in PSAS:
        raise ValueError(f"the demo simulates {' or '.join(PSAS)}, not {psa!r}")
    directory = Path(tempfile.mkdtemp(prefix="msp-tui-demo-"))
    world = build_world(seed=seed, companies=companies)
    spamtitan = LoopbackServer(spamtitan_app(world)).start()
    psa_server = LoopbackServer(APPS[psa](world)).start()
    demo = Demo(directory, f"{spamtitan.base_url}/restapi", world.spamtitan_token,
                customers_from_world(world), [spamtitan, psa_server], world, psa=psa)  # fmt: skip
    try:
        demo.store = db or str(directory / "demo.db")
        ctx = open_context(demo.store, secrets_mode="memory")
        connection = _connect(ctx, demo)
        outcome = asyncio.run(sync_psa(connection, ctx.secrets, mode="full"))
        if not outcome.ok:
            raise RuntimeError(f"the demo PSA did not sync: {outcome.error}")
    except BaseException:
        demo.stop()
        raise
    return demo, ctx


def _connect(ctx: Context, demo: Demo) -> PsaConnection:
    """The simulated PSA's connection, saved as `psa set` saves it (settings to the store, the
    secrets to the secret store); unchecked until the sync that follows."""
    world, base, secrets = demo.world, demo.psa_server.base_url, ctx.secrets
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
