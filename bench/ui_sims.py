"""The simulators bench/ui_latency.py syncs and pushes against, in a process of their own.

    python bench/ui_sims.py [--groups 1000] [--latency-ms 50] [--psa-latency-ms 50] [--lines F]

A SpamTitan simulator serving `--groups` domain groups (the world of bench/sync_speed.py) and a
ConnectWise simulator holding one agreement addition per entry of `--lines` (a JSON list of
[agreement id, addition id, quantity], the PSA lines the bench's decisions were made on), each
with its latency on every request. They run here rather than in the bench's process so that
their work does not take the interpreter lock from the app being measured, as a real server's
would not, and at the lowest priority (nice 19): a real server takes no core of the operator's
machine at all, here they share its two cores with the app and its sync. Prints one JSON line (where they listen, the sandbox credentials), then answers
`stats` on stdin with the request counters as one JSON line; ends when stdin closes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import timedelta

from adapters.sandbox import Faults, LoopbackServer, build_world
from adapters.sandbox.connectwise import connectwise_app
from adapters.sandbox.spamtitan import spamtitan_app
from adapters.sandbox.world import SPAMTITAN_PRODUCT, Addition, Agreement


def main() -> None:
    os.nice(19)  # below the app and its sync (see the module's docstring)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--psa-latency-ms", type=float, default=50)
    parser.add_argument("--lines", help="JSON file: [[agreement id, addition id, quantity], ...]")
    args = parser.parse_args()

    vendor = build_world(seed=11, companies=int(args.groups * 1.25), domain_groups=args.groups)
    psa = build_world(seed=5, companies=0, domain_groups=0)
    product = psa.product(SPAMTITAN_PRODUCT)
    assert product is not None
    lines = json.loads(open(args.lines).read()) if args.lines else []  # noqa: SIM115
    for agreement_id, addition_id, quantity in lines:
        psa.agreements.setdefault(agreement_id, Agreement(agreement_id, "MSA", company_id=0))
        psa.add_addition(Addition(addition_id, agreement_id, product.id, float(quantity),
                                  product.price, psa.today - timedelta(days=60)))  # fmt: skip
    st_faults = Faults(latency_s=args.latency_ms / 1000)
    cw_faults = Faults(latency_s=args.psa_latency_ms / 1000)
    with (
        LoopbackServer(spamtitan_app(vendor, st_faults)) as spamtitan,
        LoopbackServer(connectwise_app(psa, cw_faults)) as connectwise,
    ):
        print(json.dumps({
            "spamtitan_url": spamtitan.base_url, "spamtitan_token": vendor.spamtitan_token,
            "groups": len(vendor.domain_groups), "connectwise_url": connectwise.base_url,
            "cw_company_id": psa.cw_company_id, "cw_public_key": psa.cw_public_key,
            "cw_private_key": psa.cw_private_key, "cw_client_id": psa.cw_client_id,
            "additions": len(psa.additions),
        }), flush=True)  # fmt: skip
        for command in sys.stdin:
            if command.strip() == "stats":
                print(json.dumps({
                    "spamtitan_requests": st_faults.requests,
                    "spamtitan_max_in_flight": st_faults.max_in_flight,
                    "connectwise_requests": cw_faults.requests,
                    "connectwise_writes": sum(1 for m, _ in list(cw_faults.log) if m != "GET"),
                }), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
