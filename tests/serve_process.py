"""`msp-tui serve` as a subprocess, for tests that need a real second process."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

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
