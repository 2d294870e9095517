"""Sustained Update Counts pushes into `msp-tui serve` (SQLite), from a loopback client.

    python bench/push_speed.py [--pushes 20000] [--connections 32]

Measured in one run, against `msp-tui serve` in a subprocess on a fresh SQLite store:
1. the per-key limit off (`--rate-limit 0`): accepted pushes per second, then the usage_count
   rows counted afterwards against the 201s received (lost or duplicated counts);
2. the baseline: the same server answering the same number of requests with a wrong partner
   key (401, then 429 once the failed-authentication limit holds the address off; no database
   write), to show what the HTTP round trip alone costs;
3. the limit on (the default, 100 per second per key): pushes as fast as possible for 3 s, how
   many were accepted per second and how many got 429;
4. GET /organization latency (p50, p99) while another client POSTs 40,000 accounts over and
   over and another process holds the store's write lock, against the same GETs on the idle
   server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from adapters.sandbox.mailprotector import VENDOR_KEY, gradient_token

ACCOUNTS = 500


def start_serve(env: dict[str, str], *extra: str) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "msp_tui", "serve", "--port", "0", *extra],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    line = process.stdout.readline()
    if "listening on" not in line:
        process.kill()
        raise SystemExit(f"msp-tui serve did not start: {line!r}")
    return process, line.split("listening on ", 1)[1].split(" ", 1)[0]  # .../api/vendor-api


def add_accounts_and_service(url: str, token: str) -> None:
    """What the pushes count against: ACCOUNTS customers and the CloudFilter service."""
    with httpx.Client(base_url=url, headers={"GRADIENT-TOKEN": token}) as setup:
        setup.post(
            "/organization/accounts",
            json=[{"id": str(i), "name": f"Customer {i}"} for i in range(ACCOUNTS)],
        )
        setup.post("/organization/services", json=[{"id": "cloudfilter", "name": "CloudFilter"}])


class Connection:
    """A bare HTTP/1.1 keep-alive connection. httpx tops out near 600 requests/s on this
    machine, below what the server takes; this keeps the client from being what is measured."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        return cls(*await asyncio.open_connection(host, port))

    async def post(self, path: str, token: str, body: bytes) -> int:
        self.writer.write(
            f"POST {path} HTTP/1.1\r\nHost: bench\r\nGRADIENT-TOKEN: {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


async def hammer(url: str, token: str, total: int, connections: int, seconds: float | None = None):
    """`total` count pushes (or as many as fit in `seconds`) over `connections` connections;
    every request is answered before the next is sent on its connection."""
    target = httpx.URL(url)
    path = target.path + "/service/cloudfilter/count"
    statuses: dict[int, int] = {}
    sent = 0
    deadline = None if seconds is None else time.perf_counter() + seconds
    pool = [await Connection.open(target.host, target.port) for _ in range(connections)]

    async def worker(conn: Connection) -> None:
        nonlocal sent
        while sent < total and (deadline is None or time.perf_counter() < deadline):
            n = sent
            sent += 1
            body = json.dumps({"accountId": str(n % ACCOUNTS), "unitCount": n % 97}).encode()
            status = await conn.post(path, token, body)
            statuses[status] = statuses.get(status, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(conn) for conn in pool))
    elapsed = time.perf_counter() - started
    for conn in pool:
        conn.close()
    return elapsed, statuses


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def get_latencies(url: str, token: str, count: int) -> list[float]:
    took = []
    with httpx.Client(base_url=url, headers={"GRADIENT-TOKEN": token}, timeout=30) as api:
        for _ in range(count):
            started = time.perf_counter()
            api.get("/organization").raise_for_status()
            took.append(time.perf_counter() - started)
    return took


