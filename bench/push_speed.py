"""Sustained Update Counts pushes into `msp-tui serve` (SQLite), from a loopback client.

    python bench/push_speed.py [--pushes 20000] [--connections 32]

Measured in one run, against `msp-tui serve` in a subprocess on a fresh SQLite store:
1. the per-key limit off (`--rate-limit 0`): accepted pushes per second, then the usage_count
   rows counted afterwards against the 201s received (lost or duplicated counts);
2. the baseline: the same server answering the same number of requests with a wrong partner
   key (401, no database write), to show what the HTTP round trip alone costs;
3. the limit on (the default, 100 per second per key): pushes as fast as possible for 3 s, how
   many were accepted per second and how many got 429.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pushes", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=32)
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
            with httpx.Client(base_url=url, headers={"GRADIENT-TOKEN": token}) as setup:
                setup.post(
                    "/organization/accounts",
                    json=[{"id": str(i), "name": f"Customer {i}"} for i in range(ACCOUNTS)],
                )
                setup.post("/organization/services", json=[{"id": "cloudfilter", "name": "CloudFilter"}])  # fmt: skip
            seconds, statuses = asyncio.run(hammer(url, token, args.pushes, args.connections))
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
    ok, throttled = limited.get(201, 0), limited.get(429, 0)
    print(
        f"limit on (100/s per key), 3 s flat out: {ok / limited_s:,.0f} accepted/s,"
        f" {throttled:,} answered 429 with Retry-After; statuses {limited}"
    )


if __name__ == "__main__":
    main()
