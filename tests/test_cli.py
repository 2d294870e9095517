from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from msp_tui import __version__
from msp_tui.cli import main


def test_help_lists_commands_and_global_db(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "usage: msp-tui" in out
    assert "--db PATH|URL" in out
    assert "info" in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"msp-tui {__version__}"


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["frobnicate"], "unknown command 'frobnicate'"),
        (["--frobnicate"], "unrecognized arguments: --frobnicate"),
        (["info", "--colour"], "unrecognized arguments: --colour"),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    argv: list[str], reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert reason in err


def test_db_option_creates_the_database_there(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "nested" / "x.db"
    assert main(["--db", str(target), "info", "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert target.is_file()
    assert facts["database"] == str(target)
    assert facts["schema_version"] == facts["latest_schema_version"] >= 2


def test_db_option_after_the_command_and_env_var(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    after = tmp_path / "after.db"
    assert main(["info", "--db", f"sqlite:///{after}"]) == 0
    assert after.is_file()
    from_env = tmp_path / "env.db"
    monkeypatch.setenv("MSP_TUI_DB", str(from_env))
    assert main(["info"]) == 0
    assert from_env.is_file()
    assert str(from_env) in capsys.readouterr().out


def test_default_database_lives_in_the_user_data_dir(isolated_home: Path) -> None:
    assert main(["info"]) == 0
    assert (isolated_home / "data" / "msp-tui" / "msp-tui.db").is_file()


def test_unusable_database_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    not_a_db = tmp_path / "notes.txt"
    not_a_db.write_text("this is not sqlite\n" * 200)
    assert main(["--db", str(not_a_db), "info"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("msp-tui: cannot open database")
    assert str(not_a_db) in err


def test_tui_without_a_terminal_says_what_to_do(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "msp_tui", "--db", str(tmp_path / "t.db")],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "needs a terminal" in result.stderr


def test_console_script_is_installed(tmp_path: Path) -> None:
    exe = shutil.which("msp-tui", path=str(Path(sys.executable).parent))
    assert exe, "the msp-tui console script is not installed next to this Python"
    result = subprocess.run(
        [exe, "--db", str(tmp_path / "s.db"), "info", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["version"] == __version__