def latency_under_stress(url: str, token: str, db: Path, count: int) -> tuple[list, list, int]:
    """GET latencies idle, then while a 40,000-account POST repeats and a write lock is held
    by another process; and how many big POSTs were answered meanwhile."""
    idle = get_latencies(url, token, count)
    body = json.dumps([{"id": n, "name": "A"} for n in range(40_000)], separators=(",", ":"))
    stop = threading.Event()
    posted = 0

    def big_posts() -> None:
        nonlocal posted
        headers = {"GRADIENT-TOKEN": token, "content-type": "application/json"}
        with httpx.Client(base_url=url, headers=headers, timeout=60) as api:
            while not stop.is_set():
                api.post("/organization/accounts", content=body)
                posted += 1

    script = ("import sqlite3, sys, time\n"
              "db = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
              "db.execute('BEGIN IMMEDIATE'); print('locked', flush=True)\n"
              "sys.stdin.read(); db.execute('ROLLBACK')\n")  # fmt: skip
    poster = threading.Thread(target=big_posts, daemon=True)
    poster.start()
    time.sleep(0.5)  # let the first big POST get going before the lock is taken
    holder = subprocess.Popen([sys.executable, "-c", script, str(db)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    holder.stdout.readline()
    try:
        busy = get_latencies(url, token, count)
    finally:
        holder.communicate("")  # let the lock go
        stop.set()
        poster.join(timeout=120)
    return idle, busy, posted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pushes", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--gets", type=int, default=500, help="GETs timed idle and under stress")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp, "push.db")
        env = {**os.environ, "XDG_DATA_HOME": f"{tmp}/d", "XDG_CONFIG_HOME": f"{tmp}/c",
               "XDG_STATE_HOME": f"{tmp}/s", "MSP_TUI_SECRETS": "file", "MSP_TUI_DB": str(db)}  # fmt: skip
        added = subprocess.run(
            [sys.executable, "-m", "msp_tui", "integrations", "add", "mailprotector", "--json"],
            env=env, check=True, capture_output=True, text=True,
        )  # fmt: skip
        token = gradient_token(VENDOR_KEY, json.loads(added.stdout)["partner_key"])
        wrong = gradient_token(VENDOR_KEY, "msptui_" + "0" * 43)

        process, url = start_serve(env, "--rate-limit", "0")
        try:
            add_accounts_and_service(url, token)
            seconds, statuses = asyncio.run(hammer(url, token, args.pushes, args.connections))
            idle, busy, posted = latency_under_stress(url, token, db, args.gets)
            # After the others: past 20 failures this address is held off (429, no lookup).
            base_seconds, base_statuses = asyncio.run(
                hammer(url, wrong, args.pushes, args.connections)
            )
        finally:
            process.terminate()
            process.wait(timeout=30)
        with sqlite3.connect(db) as raw:
            rows = raw.execute("SELECT COUNT(*) FROM usage_count").fetchone()[0]
        accepted = statuses.get(201, 0)

        process, url = start_serve(env)
        try:
            limited_s, limited = asyncio.run(hammer(url, token, 10**9, 8, seconds=3.0))
        finally:
            process.terminate()
            process.wait(timeout=30)

    print(
        f"limit off: {accepted:,} of {args.pushes:,} pushes accepted in {seconds:.2f} s ="
        f" {accepted / seconds:,.0f} accepted pushes/s over {args.connections} connections"
    )
    print(
        f"  usage_count rows afterwards: {rows:,}; lost: {max(0, accepted - rows)},"
        f" duplicated: {max(0, rows - accepted)}; statuses {statuses}"
    )
    print(
        f"baseline (same requests, wrong key, no write): {base_seconds:.2f} s ="
        f" {args.pushes / base_seconds:,.0f} requests/s; statuses {base_statuses}"
    )
    print(f"  a stored push costs {seconds / base_seconds:.2f}x a rejected one")
    ms = {name: (percentile(v, 0.5) * 1000, percentile(v, 0.99) * 1000)
          for name, v in (("idle", idle), ("busy", busy))}  # fmt: skip
    print(
        f"GET /organization, {len(idle)} each: idle p50 {ms['idle'][0]:.1f} ms, p99"
        f" {ms['idle'][1]:.1f} ms; during a repeated 40,000-account POST ({posted} answered) and"
        f" a write lock held by another process: p50 {ms['busy'][0]:.1f} ms, p99"
        f" {ms['busy'][1]:.1f} ms = {ms['busy'][1] / ms['idle'][1]:.1f}x the idle p99"
    )
    ok, throttled = limited.get(201, 0), limited.get(429, 0)
    print(
        f"limit on (100/s per key), 3 s flat out: {ok / limited_s:,.0f} accepted/s,"
        f" {throttled:,} answered 429 with Retry-After; statuses {limited}"
    )


if __name__ == "__main__":
    main()
