"""`msp-tui reconcile`: the reconciliation lines and the operator's decisions, headless.

`list` prints the rows of `export reconciliation` with this period's decision on each;
`approve`, `adjust` and `dismiss` store a decision exactly as the TUI does (audited, operator =
login) for the line named by the PSA's company id and the product identifier. Nothing is
written to the PSA here: `msp-tui outbox push` (or a running TUI) does that, once.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from msp_tui.cli_base import CommandError, UsageError, say
from msp_tui.statuses import STATUS_TITLES

if TYPE_CHECKING:
    from datetime import date
    from decimal import Decimal

    from msp_tui.context import Context

EXAMPLES = """examples:
  msp-tui reconcile list --status reconcile --status new_revenue
  msp-tui reconcile approve 435 ST-TOTAL-LIC
  msp-tui reconcile adjust 443 ST-TOTAL-LIC --quantity 30 --effective 2026-12-01
  msp-tui reconcile approve 369 ST-TOTAL-LIC --agreement 1204     # new revenue
  msp-tui reconcile dismiss 438 ST-TOTAL-LIC
  msp-tui outbox push                                   # writes the decisions to the PSA
"""


def add_reconcile_command(add_command, common: argparse.ArgumentParser) -> None:
    from msp_tui.cli import ExamplesFormatter

    reconcile = add_command(
        "reconcile", "list reconciliation lines; approve, adjust or dismiss them",
        "The reconciliation lines, and the decisions the TUI makes, for scripts. A decision is"
        " stored and audited here; 'msp-tui outbox push' (or a running TUI) writes it to the"
        " PSA, once, after checking the PSA still holds what the line showed.",
    )  # fmt: skip
    reconcile.formatter_class = ExamplesFormatter
    reconcile.epilog = EXAMPLES
    actions = reconcile.add_subparsers(dest="reconcile_action", metavar="ACTION", required=True)
    listing = actions.add_parser(
        "list", help="the lines, with this period's decision on each", parents=[common],
        description="The rows of 'msp-tui export reconciliation', with the decision made on"
        " each this period (action and state, empty when none).",
    )  # fmt: skip
    listing.add_argument("--status", action="append", choices=list(STATUS_TITLES),
                         metavar="STATUS", help="only lines in this status (repeatable): "
                         + ", ".join(STATUS_TITLES))  # fmt: skip
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=cmd_reconcile_list)
    helps = {
        "approve": "the PSA takes the vendor's quantity",
        "adjust": "the PSA takes the quantity you give (--quantity)",
        "dismiss": "leave the line as it is this period",
    }
    for action, summary in helps.items():
        parser = actions.add_parser(
            action, help=summary, parents=[common], formatter_class=ExamplesFormatter,
            description=f"Decide one line: {summary}. The line is named as 'msp-tui reconcile"
            " list' and 'export reconciliation' print it.", epilog=EXAMPLES,
        )  # fmt: skip
        parser.add_argument("company_id", metavar="COMPANY_ID", help="the PSA's company id")
        parser.add_argument("product", metavar="PRODUCT", help="the product identifier")
        if action == "adjust":
            parser.add_argument("--quantity", required=True, type=quantity_value, metavar="N",
                                help="the quantity the PSA should bill")  # fmt: skip
        if action != "dismiss":
            parser.add_argument("--effective", type=effective_date, metavar="YYYY-MM-DD",
                                help="when the change takes effect (default: today)")  # fmt: skip
            parser.add_argument(
                "--agreement", type=int, metavar="ID",
                help="new revenue: the PSA agreement id that gets the new line (needed when"
                " the company has more than one live agreement)",
            )  # fmt: skip
        parser.add_argument("--json", action="store_true", help="print the decision as JSON")
        parser.set_defaults(handler=cmd_reconcile_decide, decision_action=action)


def quantity_value(text: str) -> Decimal:
    from decimal import Decimal, InvalidOperation

    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value.is_finite() or value < 0 or value >= Decimal(10) ** 9:
        raise argparse.ArgumentTypeError(f"not a quantity (0 up to 999,999,999): {text!r}")
    return value


def effective_date(text: str) -> date:
    from datetime import date

    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _lines():
    from msp_tui.reconcile import reconciliation_lines, with_decisions
    from msp_tui.writeback import current_period

    return with_decisions(reconciliation_lines(), current_period())


def _decision_cell(line) -> str | None:
    d = line.decision
    return None if d is None else f"{d.action} {d.state}"


def cmd_reconcile_list(ctx: Context, args: argparse.Namespace) -> int:
    from msp_tui.exports import json_default, reconciliation_rows

    found = _lines()  # read once: the rows and their decisions come from the same lines
    lines = {(line.company_external_id, line.product_identifier): line for line in found}
    rows = reconciliation_rows(with_sources=args.json, lines=found)
    if args.status:
        rows = [r for r in rows if r["status"] in args.status]
    for row in rows:
        line = lines.get((row["company_id"], row["product_identifier"]))
        row["decision"] = _decision_cell(line) if line and row["company_id"] else None
    if args.json:
        print(json.dumps(rows, indent=2, default=json_default))
        return 0
    if not rows:
        say("no reconciliation lines" + (" in that status" if args.status else
                                         ": sync the vendors and the PSA, then map"))  # fmt: skip
    for r in rows:
        company = f"{r['company_id'] or '-'} {r['company_name']}"
        quantities = f"{_plain(r['vendor_quantity'])} vs {_plain(r['psa_quantity'])}"
        decided = f"  [{r['decision']}]" if r["decision"] else ""
        say(f"{r['status']:<14} {company} / {r['product_identifier']}: {quantities}"
            f" (impact {r['impact']:+}){decided}")  # fmt: skip
    return 0


def _plain(value: Any) -> str:
    return "-" if value is None else format(value, "f")


def find_line(company_id: str, product: str):
    """The mapped line of this PSA company id and product identifier, or a CommandError that
    says what there is instead."""
    try:
        wanted = int(company_id)
    except ValueError:
        raise UsageError(f"COMPANY_ID is the PSA's company id, a number: {company_id!r}"
                         " (see 'msp-tui reconcile list')") from None  # fmt: skip
    lines = [line for line in _lines() if line.company_external_id == wanted]
    if not lines:
        raise CommandError(f"no reconciliation line has the PSA company id {wanted}"
                           " (see 'msp-tui reconcile list')")  # fmt: skip
    for line in lines:
        if line.product_identifier == product:
            return line
    known = ", ".join(sorted(line.product_identifier for line in lines))
    raise CommandError(f"{lines[0].company_name} ({wanted}) has no line for {product!r};"
                       f" its lines: {known}")  # fmt: skip


def _agreement(line, given: int | None):
    from msp_tui.sources import psa_words
    from msp_tui.writeback import agreement_choices, needs_new_line

    if not needs_new_line(line):
        if given is not None:
            raise UsageError("--agreement is for new revenue; this line is already on an"
                             " agreement")  # fmt: skip
        return None
    choices = agreement_choices(line.company_id)
    if given is not None:
        for agreement in choices:
            if agreement.external_id == given:
                return agreement
    elif len(choices) == 1:
        return choices[0]
    words = psa_words()
    if not choices:
        raise CommandError(f"{line.company_name} has no live {words.agreement} to add the line"
                           " to: add one in the PSA, then 'msp-tui sync psa'")  # fmt: skip
    listed = "; ".join(f"{a.external_id} {a.name}" for a in choices)
    what = (
        f"--agreement {given} is not one of"
        if given is not None
        else f"name the {words.agreement} for the new line with --agreement, one of"
    )
    raise CommandError(f"new revenue for {line.company_name}: {what} its live"
                       f" {words.agreement}s: {listed}")  # fmt: skip


def cmd_reconcile_decide(ctx: Context, args: argparse.Namespace) -> int:
    from msp_tui.commands import decision_json
    from msp_tui.exports import json_default
    from msp_tui.operator import current_operator
    from msp_tui.writeback import DecisionError, decide

    action = args.decision_action
    line = find_line(args.company_id, args.product)
    waiting = line.decision
    if waiting is not None and waiting.state == "pending":
        raise CommandError(f"decision #{waiting.id} ({waiting.action}) on this line waits to be"
                           " written: run 'msp-tui outbox push' first")  # fmt: skip
    if action == "approve" and line.status == "no_change":
        raise CommandError("nothing to approve: the vendor and the PSA agree")
    options: dict[str, Any] = {}
    if action != "dismiss":
        options["effective_date"] = args.effective
        options["agreement"] = _agreement(line, args.agreement)
    if action == "adjust":
        options["quantity"] = args.quantity
    try:
        decision = decide(line, action, current_operator(), **options)
    except DecisionError as exc:
        raise CommandError(str(exc)) from exc
    if args.json:
        print(json.dumps(decision_json(decision), indent=2, default=json_default))
        return 0
    target = "" if decision.target_quantity is None else f" -> {_plain(decision.target_quantity)}"
    after = "" if action == "dismiss" else "; 'msp-tui outbox push' writes it to the PSA"
    say(f"#{decision.id} {action} {line.company_name} / {line.product_identifier}:"
        f" {_plain(line.psa_quantity)}{target} ({decision.state}){after}")  # fmt: skip
    return 0
