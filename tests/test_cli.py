from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from adapters.errors import Secret
from msp_tui import __version__, commands
from msp_tui.cli import main
from msp_tui.context import open_context
from msp_tui.logs import log_path
from msp_tui.sources import psa_secret_scope
from msp_tui.store.models import PsaConnection


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


@pytest.mark.sqlite_only
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


def run_cli(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "msp_tui", *args], capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL, **kwargs)  # fmt: skip


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["psa", "set", "connectwise", "--site", "http://[::1", "--company", "c",
          "--public-key", "p", "--client-id", "i", "--no-check"], 2, "--site"),
        (["integrations", "add", "spamtitan", "--url", "http://[::1", "--api-key-env", "HOME"],
         2, "--url: not a URL"),
        (["integrations", "add", "spamtitan", "--url", "https://me:hunter2@st.example.com",
          "--api-key-env", "HOME"], 2, "carries a user name or password"),
        (["psa", "set", "connectwise", "--site", "https://x.example.com", "--company", "c",
          "--client-id", "i", "--private-key-env", "HOME"], 2, "no terminal to prompt on"),
        (["serve", "--rate-limit", "nan"], 2, "a number >= 0"),
    ],
)  # fmt: skip
def test_bad_values_are_messages_not_tracebacks(
    tmp_path: Path, args: list[str], code: int, says: str
) -> None:
    done = run_cli("--db", str(tmp_path / "s.db"), *args)
    assert done.returncode == code, done.stderr
    assert says in done.stderr and "Traceback" not in done.stderr
    assert "hunter2" not in done.stderr


def test_public_key_from_the_environment(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CW_PUBLIC", "pub-from-env")
    monkeypatch.setenv("CW_PRIVATE", "private-from-env")
    db = str(tmp_path / "s.db")
    assert main(["--db", db, "psa", "set", "connectwise", "--site", "https://x.example.com",
                 "--company", "c", "--client-id", "i", "--public-key-env", "CW_PUBLIC",
                 "--private-key-env", "CW_PRIVATE", "--no-check"]) == 0  # fmt: skip
    ctx = open_context(db)
    try:
        scope = psa_secret_scope(PsaConnection.get())
        assert ctx.secrets.get(scope, "public_key") == "pub-from-env"
    finally:
        ctx.close()


@pytest.mark.parametrize(("args", "code"), [(["outbox", "list"], 1), (["--help"], 0)])
def test_a_closed_pipe_ends_quietly(tmp_path: Path, args: list[str], code: int) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader (`| head`) has gone before anything is written
    try:
        done = subprocess.run([sys.executable, "-m", "msp_tui", "--db", str(tmp_path / "s.db"),
                               *args], stdout=write_end, stderr=subprocess.PIPE, text=True,
                              timeout=60)  # fmt: skip
    finally:
        os.close(write_end)
    assert done.returncode == code and done.stderr == ""


def test_standard_output_on_a_full_disk_is_a_message(tmp_path: Path) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "msp_tui", "--db", str(tmp_path / "s.db"),
                               "export", "audit"], stdout=full, stderr=subprocess.PIPE,
                              text=True, timeout=60)  # fmt: skip
    assert done.returncode == 1
    assert "No space left on device" in done.stderr and "Traceback" not in done.stderr


def test_match_reads_csv_strictly_and_names_the_row(tmp_path: Path) -> None:
    psa = tmp_path / "psa.csv"
    psa.write_text("id,name\n10,Acme\n")
    cases = {
        "quote.csv": ('id,name\n1,"Acme\n2,Beta\n3,Gamma\n', "row 2: a quote opened here"),
        "huge.csv": ("id,name\n1,Acme\n2," + "x" * 140_000 + "\n", "row 3: a field is longer"),
    }
    for name, (text, says) in cases.items():
        (tmp_path / name).write_text(text)
        done = run_cli("match", "--vendor", str(tmp_path / name), "--psa", str(psa))
        assert done.returncode == 2 and says in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
    (tmp_path / "binary.csv").write_bytes(bytes(range(256)) * 4)
    for mapped, says in (("binary.csv", "not UTF-8 text"), ("missing.csv", "no such file")):
        done = run_cli("match", "--vendor", str(psa), "--psa", str(psa), "--mapped",
                       str(tmp_path / mapped))  # fmt: skip
        assert done.returncode == 2 and says in done.stderr, done.stderr
        assert "Traceback" not in done.stderr


def test_an_unexpected_error_is_one_line_and_its_traceback_masked_in_the_log(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    secret = Secret("hunter2-very-secret")

    def broken(ctx, args):
        raise RuntimeError(f"boom while holding {secret.reveal()}")

    monkeypatch.setattr(commands, "cmd_integrations_list", broken)
    assert main(["--db", str(tmp_path / "s.db"), "integrations", "list"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unexpected error (RuntimeError" in err
    log = log_path().read_text()
    assert "Traceback" in log and "boom while holding ********" in log
    for text in (err, log):
        assert "hunter2-very-secret" not in text
