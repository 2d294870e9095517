"""Imports by need (issue 19): the CLI's light commands do not import the TUI, the push server
or numpy, and `--version` and `--help` not even the store or httpx.

Each command runs in a fresh interpreter (this process has imported everything long ago), which
reports the top-level packages in sys.modules after main() returned. No timing here: the
figures are in bench/cli_startup.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = {"textual", "fastapi", "starlette", "uvicorn", "numpy"}
PARSER_ONLY_HEAVY = HEAVY | {"peewee", "httpx"}  # nothing but the parser is needed for these

# Runs msp-tui's main() with argv[2:], then writes {"code", "packages"} to the file argv[1].
RUN = """
import json, sys
from msp_tui.cli import main
try:
    code = main(sys.argv[2:])
except SystemExit as exc:
    code = exc.code
packages = sorted({name.partition(".")[0] for name in sys.modules})
with open(sys.argv[1], "w") as report:
    json.dump({"code": code, "packages": packages}, report)
"""


def run_light(tmp_path: Path, *argv: str) -> tuple[int, set[str], subprocess.CompletedProcess]:
    report = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, "-c", RUN, str(report), *argv],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip  # the environment is the test's: its home, XDG dirs, secrets in memory
    assert report.exists(), done.stderr
    found = json.loads(report.read_text())
    return found["code"], set(found["packages"]), done


@pytest.mark.parametrize(
    "argv",
    [
        ["--version"],
        ["--help"],
        ["export", "--help"],
        ["serve", "--help"],
        ["reconcile", "list", "--help"],
        ["psa", "set", "connectwise", "--help"],
        ["integrations", "add", "spamtitan", "--help"],
    ],
    ids=" ".join,
)
def test_the_parser_alone_imports_neither_the_store_nor_httpx(
    tmp_path: Path, argv: list[str]
) -> None:
    code, packages, done = run_light(tmp_path, *argv)
    assert code == 0, done.stderr
    assert done.stdout.startswith("msp-tui" if argv == ["--version"] else "usage: msp-tui")
    assert not packages & PARSER_ONLY_HEAVY, sorted(packages & PARSER_ONLY_HEAVY)


@pytest.mark.parametrize(
    "argv",
    [
        ["info"],
        ["info", "--json"],
        ["export", "usage"],
        ["export", "mappings", "--format", "json"],
        ["export", "audit"],
        ["export", "reconciliation"],
    ],
    ids=" ".join,
)
def test_info_and_export_import_no_tui_server_or_numpy(tmp_path: Path, argv: list[str]) -> None:
    code, packages, done = run_light(tmp_path, *argv)  # on an empty store, made by the first
    assert code == 0, done.stderr
    assert not packages & HEAVY, sorted(packages & HEAVY)
