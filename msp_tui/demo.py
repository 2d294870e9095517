"""`msp-tui demo`: the whole app against the built-in simulators, in a throwaway data dir.

The SpamTitan and ConnectWise simulators run in-process on free loopback ports; the PSA is
already connected and synced. The wizard offers the SpamTitan URL and key, and for
Mailprotector a fake vendor console that plays Enable and Update Counts with the partner key.
Nothing outside the temporary directory is touched; it is removed on exit.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from adapters.sandbox import LoopbackServer, World, build_world
from adapters.sandbox.connectwise import connectwise_app
from adapters.sandbox.mailprotector import Customer, customers_from_world
from adapters.sandbox.spamtitan import spamtitan_app
from msp_tui.context import Context, open_context
from msp_tui.sources import psa_secret_scope
from msp_tui.store.db import writing
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

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


def start_demo(seed: int = 7, companies: int = 300, db: str | None = None) -> tuple[Demo, Context]:
    """The simulators on loopback ports and a store (a throwaway file, or the empty database
    `db` names) with the PSA connected and synced."""
    directory = Path(tempfile.mkdtemp(prefix="msp-tui-demo-"))
    world = build_world(seed=seed, companies=companies)
    spamtitan = LoopbackServer(spamtitan_app(world)).start()
    connectwise = LoopbackServer(connectwise_app(world)).start()
    demo = Demo(directory, f"{spamtitan.base_url}/restapi", world.spamtitan_token,
                customers_from_world(world), [spamtitan, connectwise], world)  # fmt: skip
    try:
        demo.store = db or str(directory / "demo.db")
        ctx = open_context(demo.store, secrets_mode="memory")
        with writing(ctx.db):
            connection = PsaConnection.create(
                name="connectwise", site=connectwise.base_url,
                company_identifier=world.cw_company_id, client_id=world.cw_client_id,
            )  # fmt: skip
        scope = psa_secret_scope(connection)
        ctx.secrets.set(scope, "public_key", world.cw_public_key)
        ctx.secrets.set(scope, "private_key", world.cw_private_key)
        outcome = asyncio.run(sync_psa(connection, ctx.secrets, mode="full"))
        if not outcome.ok:
            raise RuntimeError(f"the demo PSA did not sync: {outcome.error}")
    except BaseException:
        demo.stop()
        raise
    return demo, ctx
