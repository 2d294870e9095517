"""Start-up of the CLI's light commands against a bare `python -c pass`, in the same run.

    python bench/cli_startup.py [--runs 7]

Each figure is the best wall time of N runs of a fresh process (the round goes baseline, then
every command, N times over, so that a busy moment hits them alike), and its ratio to the
baseline. Commands run both as `python -m msp_tui` and as the `msp-tui` console script of this
interpreter's environment, in a throwaway home (XDG dirs, secrets in memory) with a store made
before timing starts, so `info` and `export` read an existing, empty store. Issue 19 asks for
`--version` at most 4x bare python.

Byte code is cached as an installed package has it (PYTHONPYCACHEPREFIX in the throwaway dir,
written by a warm-up run), for the baseline too. `--no-bytecode-cache` measures instead as a
checkout with PYTHONDONTWRITEBYTECODE=1 runs: msp_tui compiled from source on every start.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMANDS = [["--version"], ["--help"], ["info"], ["export", "mappings"]]


def wall(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   stdin=subprocess.DEVNULL, check=True)  # fmt: skip
    return time.perf_counter() - start


def console_script() -> str | None:
    beside = Path(sys.executable).parent / "msp-tui"
    return str(beside) if beside.exists() else shutil.which("msp-tui")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs of each (default: 7)")
    parser.add_argument("--no-bytecode-cache", action="store_true",
                        help="no .pyc written or read for msp_tui: compiled on every start")  # fmt: skip
    options = parser.parse_args()
    runs = options.runs
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        env = {**os.environ, "HOME": str(home), "XDG_DATA_HOME": str(home / "data"),
               "XDG_CONFIG_HOME": str(home / "config"), "XDG_STATE_HOME": str(home / "state"),
               "XDG_CACHE_HOME": str(home / "cache"), "MSP_TUI_SECRETS": "memory",
               "MSP_TUI_DB": str(home / "store.db")}  # fmt: skip
        env.pop("PYTHONPYCACHEPREFIX", None)
        if options.no_bytecode_cache:
            env["PYTHONDONTWRITEBYTECODE"] = "1"
        else:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(home / "pycache")
        launchers = {"python -m msp_tui": [sys.executable, "-m", "msp_tui"]}
        script = console_script()
        if script:
            launchers["msp-tui (console script)"] = [script]
        cases = {"python -c pass": [sys.executable, "-c", "pass"]}
        for name, launcher in launchers.items():
            for command in COMMANDS:
                cases[f"{name} {' '.join(command)}"] = [*launcher, *command]
        for argv in cases.values():  # warm up: byte code compiled, the store made
            wall(argv, env)
        best = dict.fromkeys(cases, float("inf"))
        for _ in range(runs):
            for name, argv in cases.items():
                best[name] = min(best[name], wall(argv, env))
    baseline = best["python -c pass"]
    cache = "compiled on every start" if options.no_bytecode_cache else "byte code cached"
    print(f"best of {runs}, Python {sys.version.split()[0]}, {os.cpu_count()} cores, {cache}")
    width = max(map(len, best))
    for name, seconds in best.items():
        print(f"{name:<{width}}  {seconds * 1000:7.1f} ms  {seconds / baseline:5.1f}x")


if __name__ == "__main__":
    main()
