"""The installed `msp-tui` in a real terminal (tmux at 80x24): start, read the screen, quit."""

from __future__ import annotations

import os
import shutil
import signal
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
        term.wait_for("Keys here")  # the help covers the screen
        term.press("q")  # q closes the help, as in less ...
        term.wait_for("No integrations yet.")
        term.press("q")  # ... and on Home quits
        assert term.wait_exit() == 0
    assert db.is_file()


def test_demo_walkthrough_in_a_real_terminal(
    msp_tui_exe: str, terminal_env: dict[str, str]
) -> None:
    """connect -> map -> finish -> sync done, with the keyboard, in `msp-tui demo`."""
    with Terminal([msp_tui_exe, "demo"], terminal_env) as term:
        term.wait_for("Connect SpamTitan", timeout=60)
        term.press("Enter")
        term.wait_for("which modules?")
        term.press("C-n")
        term.wait_for("SpamTitan API")
        term.press("Enter")  # the demo fills in the URL and key; enter authenticates
        term.wait_for("accounts read", timeout=60)
        term.press("C-n")
        shown = term.wait_for("Vendor accounts", timeout=60)
        assert "PSA companies" in shown and "mapped" in shown
        term.press("C-n")
        term.wait_for("Vendor services")
        term.press("a")  # accept the top suggestion: Total Licenses -> ST-TOTAL-LIC
        term.wait_for("Mapped Total Licenses")
        term.press("C-n")
        term.wait_for("Ready: Finish saves and syncs.")
        term.press("Enter")
        shown = term.wait_for("SpamTitan · spamtitan", timeout=60)
        # Home shows what the sync brought as soon as it ends, without r.
        shown = term.wait_for("Active · last sync 2", timeout=60)
        assert "1 services" in shown
        term.wait_for("● idle")
        term.press("q")
        assert term.wait_exit() == 0


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_ends_the_demo_cleanly(
    msp_tui_exe: str, terminal_env: dict[str, str], tmp_path: Path, signum: int
) -> None:
    """kill (SIGTERM) or a dropped SSH session (SIGHUP): the terminal leaves the alternate
    screen and the demo's throwaway data dir is removed, as after q."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    with Terminal([msp_tui_exe, "demo"], {**terminal_env, "TMPDIR": str(temp)}) as term:
        term.wait_for("Connect SpamTitan", timeout=90)
        assert list(temp.glob("msp-tui-demo-*")) and term.alternate_screen()
        os.kill(term.program_pid(), signum)
        assert term.wait_exit(timeout=60) == 0
        assert not term.alternate_screen()
        assert list(temp.glob("msp-tui-demo-*")) == []
