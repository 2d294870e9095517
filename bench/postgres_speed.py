"""The store on PostgreSQL beside SQLite, in one run: pushes per second into `msp-tui serve`
and the time of `reconciliation_lines()`.

    python bench/postgres_speed.py [--pushes 10000] [--companies 5000]

PostgreSQL is a throwaway cluster made from the installed binaries on 127.0.0.1 (as
tests/postgres.py does; fsync off, as for tests), or the server MSP_TUI_TEST_PG names. SQLite is
a fresh file in a temp dir. Both engines get the same work: `--pushes` Update Counts over 32
connections with the per-key limit off (push_speed.py's client), and `--companies` x 2
reconciliation lines (reconcile_speed.py's store), best of 3. SQLite is the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).parent), str(Path(__file__).parents[1] / "tests")]
from postgres import Cluster, new_database  # noqa: E402
from push_speed import add_accounts_and_service, hammer, start_serve  # noqa: E402
from reconcile_speed import build  # noqa: E402

from adapters.sandbox.mailprotector import VENDOR_KEY, gradient_token  # noqa: E402
from msp_tui.reconcile import reconciliation_lines  # noqa: E402
from msp_tui.store.db import open_store, resolve_location  # noqa: E402


def pushes_per_second(store: str, tmp: str, pushes: int) -> float:
    env = {**os.environ, "XDG_DATA_HOME": f"{tmp}/d", "XDG_CONFIG_HOME": f"{tmp}/c",
           "XDG_STATE_HOME": f"{tmp}/s", "MSP_TUI_SECRETS": "file", "MSP_TUI_DB": store}  # fmt: skip
    added = subprocess.run(
        [sys.executable, "-m", "msp_tui", "integrations", "add", "mailprotector", "--json"],
        env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    token = gradient_token(VENDOR_KEY, json.loads(added.stdout)["partner_key"])
    process, url = start_serve(env, "--rate-limit", "0")
    try:
        add_accounts_and_service(url, token)
        seconds, statuses = asyncio.run(hammer(url, token, pushes, 32))
    finally:
        process.terminate()
        process.wait(timeout=30)
    return statuses.get(201, 0) / seconds


def reconciliation_seconds(store: str, companies: int) -> tuple[float, int]:
    db = open_store(resolve_location(store))
    try:
        build(companies)
        timings = []
        for _ in range(3):
            started = time.perf_counter()
            lines = reconciliation_lines()
            timings.append(time.perf_counter() - started)
    finally:
        db.close()
    return min(timings), len(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pushes", type=int, default=10_000)
    parser.add_argument("--companies", type=int, default=5_000)
    args = parser.parse_args()
    cluster = None
    server = os.environ.get("MSP_TUI_TEST_PG")
    if not server:
        cluster = Cluster()
        server = cluster.start()
    results = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for engine, make in (("SQLite", lambda n: str(Path(tmp, f"{n}.db"))),
                                 ("PostgreSQL", lambda n: new_database(server))):  # fmt: skip
                rate = pushes_per_second(make("push"), f"{tmp}/{engine}", args.pushes)
                seconds, lines = reconciliation_seconds(make("recon"), args.companies)
                results[engine] = (rate, seconds, lines)
    finally:
        if cluster is not None:
            cluster.stop()
    base_rate, base_s, lines = results["SQLite"]
    rate, seconds, _ = results["PostgreSQL"]
    print(f"pushes, {args.pushes:,} over 32 connections, limit off:"
          f" SQLite {base_rate:,.0f}/s, PostgreSQL {rate:,.0f}/s = {rate / base_rate:.2f}x")  # fmt: skip
    print(f"reconciliation_lines(), {lines:,} lines (best of 3): SQLite {base_s:.3f} s,"
          f" PostgreSQL {seconds:.3f} s = {seconds / base_s:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
