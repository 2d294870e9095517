"""The Autotask part of bench/sync_speed.py: `msp-tui sync autotask --full` against a slow
Autotask simulator that refuses a 4th request in flight on any endpoint, beside the same adapter
calls made one request at a time.

    python bench/sync_speed.py --psa autotask [--companies 1000] [--services 3000] [--latency-ms 50]
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from pathlib import Path

from adapters.autotask import AutotaskAdapter, AutotaskCredentials
from adapters.errors import Secret
from adapters.sandbox import Faults, LoopbackServer, build_world
from adapters.sandbox.autotask import AutotaskLimits, autotask_app
from adapters.sandbox.world import Addition, World


def topped_up(world: World, services: int) -> World:
    """Contract services on recurring contracts until there are `services` of them."""
    rng = random.Random(3)
    live = [a for a in world.agreements.values() if a.status == "Active" and a.billing_cycle]
    items = [i for i in world.catalog.values() if i.recurring_flag and not i.inactive_flag]
    recurring = {a.id for a in live} | {a.id for a in world.agreements.values() if a.billing_cycle}
    have = sum(1 for a in world.additions.values() if a.agreement_id in recurring)
    for _ in range(max(0, services - have)):
        agreement, item = rng.choice(live), rng.choice(items)
        world.add_addition(Addition(world.next_id("addition", 5001), agreement.id, item.id,
                                    float(rng.randint(1, 60)), item.price,
                                    world.today.replace(day=1)))  # fmt: skip
    return world


async def reads(zone: str, world: World, concurrency: int) -> tuple[float, int]:
    """The sync's reads; with `concurrency` 1, one request at a time: the sequential baseline."""
    credentials = AutotaskCredentials(world.at_username, world.at_integration_code,
                                      Secret(world.at_secret), zone)  # fmt: skip
    started = time.perf_counter()
    async with AutotaskAdapter(credentials, concurrency=concurrency) as adapter:
        await adapter.companies()
        await adapter.products()
        agreements = await adapter.agreements()
        await adapter.lines_for([a.external_id for a in agreements])
        requests = adapter.usage()["requests"]
    return time.perf_counter() - started, requests


def run(args, cli, env: dict[str, str]) -> None:
    world = topped_up(build_world(seed=11, companies=args.companies), args.services)
    faults = Faults(latency_s=args.latency_ms / 1000)
    limits = AutotaskLimits(latency_past_half_s=0.0)
    app = autotask_app(world, faults, limits)
    with LoopbackServer(app) as server, tempfile.TemporaryDirectory() as tmp:
        zone = f"{server.base_url}/atservicesrest/"
        env = {**env, "AT_SECRET": world.at_secret, "MSP_TUI_DB": str(Path(tmp, "bench.db"))}
        cli(env, "psa", "set", "autotask", "--username", world.at_username, "--integration-code",
            world.at_integration_code, "--secret-env", "AT_SECRET", "--zone-url", zone)  # fmt: skip
        services = len(app.state.book.contract_services)
        limits.max_in_flight.clear()
        limits.refused_threads = 0
        requests_before = faults.requests
        ours = cli(env, "sync", "autotask", "--full")
        requests = faults.requests - requests_before
        peak = dict(limits.max_in_flight)
        refused = limits.refused_threads
        limits.max_in_flight.clear()
        parallel, parallel_requests = asyncio.run(reads(zone, world, concurrency=12))
        baseline, baseline_requests = asyncio.run(reads(zone, world, concurrency=1))

    print(f"input: {len(world.companies):,} Autotask companies, {services:,} contract services,"
          f" {args.latency_ms:.0f} ms latency per request, 3 requests per endpoint at most")  # fmt: skip
    print(f"msp-tui sync autotask --full (end to end): {ours:.2f} s wall, {requests:,} requests,"
          f" at most {max(peak.values())} in flight on one endpoint, {refused} refused")  # fmt: skip
    print("  in flight per endpoint: " + ", ".join(f"{k} {v}" for k, v in sorted(peak.items())))
    print(f"the adapter's reads in this process:       {parallel:.2f} s wall,"
          f" {parallel_requests:,} requests")  # fmt: skip
    print(f"same reads one request at a time:          {baseline:.2f} s wall,"
          f" {baseline_requests:,} requests")  # fmt: skip
    print(f"speed-up of the reads: {baseline / parallel:.1f}x")
