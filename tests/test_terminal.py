"""The installed `msp-tui` in a real terminal (tmux at 80x24): start, read the screen, quit."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from terminal import Terminal

pytestmark = [
    pytest.mark.tmux,
    # Skipped on a laptop without tmux; in CI (CI=true) a missing tmux fails the test instead.
    pytest.mark.skipif(
        shutil.which("tmux") is None and not os.environ.get("CI"), reason="tmux is not installed"
    ),
]


@pytest.fixture
def msp_tui_exe() -> str:
    exe = shutil.which("msp-tui", path=str(Path(sys.executable).parent))
    assert exe, "msp-tui is not installed next to this Python"
    return exe


@pytest.fixture
def terminal_env(isolated_home: Path) -> dict[str, str]:
    return {
        "HOME": str(isolated_home),
        "XDG_DATA_HOME": str(isolated_home / "data"),
        "XDG_CONFIG_HOME": str(isolated_home / "config"),
        "MSP_TUI_SECRETS": "file",
    }


def test_empty_app_in_a_real_terminal(
    msp_tui_exe: str, terminal_env: dict[str, str], tmp_path: Path
) -> None:
    db = tmp_path / "real.db"
    with Terminal([msp_tui_exe, "--db", str(db)], terminal_env) as term:
        shown = term.wait_for("No integrations yet.")
        assert "Quit" in shown and "Help" in shown
        assert all(len(line) <= 80 for line in shown.splitlines())
        term.press("?")
        term.wait_for("Cards")
        term.press("q")
        assert term.wait_exit() == 0
    assert db.is_file()
