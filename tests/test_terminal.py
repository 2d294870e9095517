"""The installed `msp-tui` in a real terminal (tmux at 80x24): start, read the screen, quit."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import sys
from pathlib import Path

import pytest

from adapters.sandbox import LoopbackServer, build_world
from adapters.sandbox.connectwise import connectwise_app
from adapters.sandbox.spamtitan import spamtitan_app
from msp_tui.context import open_context
from msp_tui.store.models import Decision
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
        # the footer is drawn once a card has the focus, a moment after the first frame
        shown = term.wait_until(lambda s: "No integrations yet." in s and "Quit" in s)
        assert "Help" in shown
        assert all(len(line) <= 80 for line in shown.splitlines())
        term.press("?")
        term.wait_for("Keys here")  # the help covers the screen
        term.press("q")  # q closes the help, as in less ...
        term.wait_for("No integrations yet.")
        term.press("q")  # ... and on Home quits
        assert term.wait_exit() == 0
    assert db.is_file()


def demo_spamtitan_to_accounts(term: Terminal) -> str:
    """In the demo: Connect SpamTitan, authenticate, on to the Accounts board."""
    term.wait_for("Connect SpamTitan", timeout=90)
    term.press("Enter")
    term.wait_for("which modules?")
    term.press("C-n")
    term.wait_for("SpamTitan API")
    term.press("Enter")  # the demo fills in the URL and key; enter authenticates
    term.wait_for("accounts read", timeout=60)
    term.press("C-n")
    return term.wait_for("Vendor accounts", timeout=60)


def test_demo_walkthrough_in_a_real_terminal(
    msp_tui_exe: str, terminal_env: dict[str, str]
) -> None:
    """connect -> map -> finish -> sync done, with the keyboard, in `msp-tui demo`."""
    with Terminal([msp_tui_exe, "demo"], terminal_env) as term:
        shown = demo_spamtitan_to_accounts(term)
        assert "PSA companies" in shown and "mapped" in shown
        term.press("C-n")
        # The demo's PSA may still be syncing: the board fills in its products when it ends.
        term.wait_for("Suggestions: 100 ST-TOTAL-LIC", timeout=60)
        term.press("a")  # accept the top suggestion: Total Licenses -> ST-TOTAL-LIC
        term.wait_for("Mapped Total Licenses")
        term.press("C-n")
        term.wait_for("Ready: Finish saves and syncs.")
        term.press("Enter")
        shown = term.wait_for("SpamTitan · spamtitan", timeout=60)
        # Home shows what the sync brought as soon as it ends, without r (the PSA's card says
        # "Active · last sync" already: the SpamTitan card's own line is waited for).
        shown = term.wait_until(lambda s: "Active · last sync 2" in s.split("SpamTitan ·")[-1],
                                timeout=60)  # fmt: skip
        assert "1 services" in shown, shown
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


def type_field(term: Terminal, label: str, text: str, masked: bool = False) -> None:
    """Wait until the form marks `label` as the field being typed into (▸), type, and wait
    until the field shows what was typed (dots for a masked one)."""
    term.wait_for(f"▸ {label} ")
    term.press("-l", text)
    term.wait_for("•" * len(text) if masked else text)


def test_a_first_run_of_the_real_app_from_an_empty_data_dir(
    msp_tui_exe: str, terminal_env: dict[str, str], isolated_home: Path
) -> None:
    """The newcomer's walk, keyboard only, against the simulators: connect ConnectWise in the
    PSA form, connect SpamTitan, map, Finish, wait for the sync, approve a line, quit."""
    world = build_world(seed=7, companies=60)
    with (
        LoopbackServer(connectwise_app(world)) as cw,
        LoopbackServer(spamtitan_app(world)) as st,
        Terminal([msp_tui_exe], terminal_env) as term,
    ):
        term.wait_for("press enter to connect it (start here)", timeout=60)
        term.press("Enter")  # the PSA card holds the focus on a first run
        term.wait_for("Connect the PSA")
        for label, text, masked in [
            ("Site", cw.base_url, False),
            ("Company ID", world.cw_company_id, False),
            ("Public key", world.cw_public_key, True),
            ("Private key", world.cw_private_key, True),
            ("Client ID", world.cw_client_id, False),
        ]:
            if label != "Site":
                term.press("Tab")
            type_field(term, label, text, masked)
        term.press("C-s")  # check, save, sync the PSA
        term.wait_for("Active · last sync 2", timeout=60)
        term.wait_for("the PSA is connected; now pick a vendor below")

        term.press("/")
        term.wait_for("search cards")
        term.press("-l", "spamtitan")
        term.wait_until(lambda shown: "Connect Mailprotector" not in shown)
        term.press("Enter")  # the only match opens
        term.wait_for("which modules?")
        term.press("C-n")
        type_field(term, "URL", f"{st.base_url}/restapi")
        term.press("Enter")  # on to the key
        type_field(term, "API key", world.spamtitan_token, masked=True)
        term.press("Enter")  # authenticate
        term.wait_for("accounts read", timeout=60)
        term.press("C-n")
        shown = term.wait_for("Vendor accounts", timeout=60)
        assert "PSA companies" in shown
        term.press("C-n")
        term.wait_for("Suggestions: 100 ST-TOTAL-LIC")
        term.press("a")  # the top suggestion: Total Licenses -> ST-TOTAL-LIC
        term.wait_for("Mapped Total Licenses")
        term.press("C-n")
        term.wait_for("Ready: Finish saves and syncs.")
        term.press("Enter")
        term.wait_for("SpamTitan · spamtitan", timeout=60)
        term.wait_for("lines to review", timeout=60)  # the reconcile card, once synced

        term.press("C-p")
        term.wait_for("🔎")
        term.press("-l", "reconcile: reconcile")
        term.wait_for("Reconcile: reconcile")
        term.press("Enter")
        term.wait_for("Reconcile · every vendor", timeout=60)
        # the detail pane says what is highlighted: a company's heading, or one of its lines
        shown = term.wait_for("revenue change")
        if "/ ST-TOTAL-LIC ·" not in shown:
            term.press("Down")  # from the heading to its line
            term.wait_for("/ ST-TOTAL-LIC ·")
        term.press("a")
        term.wait_for("written to the PSA", timeout=60)
        term.press("Escape")
        term.wait_for("Reconcile (c)")
        term.press("q")
        assert term.wait_exit() == 0
    # The approval reached the PSA: the simulator's agreement line holds the vendor's count.
    # The store is the default one: a file in the data dir, or MSP_TUI_DB in the PostgreSQL pass.
    store = os.environ.get("MSP_TUI_DB") or str(*(isolated_home / "data").glob("msp-tui/*.db"))
    ctx = open_context(store)
    try:
        [decision] = Decision.select()
        assert (decision.action, decision.state) == ("approve", "pushed")
        addition = world.additions[decision.agreement_line.external_id]
        assert addition.quantity == float(decision.target_quantity)
    finally:
        ctx.close()


def test_back_from_review_keeps_the_keyboard_in_a_real_terminal(
    msp_tui_exe: str, terminal_env: dict[str, str]
) -> None:
    """B1: demo, Connect SpamTitan, authenticate, ctrl+n to Review, ctrl+o: keys still work."""
    with Terminal([msp_tui_exe, "demo"], terminal_env) as term:
        demo_spamtitan_to_accounts(term)
        term.press("C-n")
        term.wait_for("Vendor services", timeout=60)
        term.press("C-n")
        term.wait_for("Finish")
        term.press("C-o")  # Back from Review: the Services board again, with its suggestion
        # (read again if the demo's PSA sync ended meanwhile: its products come with it)
        term.wait_until(lambda shown: "Suggestions: 100 ST-TOTAL-LIC" in shown
                        and "Finish" not in shown, timeout=60)  # fmt: skip
        term.press("a")  # and it takes keys: accept the top suggestion
        term.wait_for("Mapped Total Licenses")
        term.press("Escape")  # leaves the wizard (nothing typed is lost)
        term.wait_for("SpamTitan · spamtitan")
        term.press("q")
        assert term.wait_exit() == 0


def test_the_first_partner_key_names_the_port_really_listened_on(
    msp_tui_exe: str, terminal_env: dict[str, str]
) -> None:
    """B3: the first key dialog of a session said port 0 while the API listened elsewhere."""
    with Terminal([msp_tui_exe, "demo"], terminal_env) as term:
        term.wait_for("Connect SpamTitan", timeout=90)  # Mailprotector's card is below
        term.press("/")
        term.wait_for("search cards")
        term.press("-l", "mailprotector")
        term.wait_until(lambda shown: "Connect SpamTitan" not in shown)
        term.press("Enter")
        term.wait_for("which modules?")
        term.press("C-n")
        shown = term.wait_for("Vendor API base URL", timeout=60)
        port = int(re.search(r"Vendor API base URL: http://127\.0\.0\.1:(\d+)", shown)[1])
        assert port != 0
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # something listens there: the Vendor API the key is for
        term.press("Enter")  # copies the key (the focused button) ...
        term.wait_for("Copied with OSC 52")
        term.press("Enter")  # ... then "I have copied it"
        term.wait_until(lambda shown: "shown once" not in shown)
        term.press("Escape")
        term.wait_for("Mailprotector · mailprotector")
        term.press("q")
        assert term.wait_exit() == 0
