"""`msp-tui serve` as a subprocess, for tests that need a real second process."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import httpx

from adapters.sandbox.mailprotector import VENDOR_KEY, gradient_token

START_TIMEOUT_S = 30


@dataclass
class Served:
    url: str
    process: subprocess.Popen
    output: list[str]

    @property
    def api(self) -> str:
        return self.url + "/api/vendor-api"


def start_serve(db_path: Path, *extra: str, port: int = 0) -> Served:
    process = subprocess.Popen(
        [sys.executable, "-m", "msp_tui", "--db", str(db_path), "serve", "--port", str(port),
         *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=os.environ.copy(),
    )  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    output: list[str] = []

    def pump() -> None:
        for line in process.stdout:  # ends when the process does
            output.append(line)
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    try:
        first = lines.get(timeout=START_TIMEOUT_S)
    except queue.Empty:
        process.kill()
        raise AssertionError(f"msp-tui serve did not start: {output}") from None
    assert first.startswith("Vendor API listening on http://127.0.0.1:"), first
    url = first.split("listening on ", 1)[1].split("/api/vendor-api", 1)[0]
    return Served(url, process, output)


def stop_serve(served: Served) -> None:
    served.process.terminate()
    served.process.wait(timeout=30)


def api_client(served: Served, partner_key: str, vendor_key: str = VENDOR_KEY,
               **options) -> httpx.Client:  # fmt: skip
    """A vendor's client of the Vendor API."""
    return httpx.Client(
        base_url=served.api, timeout=options.pop("timeout", 30),
        headers={"GRADIENT-TOKEN": gradient_token(vendor_key, partner_key)}, **options,
    )  # fmt: skip


def rejection(response: httpx.Response, status: int, message: str | None = None) -> None:
    """A refusal in the API's shape: JSON {"statusCode", "message"}, nothing else."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json", response.text
    body = response.json()
    assert set(body) == {"statusCode", "message"} and body["statusCode"] == status
    if message is not None:
        assert body["message"] == message
