"""What the CLI's parser and its command modules share, light to import.

`msp-tui --version`, `--help` and the parser itself need only this, argparse and the standard
library: the command implementations (the store, httpx, the sync) are imported by the handler
that runs, never to build the parser. Keep it so: nothing here imports the store, an adapter
client, Textual or the push server (tests/test_cli_imports.py checks it).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from typing import TYPE_CHECKING

from msp_tui.untrusted import printable

if TYPE_CHECKING:
    from adapters.errors import Secret
    from msp_tui.context import Context

MODULES = ("billing", "alerts")


class CommandError(Exception):
    """The command could not do its work; the message is shown as-is (exit 1)."""


class UsageError(Exception):
    """The command was called wrongly; the message is shown as-is (exit 2)."""


def read_secret(env_var: str | None, prompt: str) -> Secret:
    """A secret from the environment variable named on the command line, or a hidden prompt.
    Never from argv, where `ps` and shell history would show it."""
    from adapters.errors import Secret

    if env_var:
        value = os.environ.get(env_var, "")
        if not value:
            raise UsageError(f"environment variable {env_var} is not set or empty")
        return Secret(value)
    if not sys.stdin.isatty():
        raise UsageError("no terminal to prompt on: name an environment variable instead")
    import getpass

    value = getpass.getpass(f"{prompt}: ")
    if not value:
        raise UsageError(f"{prompt} is empty")
    return Secret(value)


def notice_secrets(ctx: Context) -> None:
    if ctx.secrets.notice:
        say(f"msp-tui: {ctx.secrets.notice}", file=sys.stderr)


def say(text: str, file=None, flush: bool = False) -> None:
    """A human-readable line: whatever vendor, PSA or operator text it carries is shown with
    its control characters escaped (see msp_tui.untrusted)."""
    print(printable(text), file=file, flush=flush)


def parse_modules(value: str) -> str:
    modules = [m.strip().lower() for m in value.split(",") if m.strip()]
    unknown = [m for m in modules if m not in MODULES]
    if unknown or not modules:
        raise argparse.ArgumentTypeError(
            f"modules are a comma-separated list of {', '.join(MODULES)}"
        )
    return ",".join(dict.fromkeys(modules))


def parse_rate_limit(value: str) -> float:
    """`--rate-limit`: a finite number of requests per second, 0 for no limit."""
    try:
        rate = float(value)
    except ValueError:
        rate = math.nan
    if not math.isfinite(rate) or rate < 0:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a rate: give requests per second, a number >= 0 (0 turns it off)"
        )
    return rate


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of at least 1")
    return number
