"""`msp-tui sync` against a slow SpamTitan, beside the same calls made one after another.

    python bench/sync_speed.py [--groups 1000] [--latency-ms 50]
    python bench/sync_speed.py --psa autotask [--companies 1000] [--services 3000]

The SpamTitan simulator (adapters/sandbox) serves 1,000 domain groups with 50 ms of latency on
every request and counts requests in flight. Measured in one run:
1. `msp-tui sync spamtitan --full` as a subprocess, end to end (wall clock);
2. the baseline: the same adapter calls (domain groups, then each group's licence usage) awaited
   one after another in this process;
3. the sync again while the simulator allows only 100 requests per second and answers 429 with
   Retry-After beyond that: how many 429s it saw and the request rate it actually got.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import autotask_sync

from adapters.errors import Secret
from adapters.sandbox import Faults, LoopbackServer, build_world
from adapters.sandbox.spamtitan import spamtitan_app
from adapters.spamtitan import DEFAULT_CONCURRENCY as CONCURRENCY
from adapters.spamtitan import SpamTitanAdapter


def private_dirs(tmp: str) -> dict[str, str]:
    return {"XDG_DATA_HOME": f"{tmp}/data", "XDG_CONFIG_HOME": f"{tmp}/config",
            "XDG_STATE_HOME": f"{tmp}/state", "MSP_TUI_SECRETS": "file"}  # fmt: skip


def cli(env: dict[str, str], *args: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "msp_tui", *args], env=env, check=True,
                   capture_output=True)  # fmt: skip
    return time.perf_counter() - started


async def one_after_another(url: str, token: str) -> float:
    started = time.perf_counter()
    async with SpamTitanAdapter(url, Secret(token)) as adapter:
        for account in await adapter.accounts():
            await adapter.usage(account.external_id)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument(
        "--psa", choices=["autotask"], help="the PSA sync instead (bench/autotask_sync.py)"
    )
    parser.add_argument("--companies", type=int, default=1000, help="Autotask companies")
    parser.add_argument("--services", type=int, default=3000, help="Autotask contract services")
    args = parser.parse_args()
    if args.psa == "autotask":
        with tempfile.TemporaryDirectory() as tmp:
            autotask_sync.run(args, cli, {**os.environ, **private_dirs(tmp)})
        return
    world = build_world(seed=11, companies=int(args.groups * 1.25), domain_groups=args.groups)
    faults = Faults(latency_s=args.latency_ms / 1000)
    with (
        LoopbackServer(spamtitan_app(world, faults)) as server,
        tempfile.TemporaryDirectory() as tmp,
    ):
        env = {**os.environ, **private_dirs(tmp), "ST_KEY": world.spamtitan_token,
               "MSP_TUI_DB": str(Path(tmp, "bench.db"))}  # fmt: skip
        cli(
            env,
            "integrations",
            "add",
            "spamtitan",
            "--url",
            server.base_url,
            "--api-key-env",
            "ST_KEY",
        )
        faults.reset()
        faults.latency_s = args.latency_ms / 1000
        ours = cli(env, "sync", "spamtitan", "--full")
        peak = faults.max_in_flight
        requests = faults.requests

        faults.reset()
        faults.latency_s = args.latency_ms / 1000
        baseline = asyncio.run(one_after_another(server.base_url, world.spamtitan_token))

        faults.reset()
        faults.latency_s = args.latency_ms / 1000
        faults.max_requests_per_second = 100
        limited = cli(env, "sync", "spamtitan", "--full")
        limited_requests = faults.requests
        throttled = limited_requests - requests  # the same sync; every extra request was a 429

    print(
        f"input: {args.groups:,} SpamTitan domain groups, {args.latency_ms:.0f} ms latency per request"
    )
    print(
        f"msp-tui sync spamtitan --full (end to end): {ours:.2f} s wall, {requests:,} requests,"
        f" at most {peak} in flight (configured {CONCURRENCY})"
    )
    print(f"same calls one after another:               {baseline:.2f} s wall")
    print(f"speed-up: {baseline / ours:.1f}x")
    print(
        f"with the simulator limited to 100 requests/s (429 + Retry-After beyond it):"
        f" {limited:.2f} s wall, {limited_requests:,} requests of which {throttled:,} were"
        f" answered 429, {requests / limited:.0f} useful requests/s"
    )


if __name__ == "__main__":
    main()
