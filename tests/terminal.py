"""Drive the real app in a real terminal: tmux, with send-keys in and capture-pane out."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

POLL_S = 0.1


class Terminal:
    """One tmux server of our own (its own socket), one pane running one command."""

    def __init__(
        self, argv: Sequence[str], env: Mapping[str, str], width: int = 80, height: int = 24
    ) -> None:
        if shutil.which("tmux") is None:
            raise RuntimeError("tmux is not installed")
        self.socket = f"msp-tui-test-{uuid.uuid4().hex[:8]}"
        # The shell records the exit status itself: under load tmux can take many seconds to
        # reap a finished pane's process, so its pane_dead flag is not a reliable signal.
        self.status_file = Path(tempfile.mkdtemp(prefix="msp-tui-term-")) / "status"
        command = " ".join(shlex.quote(a) for a in argv)
        command = f"{command}; echo $? > {shlex.quote(str(self.status_file))}"
        # One tmux call, so the pane is kept (with its exit status) however soon it ends.
        self._tmux(
            "start-server", ";", "set-option", "-g", "remain-on-exit", "on", ";",
            "new-session", "-d", "-s", "t", "-x", str(width), "-y", str(height), command,
            env=env,
        )  # fmt: skip

    def _tmux(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        full_env = {**os.environ, **(env or {}), "TERM": "xterm-256color"}
        full_env.pop("TMUX", None)
        result = subprocess.run(
            ["tmux", "-f", "/dev/null", "-L", self.socket, *args],
            capture_output=True,
            text=True,
            env=full_env,
            timeout=30,
            check=True,
        )
        return result.stdout

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", "t")

    def press(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", "t", *keys)

    def wait_for(self, text: str, timeout: float = 30) -> str:
        """Poll the screen until `text` shows, or fail with what the screen showed instead."""
        deadline = time.monotonic() + timeout
        while True:
            shown = self.screen()
            if text in shown:
                return shown
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not on screen after {timeout}s:\n{shown}")
            time.sleep(POLL_S)

    def wait_until(self, holds, timeout: float = 30) -> str:
        """Poll the screen until `holds(screen)`, or fail with what the screen showed."""
        deadline = time.monotonic() + timeout
        while True:
            shown = self.screen()
            if holds(shown):
                return shown
            if time.monotonic() > deadline:
                raise AssertionError(f"the screen did not change as awaited:\n{shown}")
            time.sleep(POLL_S)

    def wait_exit(self, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while True:
            if self.status_file.exists():
                text = self.status_file.read_text().strip()
                if text:
                    return int(text)
            if time.monotonic() > deadline:
                raise AssertionError(f"still running after {timeout}s:\n{self.screen()}")
            time.sleep(POLL_S)

    def program_pid(self) -> int:
        """The pid of the command the pane's shell runs (the shell's one child)."""
        shell = self._tmux("display-message", "-p", "-t", "t", "#{pane_pid}").strip()
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:  # gone meanwhile
                continue
            if fields[1] == shell:
                return int(stat.parent.name)
        raise AssertionError(f"no child of the pane's shell {shell}")

    def alternate_screen(self) -> bool:
        return self._tmux("display-message", "-p", "-t", "t", "#{alternate_on}").strip() == "1"

    def __enter__(self) -> Terminal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        shutil.rmtree(self.status_file.parent, ignore_errors=True)
        subprocess.run(
            ["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=30, check=False
        )
