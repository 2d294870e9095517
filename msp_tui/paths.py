"""Where msp-tui keeps its files: the user's data dir for the database, config dir for the rest.

platformdirs follows XDG_DATA_HOME / XDG_CONFIG_HOME on Linux, which is also how the tests and
`msp-tui demo` point the app at a throwaway home.
"""

from __future__ import annotations

from pathlib import Path

import platformdirs

APP_NAME = "msp-tui"


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def default_database_path() -> Path:
    return data_dir() / "msp-tui.db"
