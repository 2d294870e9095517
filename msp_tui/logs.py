"""Logging to a file in the user's log dir (the TUI owns the terminal), secrets masked.

Every handler gets `RedactingFilter`, so a registered secret (any `adapters.errors.Secret`)
is replaced by ******** in every line, whatever logged it.
"""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

import platformdirs

from adapters.errors import RedactingFilter, RedactingFormatter
from msp_tui.paths import APP_NAME


def log_path() -> Path:
    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False)) / "msp-tui.log"


def setup_logging(verbose: bool = False) -> Path:
    path = log_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    handlers: list[logging.Handler] = [
        logging.handlers.RotatingFileHandler(path, maxBytes=2_000_000, backupCount=3)
    ]
    if verbose:
        handlers.append(logging.StreamHandler())
    root = logging.getLogger("msp_tui")
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for old in [h for h in root.handlers if getattr(h, "_msp_tui", False)]:
        root.removeHandler(old)  # set up once per run, even when main() runs again in-process
        old.close()
    for handler in handlers:
        handler._msp_tui = True  # type: ignore[attr-defined]
        handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.addFilter(RedactingFilter())
        root.addHandler(handler)
    return path
