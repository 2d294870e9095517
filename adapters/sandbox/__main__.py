"""Run the simulators until Ctrl-C: `python -m adapters.sandbox [--seed N] [--companies N]
[--latency-ms N]`. Prints where they listen and the (fake) credentials to enter in the app."""

from __future__ import annotations

import argparse
import threading

from adapters.sandbox.autotask import autotask_app
from adapters.sandbox.connectwise import CODEBASE, connectwise_app
from adapters.sandbox.faults import Faults
from adapters.sandbox.halopsa import halopsa_app
from adapters.sandbox.server import LoopbackServer
from adapters.sandbox.spamtitan import spamtitan_app
from adapters.sandbox.world import build_world


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m adapters.sandbox", description=__doc__)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--companies", type=int, default=300)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every request")
    parser.add_argument("--spamtitan-port", type=int, default=0)
    parser.add_argument("--connectwise-port", type=int, default=0)
    parser.add_argument("--autotask-port", type=int, default=0)
    parser.add_argument("--halopsa-port", type=int, default=0)
    args = parser.parse_args(argv)

    world = build_world(seed=args.seed, companies=args.companies)
    st_faults = Faults(latency_s=args.latency_ms / 1000)
    cw_faults = Faults(latency_s=args.latency_ms / 1000)
    at_faults = Faults(latency_s=args.latency_ms / 1000)
    halo_faults = Faults(latency_s=args.latency_ms / 1000)
    spamtitan = LoopbackServer(spamtitan_app(world, st_faults), port=args.spamtitan_port)
    connectwise = LoopbackServer(connectwise_app(world, cw_faults), port=args.connectwise_port)
    autotask = LoopbackServer(autotask_app(world, at_faults), port=args.autotask_port)
    halopsa = LoopbackServer(halopsa_app(world, halo_faults), port=args.halopsa_port)
    with spamtitan, connectwise, autotask, halopsa:
        print(f"SpamTitan     {spamtitan.base_url}/restapi")
        print(f"  API token   {world.spamtitan_token}")
        print(f"  login       {world.spamtitan_email} / {world.spamtitan_password}")
        print(f"ConnectWise   {connectwise.base_url}  (API {CODEBASE}/apis/3.0)")
        print(f"  company id  {world.cw_company_id}")
        print(f"  public key  {world.cw_public_key}")
        print(f"  private key {world.cw_private_key}")
        print(f"  client id   {world.cw_client_id}")
        zone = f"{autotask.base_url}/atservicesrest/v1.0/zoneInformation"
        print(f"Autotask      {autotask.base_url}/atservicesrest  (zone lookup: {zone})")
        print(f"  username    {world.at_username}")
        print(f"  secret      {world.at_secret}")
        print(f"  integration code {world.at_integration_code}")
        halo = halopsa.base_url
        print(f"HaloPSA       {halo}  (auth {halo}/auth, tenant {world.halo_tenant})")
        print(f"  client id   {world.halo_client_id}")
        print(f"  client secret {world.halo_client_secret}")
        print(
            f"World: seed {world.seed}, {len(world.companies)} companies, "
            f"{len(world.domain_groups)} domain groups. Ctrl-C stops.",
            flush=True,
        )
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("stopping")


if __name__ == "__main__":
    main()
