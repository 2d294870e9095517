"""`msp-tui reconcile list|approve|adjust|dismiss` through the real entry point, on the demo world
synced and mapped, and `msp-tui outbox push` writing what they stored to the ConnectWise
simulator over HTTP."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from recon_world import cw_faults, line_for, sim_quantity

from adapters.sandbox.world import NEW_REVENUE, RECONCILE
from msp_tui.cli import main
from msp_tui.operator import current_operator
from msp_tui.store.models import AuditEvent, Decision, PsaAgreement
from msp_tui.writeback import agreement_choices


def run(demo, capsys, *args: str) -> tuple[int, str, str]:
    code = main(["--db", str(demo.store), *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_list_prints_the_export_rows_with_decisions(mapped, capsys) -> None:
    demo, _ = mapped
    code, out, _ = run(demo, capsys, "reconcile", "list", "--json")
    assert code == 0
    rows = json.loads(out)
    statuses = {r["status"] for r in rows}
    assert {"reconcile", "new_revenue", "no_change"} <= statuses
    assert all(r["decision"] is None for r in rows)

    code, out, _ = run(demo, capsys, "reconcile", "list", "--status", "reconcile")
    assert code == 0
    printed = out.splitlines()
    assert printed and all(text.startswith("reconcile ") for text in printed)
    assert len(printed) == sum(r["status"] == "reconcile" for r in rows)


def test_approve_stores_an_audited_decision_that_outbox_push_writes_once(mapped, capsys) -> None:
    demo, _ = mapped
    line = line_for(demo, RECONCILE)
    company, product = str(line.company_external_id), line.product_identifier
    code, out, _ = run(demo, capsys, "reconcile", "approve", company, product, "--json")
    assert code == 0, out
    shown = json.loads(out)
    decision = Decision.get_by_id(shown["id"])
    assert (decision.action, decision.state) == ("approve", "pending")
    assert decision.target_quantity == line.vendor_quantity
    assert decision.operator == current_operator()
    assert AuditEvent.select().where(AuditEvent.action == "decision.approve").count() == 1

    # Asked again before the outbox ran: refused, nothing stored twice.
    code, _, err = run(demo, capsys, "reconcile", "approve", company, product)
    assert code == 1 and "waits to be written" in err and "outbox push" in err
    assert Decision.select().count() == 1

    faults = cw_faults(demo)
    faults.log.clear()
    code, out, _ = run(demo, capsys, "outbox", "push")
    assert code == 0, out
    assert sim_quantity(demo, line) == float(line.vendor_quantity)
    assert [m for m, _ in faults.log].count("PATCH") == 1

    # The line now agrees, so a re-run of the script has nothing to approve.
    code, out, _ = run(demo, capsys, "reconcile", "list", "--json")
    row = next(r for r in json.loads(out)
               if r["company_id"] == line.company_external_id
               and r["product_identifier"] == product)  # fmt: skip
    assert row["status"] == "no_change" and row["decision"] == "approve pushed"
    code, _, err = run(demo, capsys, "reconcile", "approve", company, product)
    assert code == 1 and "nothing to approve" in err


def test_adjust_needs_a_quantity_and_writes_it(mapped, capsys) -> None:
    demo, _ = mapped
    line = line_for(demo, RECONCILE)
    company, product = str(line.company_external_id), line.product_identifier
    with pytest.raises(SystemExit) as exit_:
        main(["--db", str(demo.store), "reconcile", "adjust", company, product])
    assert exit_.value.code == 2 and "--quantity" in capsys.readouterr().err
    for bad in ("-3", "lots", "NaN"):
        with pytest.raises(SystemExit):
            main(["--db", str(demo.store), "reconcile", "adjust", company,
                  product, "--quantity", bad])  # fmt: skip
        assert "--quantity" in capsys.readouterr().err
    code, out, _ = run(demo, capsys, "reconcile", "adjust", company, product,
                       "--quantity", "41", "--effective", "2026-12-01")  # fmt: skip
    assert code == 0 and "-> 41" in out and "outbox push" in out
    decision = Decision.get()
    assert decision.target_quantity == Decimal(41)
    assert str(decision.effective_date) == "2026-12-01"
    assert run(demo, capsys, "outbox", "push")[0] == 0
    assert sim_quantity(demo, line) == 41


def test_dismiss_stores_no_write(mapped, capsys) -> None:
    demo, _ = mapped
    line = line_for(demo, RECONCILE)
    code, out, _ = run(demo, capsys, "reconcile", "dismiss", str(line.company_external_id),
                       line.product_identifier)  # fmt: skip
    assert code == 0 and "(dismissed)" in out
    assert Decision.get().state == "dismissed"
    assert run(demo, capsys, "outbox", "push")[1].strip() == "nothing to write"


def test_new_revenue_names_its_agreement(mapped, capsys) -> None:
    demo, _ = mapped
    line = line_for(demo, NEW_REVENUE)
    choices = agreement_choices(line.company_id)
    company, product = str(line.company_external_id), line.product_identifier
    if len(choices) > 1:
        code, _, err = run(demo, capsys, "reconcile", "approve", company, product)
        assert code == 1 and "--agreement" in err and str(choices[0].external_id) in err
    code, _, err = run(demo, capsys, "reconcile", "approve", company, product,
                       "--agreement", "999999")  # fmt: skip
    assert code == 1 and "--agreement 999999 is not one of" in err
    agreement: PsaAgreement = choices[0]
    code, out, _ = run(demo, capsys, "reconcile", "approve", company, product,
                       "--agreement", str(agreement.external_id), "--json")  # fmt: skip
    assert code == 0, out
    assert json.loads(out)["state"] == "pending"
    assert run(demo, capsys, "outbox", "push")[0] == 0
    added = [a for a in demo.world.agreement_additions(agreement.external_id)
             if a.quantity == float(line.vendor_quantity)]  # fmt: skip
    assert len(added) == 1


def test_lines_that_are_not_there_are_named(mapped, capsys) -> None:
    demo, _ = mapped
    line = line_for(demo, RECONCILE)
    code, _, err = run(demo, capsys, "reconcile", "approve", "abc", "X")
    assert code == 2 and "company id, a number" in err
    code, _, err = run(demo, capsys, "reconcile", "approve", "424242", "X")
    assert code == 1 and "no reconciliation line has the PSA company id 424242" in err
    code, _, err = run(demo, capsys, "reconcile", "approve", str(line.company_external_id),
                       "NOT-A-PRODUCT")  # fmt: skip
    assert code == 1 and line.product_identifier in err and "NOT-A-PRODUCT" in err
    code, _, err = run(demo, capsys, "reconcile", "approve", str(line.company_external_id),
                       line.product_identifier, "--agreement", "1")  # fmt: skip
    assert code == 2 and "already on an agreement" in err
    assert Decision.select().count() == 0
