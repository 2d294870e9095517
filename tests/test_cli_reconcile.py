"""`msp-tui map` and `msp-tui export mappings|reconciliation|audit`, run through the real entry
point against a SQLite file, and checked in the store and in what they print."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from msp_tui.cli import main
from msp_tui.context import Context
from msp_tui.operator import current_operator
from msp_tui.store.models import (
    AccountMapping,
    AuditEvent,
    Integration,
    PsaAgreement,
    PsaAgreementLine,
    PsaCompany,
    PsaConnection,
    PsaProduct,
    ServiceMapping,
    UsageCount,
    VendorAccount,
    VendorService,
)

PSA_COMPANIES = {
    1001: "Acme Dental",
    1002: "Bluewater Logistics Inc",
    1003: "Peterson Plumbing",
    1004: "Globex Corporation",
    1005: "Initech",
}
VENDOR_ACCOUNTS = {
    "g-1": "Acme Dental",  # the same name: exact
    "g-2": "Bluewater Logistic",  # one letter dropped, a clear lead: near name, auto
    "g-3": "Petersen Plumbing",  # a changed letter: only ever a suggestion
    "g-4": "Mystery Dental",  # nothing safe
    "g-5": "Initech",  # the same name, but excluded: left alone
}
RECONCILIATION_HEADER = (
    "company_id,company_name,product_identifier,vendor_quantity,psa_quantity,status,impact"
)


@pytest.fixture
def world(ctx: Context) -> Integration:
    """A PSA with five companies and a small catalog; SpamTitan with five accounts, a service."""
    cw = PsaConnection.create(name="cw", site="https://cw.example.com", company_identifier="msp",
                              client_id="client")  # fmt: skip
    for external_id, name in PSA_COMPANIES.items():
        PsaCompany.create(connection=cw, external_id=external_id, identifier=f"C{external_id}",
                          name=name)  # fmt: skip
    catalog = [
        (501, "ST-TOTAL-LIC", "SpamTitan licences", False),
        (502, "ARCHIVE-1Y", "Email archiving, one year", False),
        (503, "spam-adv", "Spam filter advanced (old)", False),
        (504, "SPAM-ADV", "Spam filter advanced", False),
        (505, "MP-FILTER-OLD", "Retired filtering", True),
    ]
    for external_id, identifier, description, inactive in catalog:
        PsaProduct.create(connection=cw, external_id=external_id, identifier=identifier,
                          description=description, inactive=inactive,
                          price=Decimal("2.50"))  # fmt: skip
    spamtitan = Integration.create(name="spamtitan", vendor="spamtitan", kind="pull")
    for external_id, name in VENDOR_ACCOUNTS.items():
        VendorAccount.create(integration=spamtitan, external_id=external_id, name=name,
                             excluded=name == "Initech")  # fmt: skip
    VendorService.create(integration=spamtitan, external_id="total", name="Total Licenses")
    VendorService.create(integration=spamtitan, external_id="archive", name="Archiving")
    return spamtitan


def run(db_path: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["--db", str(db_path), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def account_mappings() -> dict[str, tuple[str, str]]:
    """vendor account name -> (PSA company name, method)."""
    rows = AccountMapping.select(AccountMapping, VendorAccount, PsaCompany).join(VendorAccount)
    rows = rows.switch(AccountMapping).join(PsaCompany)
    return {m.vendor_account.name: (m.psa_company.name, m.method) for m in rows}


def service_pairs() -> set[tuple[str, str]]:
    rows = ServiceMapping.select(ServiceMapping, VendorService, PsaProduct).join(VendorService)
    rows = rows.switch(ServiceMapping).join(PsaProduct)
    return {(m.vendor_service.external_id, m.psa_product.identifier) for m in rows}


# --- map accounts --auto -----------------------------------------------------------------------


def test_map_accounts_auto_maps_exact_and_near_names(
    world: Integration, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(db_path, capsys, "map", "accounts", "spamtitan", "--auto", "--json")
    assert (code, err) == (0, "")
    made = json.loads(out)
    assert made == [
        {"vendor_account_id": "g-1", "vendor_account": "Acme Dental", "psa_company_id": 1001,
         "psa_company": "Acme Dental", "method": "exact", "score": 100.0},
        {"vendor_account_id": "g-2", "vendor_account": "Bluewater Logistic",
         "psa_company_id": 1002, "psa_company": "Bluewater Logistics Inc", "method": "auto",
         "score": made[1]["score"]},
    ]  # fmt: skip
    assert 90 <= made[1]["score"] < 100
    assert account_mappings() == {
        "Acme Dental": ("Acme Dental", "exact"),
        "Bluewater Logistic": ("Bluewater Logistics Inc", "auto"),
    }
    assert {m.operator for m in AccountMapping.select()} == {current_operator()}
    actions = [(e.action, e.subject) for e in AuditEvent.select().order_by(AuditEvent.id)]
    assert actions == [
        ("accounts.auto_map", "spamtitan"),
        ("accounts.map", "spamtitan: Bluewater Logistic"),
    ]

    # A second run has nothing left that is safe to map, and says what is left.
    code, out, _ = run(db_path, capsys, "map", "accounts", "spamtitan", "--auto")
    assert code == 0
    assert out.splitlines() == [
        "spamtitan: 0 accounts mapped now (0 exact, 0 automatic); 2 still unmapped, 2 of them"
        " with suggestions to review (msp-tui map account spamtitan ..., or the TUI)"
    ]
    assert AccountMapping.select().count() == 2
    assert not VendorAccount.get(VendorAccount.name == "Initech").mapping.exists()


def test_map_accounts_dry_run_saves_nothing(
    world: Integration, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(db_path, capsys, "map", "accounts", "spamtitan", "--auto", "--dry-run")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "Would map Acme Dental (g-1) -> Acme Dental (#1001): exact 100.0"
    assert lines[1].startswith(
        "Would map Bluewater Logistic (g-2) -> Bluewater Logistics Inc (#1002): auto 9"
    )
    assert lines[2].startswith("spamtitan: 2 accounts would be mapped (1 exact, 1 automatic);")
    assert lines[2].endswith("; dry run, nothing saved")
    # Not even the exact matches that opening the board saves, nor their audit events.
    assert AccountMapping.select().count() == 0
    assert AuditEvent.select().count() == 0

    code, out, _ = run(
        db_path, capsys, "map", "accounts", "spamtitan", "--auto", "--dry-run", "--json"
    )
    assert code == 0
    assert [m["vendor_account_id"] for m in json.loads(out)] == ["g-1", "g-2"]
    assert AccountMapping.select().count() == 0


def test_map_accounts_without_auto_is_a_usage_error(
    world: Integration, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(db_path, capsys, "map", "accounts", "spamtitan")
    assert (code, out) == (2, "")
    assert "pass --auto" in err and "msp-tui map account spamtitan" in err
    assert AccountMapping.select().count() == 0


def test_map_accounts_errors(
    ctx: Context, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(db_path, capsys, "map", "accounts", "nosuch", "--auto")
    assert code == 1 and "no integration named 'nosuch'" in err
    Integration.create(name="spamtitan", vendor="spamtitan", kind="pull")
    code, _, err = run(db_path, capsys, "map", "accounts", "spamtitan", "--auto")
    assert code == 1 and "no PSA companies" in err and "msp-tui sync psa" in err


# --- map account -------------------------------------------------------------------------------


def test_map_account_maps_replaces_and_is_audited(
    world: Integration, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(db_path, capsys, "map", "account", "spamtitan", "g-3", "1003")
    assert code == 0
    assert out == "Mapped Petersen Plumbing (g-3) -> Peterson Plumbing (#1003)\n"
    assert account_mappings() == {"Petersen Plumbing": ("Peterson Plumbing", "manual")}

    # An account maps to one company: mapping it again replaces the mapping.
    code, out, _ = run(db_path, capsys, "map", "account", "spamtitan", "g-3", "1004")
    assert code == 0
    assert out == (
        "Mapped Petersen Plumbing (g-3) -> Globex Corporation (#1004),"
        " was Peterson Plumbing (#1003)\n"
    )
    assert account_mappings() == {"Petersen Plumbing": ("Globex Corporation", "manual")}

    # The same mapping again changes nothing and audits nothing.
    code, out, _ = run(db_path, capsys, "map", "account", "spamtitan", "g-3", "1004")
    assert code == 0 and "already mapped" in out and "nothing changed" in out

    # An excluded account is included again when mapped by hand.
    code, out, _ = run(db_path, capsys, "map", "account", "spamtitan", "g-5", "1005")
    assert code == 0 and out.endswith("; it is no longer excluded\n")
    assert not VendorAccount.get(VendorAccount.external_id == "g-5").excluded

    events = [(e.action, e.subject, e.after, e.operator) for e in AuditEvent.select()]
    me = current_operator()
    assert events == [
        ("accounts.map", "spamtitan: Petersen Plumbing",
         {"psa": "Peterson Plumbing", "method": "manual"}, me),
        ("accounts.map", "spamtitan: Petersen Plumbing",
         {"psa": "Globex Corporation", "method": "manual"}, me),
        ("accounts.map", "spamtitan: Initech", {"psa": "Initech", "method": "manual"}, me),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("argv", "code", "says"),
    [
        (["nosuch", "g-1", "1001"], 1, ["no integration named 'nosuch'"]),
        (["spamtitan", "g-99", "1001"], 1,
         ["no vendor account with id 'g-99'", "msp-tui export mappings",
          "msp-tui sync spamtitan"]),
        (["spamtitan", "g-1", "9999"], 1, ["no PSA company with id 9999", "msp-tui sync psa"]),
        (["spamtitan", "g-1", "acme"], 2, ["invalid int value: 'acme'"]),
    ],
)  # fmt: skip
def test_map_account_errors(
    world: Integration,
    db_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    code: int,
    says: list[str],
) -> None:
    if code == 2:
        with pytest.raises(SystemExit) as exc:
            main(["--db", str(db_path), "map", "account", *argv])
        assert exc.value.code == 2
        err = capsys.readouterr().err
    else:
        got, out, err = run(db_path, capsys, "map", "account", *argv)
        assert (got, out) == (code, "")
    assert err.startswith("msp-tui")
    for text in says:
        assert text in err
    assert AccountMapping.select().count() == 0


def test_map_account_to_a_deleted_company_says_so(
    world: Integration, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    PsaCompany.update(deleted=True).where(PsaCompany.external_id == 1004).execute()
    code, _, err = run(db_path, capsys, "map", "account", "spamtitan", "g-1", "1004")
    assert code == 1 and "deleted in the PSA" in err
    assert AccountMapping.select().count() == 0


# --- map service -------------------------------------------------------------------------------


def test_map_service_adds_many_to_many_and_is_idempotent(
    world: Integration, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(db_path, capsys, "map", "service", "spamtitan", "total", "ST-TOTAL-LIC")
    assert (code, out) == (0, "Mapped Total Licenses (total) -> ST-TOTAL-LIC\n")
    # Case is ignored when nothing matches exactly.
    code, out, _ = run(db_path, capsys, "map", "service", "spamtitan", "archive", "archive-1y")
    assert (code, out) == (0, "Mapped Archiving (archive) -> ARCHIVE-1Y\n")
    # One service, a second product: both kept.
    code, out, _ = run(db_path, capsys, "map", "service", "spamtitan", "total", "ARCHIVE-1Y")
    assert (code, out) == (0, "Mapped Total Licenses (total) -> ARCHIVE-1Y (and 1 other product)\n")
    # An exact identifier wins over one that differs only in case.
    code, _, _ = run(db_path, capsys, "map", "service", "spamtitan", "total", "SPAM-ADV")
    assert code == 0
    # Again: nothing changes, nothing is audited.
    code, out, _ = run(db_path, capsys, "map", "service", "spamtitan", "total", "st-total-lic")
    assert code == 0 and "already mapped to ST-TOTAL-LIC; nothing changed" in out

    assert service_pairs() == {
        ("total", "ST-TOTAL-LIC"), ("archive", "ARCHIVE-1Y"), ("total", "ARCHIVE-1Y"),
        ("total", "SPAM-ADV"),
    }  # fmt: skip
    events = [(e.action, e.subject, e.after) for e in AuditEvent.select()]
    assert events[0] == (
        "services.map",
        "spamtitan: Total Licenses",
        {"psa": "ST-TOTAL-LIC", "method": "manual"},
    )
    assert len(events) == 4


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["nosuch", "total", "ST-TOTAL-LIC"], ["no integration named 'nosuch'"]),
        (["spamtitan", "nope", "ST-TOTAL-LIC"],
         ["no vendor service with id 'nope'", "(it has: archive, total)",
          "msp-tui sync spamtitan"]),
        (["spamtitan", "total", "NOPE"], ["no PSA product with the identifier 'NOPE'",
                                          "msp-tui sync psa"]),
        (["spamtitan", "total", "Spam-Adv"], ["'Spam-Adv' matches 2 PSA products",
                                              "'spam-adv' (#503)", "'SPAM-ADV' (#504)"]),
        (["spamtitan", "total", "MP-FILTER-OLD"], ["'MP-FILTER-OLD' is inactive"]),
    ],
)  # fmt: skip
def test_map_service_errors(
    world: Integration,
    db_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    says: list[str],
) -> None:
    code, out, err = run(db_path, capsys, "map", "service", *argv)
    assert (code, out) == (1, "")
    for text in says:
        assert text in err
    assert ServiceMapping.select().count() == 0
    assert AuditEvent.select().count() == 0


# --- exports -----------------------------------------------------------------------------------


def agreement_line(company_id: int, identifier: str, quantity: str, price: str) -> None:
    company = PsaCompany.get(PsaCompany.external_id == company_id)
    product = PsaProduct.get(PsaProduct.identifier == identifier)
    agreement = PsaAgreement.create(
        connection=company.connection, external_id=company_id, company=company, name="MSA",
        agreement_status="Active",
    )  # fmt: skip
    PsaAgreementLine.create(agreement=agreement, external_id=company_id, product=product,
                            product_identifier=identifier, quantity=Decimal(quantity),
                            unit_price=Decimal(price))  # fmt: skip


def count(account_id: str, quantity: str) -> None:
    UsageCount.create(account=VendorAccount.get(VendorAccount.external_id == account_id),
                      service=VendorService.get(VendorService.external_id == "total"),
                      quantity=Decimal(quantity))  # fmt: skip


@pytest.fixture
def reconciled(world: Integration, db_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """The world mapped through the CLI, with counts and agreement lines for every kind of row."""
    assert main(["--db", str(db_path), "map", "accounts", "spamtitan", "--auto"]) == 0
    assert main(["--db", str(db_path), "map", "account", "spamtitan", "g-3", "1003"]) == 0
    assert main(["--db", str(db_path), "map", "service", "spamtitan", "total", "ST-TOTAL-LIC"]) == 0
    capsys.readouterr()
    count("g-1", "10")  # Acme: 10 counted, 8 billed at 3.00 -> reconcile, +6.00
    agreement_line(1001, "ST-TOTAL-LIC", "8", "3.00")
    count("g-2", "12")  # Bluewater: 12 counted, no line -> new revenue at the catalog 2.50
    count("g-3", "2.5")  # Peterson: a fractional count
    agreement_line(1004, "ST-TOTAL-LIC", "9", "3.00")  # Globex: billed, nothing counted
    count("g-4", "6")  # Mystery Dental: counted, not mapped
    return db_path


def test_export_reconciliation_csv(reconciled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(reconciled, capsys, "export", "reconciliation")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        RECONCILIATION_HEADER,
        "1001,Acme Dental,ST-TOTAL-LIC,10,8,reconcile,6.00",
        "1002,Bluewater Logistics Inc,ST-TOTAL-LIC,12,,new_revenue,30.00",
        "1004,Globex Corporation,ST-TOTAL-LIC,,9,no_vendor_data,0.00",
        ",Mystery Dental,Total Licenses,6,,unmapped,0.00",
        "1003,Peterson Plumbing,ST-TOTAL-LIC,2.5,,new_revenue,6.25",
    ]


def test_export_reconciliation_json_matches_the_csv(
    reconciled: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "out" / "reconciliation.json"
    target.parent.mkdir()
    code, out, err = run(reconciled, capsys, "export", "reconciliation", "--format", "json",
                         "--output", str(target))  # fmt: skip
    assert code == 0 and out == ""
    assert err == f"5 reconciliation rows written to {target}\n"
    assert [p.name for p in target.parent.iterdir()] == ["reconciliation.json"]  # no temp file
    rows = json.loads(target.read_text())

    code, out, _ = run(reconciled, capsys, "export", "reconciliation")
    assert code == 0
    as_csv = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == len(as_csv) == 5
    for row, line in zip(rows, as_csv, strict=True):
        assert list(row)[:7] == RECONCILIATION_HEADER.split(",")
        for key, cell in line.items():
            value = row[key]
            if cell == "":
                assert value is None, (key, row)
            elif key in ("vendor_quantity", "psa_quantity", "impact"):
                assert Decimal(str(value)) == Decimal(cell), (key, row)
            else:
                assert str(value) == cell, (key, row)
    acme = rows[0]
    assert acme["company_id"] == 1001 and acme["vendor_quantity"] == 10
    assert acme["sources"][0]["account"] == "Acme Dental"
    assert acme["sources"][0]["counted_at"].endswith("Z")
    assert rows[3]["status"] == "unmapped" and rows[3]["psa_quantity"] is None


def test_export_mappings_lists_accounts_and_services(
    reconciled: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(reconciled, capsys, "export", "mappings")
    assert code == 0
    assert out.splitlines()[0] == (
        "kind,integration,vendor_id,vendor_name,psa_id,psa_name,method,score,operator,created_at"
    )
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["kind"], r["vendor_id"], r["psa_id"], r["method"]) for r in rows] == [
        ("account", "g-1", "1001", "exact"),
        ("account", "g-2", "1002", "auto"),
        ("account", "g-3", "1003", "manual"),
        ("service", "total", "ST-TOTAL-LIC", ""),
    ]
    acme, _, peterson, service = rows
    assert (acme["psa_name"], acme["score"], acme["integration"]) == (
        "Acme Dental", "100.0", "spamtitan")  # fmt: skip
    assert peterson["score"] == ""
    assert (service["vendor_name"], service["psa_name"]) == ("Total Licenses", "SpamTitan licences")
    assert {r["operator"] for r in rows} == {current_operator()}
    for r in rows:
        assert datetime.fromisoformat(r["created_at"].replace("Z", "+00:00")).tzinfo is not None

    code, out, _ = run(reconciled, capsys, "export", "mappings", "--format", "json")
    as_json = json.loads(out)
    assert [(r["kind"], r["psa_id"], r["score"]) for r in as_json] == [
        ("account", 1001, 100.0), ("account", 1002, as_json[1]["score"]),
        ("account", 1003, None), ("service", "ST-TOTAL-LIC", None),
    ]  # fmt: skip


def test_export_audit_has_the_mapping_events_in_order(
    reconciled: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(reconciled, capsys, "export", "audit")
    assert code == 0
    assert out.splitlines()[0] == "at,operator,action,subject,before,after,detail"
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["action"], r["subject"]) for r in rows] == [
        ("accounts.auto_map", "spamtitan"),
        ("accounts.map", "spamtitan: Bluewater Logistic"),
        ("accounts.map", "spamtitan: Petersen Plumbing"),
        ("services.map", "spamtitan: Total Licenses"),
    ]
    assert json.loads(rows[0]["after"]) == {"exact": 1}
    assert json.loads(rows[2]["after"]) == {"psa": "Peterson Plumbing", "method": "manual"}
    assert rows[2]["before"] == "" and rows[2]["operator"] == current_operator()
    times = [datetime.fromisoformat(r["at"].replace("Z", "+00:00")) for r in rows]
    assert times == sorted(times) and all(t.tzinfo is not None for t in times)

    code, out, _ = run(reconciled, capsys, "export", "audit", "--format", "json")
    events = json.loads(out)
    assert events[3]["after"] == {"psa": "ST-TOTAL-LIC", "method": "manual"}
    assert [e["at"] for e in events] == [r["at"] for r in rows]


def test_export_to_an_unwritable_place_fails_cleanly(
    reconciled: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "missing" / "x.csv"
    code, out, err = run(reconciled, capsys, "export", "audit", "--output", str(target))
    assert (code, out) == (1, "")
    assert err.startswith(f"msp-tui: cannot write {target}")
    assert not target.parent.exists()


def test_export_usage_still_works_with_out_and_output(
    reconciled: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for option in ("--out", "--output"):
        target = tmp_path / f"usage{option}.csv"
        assert run(reconciled, capsys, "export", "usage", option, str(target))[0] == 0
        lines = target.read_text().splitlines()
        assert lines[0].startswith("integration,vendor_account_id,vendor_account_name")
        assert len(lines) == 5
