"""The `msp-tui` command: the TUI by default, headless subcommands for scripts and cron.

Exit codes: 0 done, 1 the work failed (the message says why), 2 a usage error.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from msp_tui import __version__
from msp_tui.cli_base import (
    CommandError,
    UsageError,
    parse_modules,
    parse_rate_limit,
    positive_int,
    say,
)
from msp_tui.output import OutputError, write_text
from msp_tui.untrusted import printable

if TYPE_CHECKING:
    from msp_tui.context import Context

PROG = "msp-tui"
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class Parser(argparse.ArgumentParser):
    """argparse that states a usage error on one line and exits 2."""

    def error(self, message: str) -> NoReturn:
        match = re.match(r"argument \w+: invalid choice: '([^']*)'", message)
        if match:
            message = f"unknown command '{match.group(1)}'"
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see '{self.prog} --help')\n")


class ExamplesFormatter(argparse.HelpFormatter):
    """Wraps descriptions as usual but keeps text with line breaks (an examples epilog) as is."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def _describe_context(ctx: Context) -> dict[str, object]:
    from msp_tui.store.db import latest_schema_version, schema_version

    return {
        "version": __version__,
        "database": ctx.location.display,
        "schema_version": schema_version(ctx.db),
        "latest_schema_version": latest_schema_version(),
        "secrets": ctx.secrets.description,
    }


def cmd_info(ctx: Context, args: argparse.Namespace) -> int:
    import json

    from msp_tui.secret_store import env_name
    from msp_tui.sources import credentials_needed
    from msp_tui.store.db import readable_by_others

    facts = _describe_context(ctx)
    credentials = [
        {"for": c.owner, "secret": c.name, "source": ctx.secrets.source(c.scope, c.name),
         "variable": env_name(c.scope, c.name), "fix": c.fix}
        for c in credentials_needed()
    ]  # fmt: skip
    if args.json:
        print(json.dumps({**facts, "credentials": credentials}, indent=2))
    else:
        width = max(map(len, facts))
        for key, value in facts.items():
            print(f"{key.replace('_', ' '):<{width}}  {value}")
        if credentials:
            print("credentials on this host:")
        for c in credentials:
            where = c["source"] or f"MISSING: {c['fix']}, or set {c['variable']}"
            print(f"  {c['for']} {c['secret'].replace('_', ' ')}: {where}")
    mode = readable_by_others(ctx.location)
    if mode is not None:
        print(f"{PROG}: warning: the store is readable by other users (mode {mode:04o});"
              f" chmod 600 {ctx.location.display}", file=sys.stderr)  # fmt: skip
    return EXIT_OK


def cmd_export_usage(ctx: Context, args: argparse.Namespace) -> int:
    from msp_tui.exports import USAGE_HEADER, latest_usage, render

    write_text(args.out, render(latest_usage(), USAGE_HEADER, args.format, raw=args.raw))
    return EXIT_OK


def cmd_export_table(ctx: Context, args: argparse.Namespace) -> int:
    from msp_tui import exports

    if args.what == "reconciliation":
        rows = exports.reconciliation_rows(with_sources=args.format == "json")
        header = exports.RECONCILIATION_HEADER
    elif args.what == "mappings":
        rows, header = exports.mapping_rows(), exports.MAPPINGS_HEADER
    else:
        rows, header = exports.audit_rows(), exports.AUDIT_HEADER
    write_text(args.out, exports.render(rows, header, args.format, raw=args.raw))
    if args.out is not None and str(args.out) != "-":
        say(f"{len(rows)} {args.what} rows written to {args.out}", file=sys.stderr)
    return EXIT_OK


def cmd_match(ctx: Context | None, args: argparse.Namespace) -> int:
    import json

    from msp_tui.matching import csvio
    from msp_tui.matching.engine import match_accounts

    try:
        vendors = csvio.read_parties(args.vendor)
        psa = csvio.read_parties(args.psa)
        prior = csvio.read_prior(args.mapped) if args.mapped else []
    except csvio.InputError as exc:
        raise UsageError(f"match: {exc}") from None
    decisions = match_accounts(vendors, psa, prior)
    if args.json:
        text = (
            json.dumps(
                [
                    {
                        "vendor_id": d.vendor_id,
                        "psa_id": d.psa_id,
                        "decision": d.decision,
                        "score": d.score,
                        "reason": d.reason,
                        "suggestions": [
                            {"psa_id": s.psa_id, "score": s.score, "reason": s.reason}
                            for s in d.suggestions
                        ],
                    }
                    for d in decisions
                ],
                indent=1,
            )
            + "\n"
        )
    else:
        text = csvio.format_decisions(decisions, raw=args.raw)
    write_text(args.out, text)
    if args.out is not None and str(args.out) != "-":
        counts = {k: sum(d.decision == k for d in decisions) for k in ("auto", "suggested", "none")}
        print(
            f"{len(decisions)} vendor accounts: {counts['auto']} auto, {counts['suggested']}"
            f" suggested, {counts['none']} none -> {args.out}",
            file=sys.stderr,
        )
    return EXIT_OK


def add_version(parser: Parser) -> Parser:
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    return parser


def build_parser() -> Parser:
    """The parser of every command, light to build (`--help` is no more than this): a command's
    handler is a function here or in cli_psa, cli_reconcile or cli_schedule, which import their
    work inside it, or the name of a function in msp_tui.commands, imported only to run it (see
    _handler)."""
    import textwrap

    from msp_tui.cli_psa import add_psa_command
    from msp_tui.cli_reconcile import add_reconcile_command
    from msp_tui.cli_schedule import add_schedule_command

    # --db is accepted before or after the command: `msp-tui --db X sync` and `msp-tui sync --db X`.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--db",
        metavar="PATH|URL",
        default=argparse.SUPPRESS,
        help="database file or URL (sqlite:///PATH, postgresql://...);"
        " default: MSP_TUI_DB, else msp-tui.db in the user data dir",
    )
    common.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
        help="log HTTP calls and more to stderr too (always logged to the log file)",
    )  # fmt: skip
    parser = Parser(
        prog=PROG,
        parents=[common],
        description=(
            "Reconcile what vendors count (SpamTitan, Mailprotector) against what the PSA"
            " (ConnectWise Manage, Autotask or HaloPSA) bills. With no command, opens the"
            " terminal UI."
        ),
        epilog=(
            "Environment: MSP_TUI_DB (database path or URL, like --db),"
            " MSP_TUI_SECRETS=keyring|file (where API keys are kept),"
            " MSP_TUI_SECRET_<SCOPE>_<NAME> (one credential, for services and second hosts;"
            " 'msp-tui info' names each)."
        ),
    )
    add_version(parser)
    parser.add_argument(
        "--serve-port",
        type=int,
        default=int(os.environ.get("MSP_TUI_SERVE_PORT", "8787")),
        metavar="PORT",
        help="with a push integration, the TUI serves the Vendor API on this port unless"
        " 'msp-tui serve' already does (default: MSP_TUI_SERVE_PORT, else 8787)",
    )

    subcommands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")

    def add_command(name: str, summary: str, description: str) -> argparse.ArgumentParser:
        return subcommands.add_parser(name, help=summary, description=description, parents=[common])

    info = add_command(
        "info",
        "show where the database and secrets are, and the schema version",
        "Show the database location, schema version and where secrets are kept.",
    )
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(handler=cmd_info)

    match = add_command(
        "match",
        "match vendor accounts to PSA companies from two CSV files",
        "Decide for each vendor account which PSA company it is: 'auto' (same name after"
        " normalising legal forms, case and punctuation; the same domain; one name inside the"
        " other when no other company or account could be meant; or a near name that is"
        " safe), 'suggested' (the best candidate, to confirm) or 'none'. Inputs are CSV with a"
        " header including id,name (a domain or website column is used when present). Output"
        " is CSV: vendor_id,psa_id,decision,score,reason (why: exact name, same domain,"
        " mapped before, leading part ('Cisco' for 'Cisco Systems, Inc.'), starts with company"
        " name ('Goldman Sachs Group Inc' for 'Goldman Sachs'), name in domain ('amitydubai.ae'"
        " for 'Amity University Dubai'), near name; for a suggestion, why it is not mapped).",
    )
    match.add_argument(
        "--vendor",
        type=Path,
        required=True,
        metavar="V.csv",
        help="vendor accounts: id,name[,domain]",
    )
    match.add_argument(
        "--psa", type=Path, required=True, metavar="P.csv", help="PSA companies: id,name[,website]"
    )
    match.add_argument(
        "--out", type=Path, metavar="OUT.csv", help="where to write (default: stdout)"
    )
    match.add_argument(
        "--raw", action="store_true",
        help="ids exactly as read: no ' before one that starts with = + - @, control"
        " characters not escaped",
    )  # fmt: skip
    match.add_argument(
        "--mapped",
        type=Path,
        metavar="M.csv",
        help="name,psa_id of accounts already mapped for other integrations",
    )
    match.add_argument(
        "--json",
        action="store_true",
        help="print JSON with reasons and the top 3 suggestions instead of CSV",
    )
    match.set_defaults(handler=cmd_match, needs_store=False)

    add_psa_command(add_command, common)

    integrations = add_command(
        "integrations", "add and list vendor integrations", "Add and list vendor integrations."
    )
    actions = integrations.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="add a vendor integration", parents=[common],
                             description="Add a vendor integration.")  # fmt: skip
    vendors = add.add_subparsers(dest="vendor", metavar="VENDOR", required=True)
    st = vendors.add_parser(
        "spamtitan", help="SpamTitan (pulled: URL and API key)", parents=[common],
        description="Add a SpamTitan integration after checking the key with a real call. The"
        " API key is read from the environment variable named by --api-key-env, or from a"
        " hidden prompt.",
    )  # fmt: skip
    st.add_argument("--name", help="a name for it (default: spamtitan)")
    st.add_argument("--url", required=True, help="https://HOST[/restapi]")
    st.add_argument("--api-key-env", metavar="VAR", help="environment variable with the API key")
    st.add_argument(
        "--modules",
        type=parse_modules,
        default="billing",
        help="billing,alerts (default: billing)",
    )
    st.add_argument("--no-check", action="store_true", help="save without calling SpamTitan")
    st.set_defaults(handler="cmd_integrations_add_spamtitan")
    mp = vendors.add_parser(
        "mailprotector", help="Mailprotector (pushes to our Vendor API)", parents=[common],
        description="Add a Mailprotector integration: prints a partner key, once, to paste into"
        " the Mailprotector Console (Integrations > Gradient MSP), and the base URL of the"
        " Vendor API it will push to (run 'msp-tui serve' to answer).",
    )  # fmt: skip
    mp.add_argument("--name", help="a name for it (default: mailprotector)")
    mp.add_argument("--modules", type=parse_modules, default="billing",
                    help="billing,alerts (default: billing)")  # fmt: skip
    mp.add_argument("--base-url", metavar="URL",
                    help="where vendors reach 'msp-tui serve' (default: MSP_TUI_PUBLIC_URL,"
                    " else http://127.0.0.1:8787)")  # fmt: skip
    mp.add_argument("--json", action="store_true", help='print {"name", "partner_key", "base_url"}')
    mp.set_defaults(handler="cmd_integrations_add_mailprotector")
    rotate = actions.add_parser(
        "rotate-key", help="replace a push integration's partner key", parents=[common],
        description="Make a new partner key; the old one stops working at once. Accounts and"
        " mappings are kept.",
    )  # fmt: skip
    rotate.add_argument("name", metavar="NAME")
    rotate.add_argument("--json", action="store_true")
    rotate.set_defaults(handler="cmd_integrations_rotate_key")
    disconnect = actions.add_parser(
        "disconnect", help="remove an integration and its vendor accounts", parents=[common],
        description="Remove an integration with its vendor accounts, counts and mappings,"
        " after a confirmation.",
    )  # fmt: skip
    disconnect.add_argument("name", metavar="NAME")
    disconnect.add_argument("--yes", action="store_true", help="do not ask")
    disconnect.set_defaults(handler="cmd_integrations_disconnect")
    rounding = actions.add_parser(
        "rounding", help="how a vendor's fractional counts become whole units", parents=[common],
        description="A PSA that bills whole units (Autotask) gets whole vendor quantities: each"
        " integration's count is rounded up (the default), down, or to the nearest unit."
        " Reconciliation shows it on the line: \"12.4 -> 13, rounded up\".",
    )  # fmt: skip
    rounding.add_argument("name", metavar="NAME")
    rounding.add_argument("policy", choices=["up", "down", "nearest"])
    rounding.set_defaults(handler="cmd_integrations_rounding")
    listing = actions.add_parser(
        "list",
        help="list integrations",
        parents=[common],
        description="List integrations with status and counts.",
    )
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler="cmd_integrations_list")

    sync = add_command(
        "sync", "sync the PSA and pull integrations",
        "Read the PSA and pulled vendors and store what they say, one transaction per source"
        " (a failed source keeps its previous data). Exit 0 ok, 1 when a sync failed.",
    )  # fmt: skip
    sync.add_argument("name", nargs="?", metavar="NAME", help="one integration, or 'psa'")
    sync.add_argument("--all", action="store_true", help="every source (the default)")
    sync.add_argument(
        "--full",
        action="store_true",
        help="read everything (quick reads usage of mapped accounts only)",
    )
    sync.add_argument("--json", action="store_true", help="print a JSON summary per source")
    sync.set_defaults(handler="cmd_sync")

    add_reconcile_command(add_command, common)
    add_schedule_command(add_command, common)

    outbox = add_command(
        "outbox", "decisions waiting to be written to the PSA",
        "Approve, adjust and dismiss are decided in the TUI and stored first; the outbox writes"
        " them to the PSA. The TUI does this in the background; these commands do it from a"
        " script or cron, safely beside a running TUI: a line is re-read first and changed only"
        " if it still holds what the operator saw, so nothing is written twice or overwritten.",
    )  # fmt: skip
    outbox_actions = outbox.add_subparsers(dest="outbox_action", metavar="ACTION", required=True)
    outbox_list = outbox_actions.add_parser(
        "list", help="decisions pending, failed or in conflict", parents=[common],
        description="List this store's decisions that are pending, failed or in conflict"
        " (--all: every decision).",
    )  # fmt: skip
    outbox_list.add_argument("--all", action="store_true", help="every decision, pushed too")
    outbox_list.add_argument("--json", action="store_true", help="print JSON")
    outbox_list.set_defaults(handler="cmd_outbox_list")
    outbox_push = outbox_actions.add_parser(
        "push", help="write pending and failed decisions to the PSA", parents=[common],
        description="Write every pending decision, and retry failed ones. Exit 0 when all were"
        " written, 1 when one failed or was a conflict (the message says which).",
    )  # fmt: skip
    outbox_push.add_argument("--json", action="store_true", help="print JSON")
    outbox_push.set_defaults(handler="cmd_outbox_push")

    alerts = add_command(
        "alerts", "vendor alerts and the PSA tickets made from them",
        "Alerts pushed by vendors become tickets on the PSA board chosen for them, made by"
        " 'msp-tui serve' (or the TUI) as they arrive. These commands show them and try failed"
        " ones again.",
    )  # fmt: skip
    alert_actions = alerts.add_subparsers(dest="alerts_action", metavar="ACTION", required=True)
    alerts_list = alert_actions.add_parser(
        "list", help="alerts, newest first, with their state", parents=[common],
        description="List alerts, newest first: state (queued, created, failed), ticket or"
        " the reason it failed.",
    )  # fmt: skip
    alerts_list.add_argument("--state", choices=["queued", "created", "failed"],
                             help="only alerts in this state")  # fmt: skip
    alerts_list.add_argument("--json", action="store_true", help="print JSON")
    alerts_list.set_defaults(handler="cmd_alerts_list")
    alerts_retry = alert_actions.add_parser(
        "retry", help="make tickets of queued and failed alerts now", parents=[common],
        description="Try failed alerts again now, without waiting for their backoff, together"
        " with any queued ones. Exit 1 when one still failed (the reason is printed).",
    )  # fmt: skip
    alerts_retry.add_argument("--json", action="store_true", help="print JSON")
    alerts_retry.set_defaults(handler="cmd_alerts_retry")

    demo = add_command(
        "demo",
        "try the app on built-in simulators (nothing real is touched)",
        "Start the terminal UI against built-in SpamTitan, Mailprotector and PSA (ConnectWise,"
        " Autotask or HaloPSA) simulators on 127.0.0.1, with a throwaway database that is"
        " deleted on exit.",
    )
    demo.add_argument("--seed", type=int, default=7, help="the simulated world (default: 7)")
    demo.add_argument(
        "--psa",
        choices=["connectwise", "autotask", "halopsa"],
        default="connectwise",
        help="the PSA to simulate (default: connectwise)",
    )
    demo.set_defaults(handler=cmd_demo, needs_store=False)

    serve = add_command(
        "serve", "run the Vendor API that push vendors call",
        "Serve the Gradient-compatible Vendor API (Mailprotector and other push vendors call"
        " it) until Ctrl-C. Pushed data lands in the same database. Beside it, vendor alerts"
        " become PSA tickets on the board chosen for them (failed ones are retried with"
        " backoff; see 'msp-tui alerts list'), and the scheduled sync runs when it is due"
        " (see 'msp-tui schedule').",
    )  # fmt: skip
    serve.add_argument("--host", default="127.0.0.1", help="default: %(default)s")
    serve.add_argument(
        "--port", type=int, default=8787, help="default: %(default)s (0: any free port)"
    )
    serve.add_argument(
        "--rate-limit",
        type=parse_rate_limit,
        default=100.0,
        metavar="N",
        help="requests per second per partner key, 0 for none (default: 100)",
    )
    serve.add_argument(
        "--max-connections",
        type=positive_int,
        default=1000,
        metavar="N",
        help="open connections at once; past it a client gets 503 (default: %(default)s, fewer"
        " if the process may not open that many files)",
    )
    serve.add_argument(
        "--forwarded-allow-ips",
        metavar="IPS",
        default="127.0.0.1",
        help="comma-separated addresses of reverse proxies whose X-Forwarded-For names the"
        " client (default: %(default)s; '*' trusts any, only behind a firewall)",
    )
    serve.set_defaults(handler="cmd_serve")

    mapping = add_command(
        "map", "map vendor accounts and services to PSA companies and products",
        "Map vendor accounts to PSA companies and vendor services to PSA products from a"
        " script, saved and audited as the TUI's mapping board does.",
    )  # fmt: skip
    map_what = mapping.add_subparsers(dest="map_what", metavar="WHAT", required=True)
    map_accounts = map_what.add_parser(
        "accounts", help="apply the automatic account matches", parents=[common],
        formatter_class=ExamplesFormatter,
        description="For integration NAME, map every unmapped, not excluded vendor account"
        " the matching engine is sure of: equal names, the same domain, a mapping made for"
        " another integration (method 'exact'); one name inside the other when nothing else"
        " could be meant, and near names one typo apart with a clear lead (method 'auto')."
        " Weaker matches stay suggestions, to map with 'map account'"
        " or in the TUI. Prints what was mapped and what is left.",
        epilog="examples:\n"
        "  msp-tui map accounts spamtitan --auto --dry-run   # what would be mapped\n"
        "  msp-tui map accounts spamtitan --auto --json",
    )  # fmt: skip
    map_accounts.add_argument("name", metavar="NAME", help="the integration")
    map_accounts.add_argument("--auto", action="store_true",
                              help="apply the engine's automatic decisions (required)")  # fmt: skip
    map_accounts.add_argument("--dry-run", action="store_true",
                              help="show what would be mapped; save nothing")  # fmt: skip
    map_accounts.add_argument(
        "--json", action="store_true",
        help="print the mappings made as JSON: vendor_account_id, vendor_account,"
        " psa_company_id, psa_company, method, score",
    )  # fmt: skip
    map_accounts.set_defaults(handler="cmd_map_accounts")
    map_account = map_what.add_parser(
        "account", help="map one vendor account to a PSA company", parents=[common],
        formatter_class=ExamplesFormatter,
        description="Map one vendor account (the vendor's id for it) to one PSA company (the"
        " PSA's company id). An account maps to one company: an earlier mapping is replaced,"
        " and an excluded account is included again.",
        epilog="example:\n  msp-tui map account spamtitan 42 19321",
    )  # fmt: skip
    map_account.add_argument("name", metavar="NAME", help="the integration")
    map_account.add_argument(
        "vendor_id", metavar="VENDOR_ACCOUNT_ID",
        help="the vendor's account id (vendor_account_id in exports)",
    )  # fmt: skip
    map_account.add_argument("psa_company_id", type=int, metavar="PSA_COMPANY_ID",
                             help="the PSA company id (ConnectWise company RecID)")  # fmt: skip
    map_account.set_defaults(handler="cmd_map_account")
    map_service = map_what.add_parser(
        "service", help="map a vendor service to a PSA product", parents=[common],
        formatter_class=ExamplesFormatter,
        description="Map a vendor service (the vendor's SKU id) to a PSA product by its"
        " identifier (ConnectWise's Product ID, Autotask's service name; case is ignored when"
        " there is no exact"
        " match). A service may map to several products and a product to several services;"
        " mapping a pair again changes nothing.",
        epilog="example:\n  msp-tui map service spamtitan total-licenses ST-TOTAL-LIC",
    )  # fmt: skip
    map_service.add_argument("name", metavar="NAME", help="the integration")
    map_service.add_argument(
        "service_id", metavar="VENDOR_SERVICE_ID",
        help="the vendor's service id (service_id in export usage)",
    )  # fmt: skip
    map_service.add_argument("product", metavar="PSA_PRODUCT_IDENTIFIER",
                             help="the PSA product's identifier")  # fmt: skip
    map_service.set_defaults(handler="cmd_map_service")

    export = add_command("export", "export data as CSV or JSON", "Export data as CSV or JSON.")
    what = export.add_subparsers(dest="what", metavar="WHAT", required=True)
    usage = what.add_parser(
        "usage",
        help="the latest usage count per account and service",
        parents=[common],
        description="The latest usage counts.",
    )
    usage.add_argument("--format", choices=["csv", "json"], default="csv")
    usage.add_argument("--out", "--output", dest="out", type=Path, metavar="FILE",
                       help="default: stdout")  # fmt: skip
    usage.add_argument("--raw", action="store_true",
                       help="CSV cells exactly as stored: no ' before a cell that starts with"
                       " = + - @ (which a spreadsheet would run as a formula), control"
                       " characters not escaped")  # fmt: skip
    usage.set_defaults(handler=cmd_export_usage)
    tables = {
        "reconciliation": (
            "vendor counts beside PSA quantities, per company and product",
            "company_id,company_name,product_identifier,vendor_quantity,psa_quantity,status,impact",
            "One row per reconciliation line. company_id is the PSA's id, empty for an unmapped"
            " vendor account; an empty quantity means none; status is new_revenue, reconcile,"
            " no_change, no_vendor_data, unmapped or stale; impact is the change times the unit"
            " price. JSON adds where each vendor number came from (sources).",
        ),
        "mappings": (
            "every account and service mapping",
            "kind,integration,vendor_id,vendor_name,psa_id,psa_name,method,score,operator,"
            "created_at",
            "One row per mapping. kind is account or service; psa_id is the company's id or the"
            " product's identifier.",
        ),
        "audit": (
            "the audit trail, oldest first",
            "at,operator,action,subject,before,after,detail",
            "Every audited change, oldest first; at is UTC; before and after are JSON text in CSV.",
        ),
    }
    for name, (summary, header, text) in tables.items():
        description = f"CSV header:\n  {header}\n\n" + textwrap.fill(text, 78)
        table = what.add_parser(
            name, help=summary, parents=[common], description=description,
            formatter_class=ExamplesFormatter,
            epilog=f"examples:\n  msp-tui export {name} > {name}.csv\n"
            f"  msp-tui export {name} --format json --output {name}.json",
        )  # fmt: skip
        table.add_argument("--format", choices=["csv", "json"], default="csv",
                           help="default: csv")  # fmt: skip
        table.add_argument("-o", "--output", "--out", dest="out", type=Path, metavar="FILE",
                           help="write FILE whole (a temp file renamed into place; a FIFO or"
                           " device is written through); default: stdout")  # fmt: skip
        table.add_argument("--raw", action="store_true",
                           help="CSV cells exactly as stored: no ' before a cell that starts with"
                           " = + - @ (which a spreadsheet would run as a formula), control"
                           " characters not escaped")  # fmt: skip
        table.set_defaults(handler=cmd_export_table)
    return parser


def cmd_demo(ctx: Context | None, args: argparse.Namespace) -> int:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        print(f"{PROG} demo: the demo is the terminal UI and needs a terminal", file=sys.stderr)
        return EXIT_USAGE
    from msp_tui.app import MspTuiApp
    from msp_tui.demo import open_demo
    from msp_tui.logs import setup_logging

    setup_logging(getattr(args, "verbose", False))
    # Home comes up at once; the simulators start behind it and the app syncs the PSA.
    demo, demo_ctx = open_demo(seed=args.seed, psa=args.psa)
    try:
        MspTuiApp(demo_ctx, serve_port=0, demo=demo).run()
    finally:
        demo_ctx.close()
        demo.stop()
    return EXIT_OK


def run_tui(ctx: Context, serve_port: int) -> int:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        print(
            f"{PROG}: the terminal UI needs a terminal; for scripts use a subcommand"
            f" (see '{PROG} --help')",
            file=sys.stderr,
        )
        return EXIT_USAGE
    from msp_tui.app import MspTuiApp

    MspTuiApp(ctx, serve_port=serve_port).run()
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    try:
        if list(sys.argv[1:] if argv is None else argv) == ["--version"]:
            # What scripts and monitors ask most: argparse's own version action answers, without
            # building every command's parser first (half the time of this command).
            add_version(Parser(prog=PROG, add_help=False)).parse_args(["--version"])
        args = build_parser().parse_args(argv)  # --help into a closed pipe fails here too
        code = _run(args)
        sys.stdout.flush()  # here, not at exit: a full disk is a message, not a traceback
        return code
    except UsageError as exc:
        return _fail(exc, EXIT_USAGE)
    except _work_failures() as exc:
        return _fail(exc, EXIT_FAILED)
    except BrokenPipeError:  # `msp-tui outbox list | head`: the reader has had enough
        _stdout_to_devnull()
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
    except OSError as exc:  # standard output on a full disk, a vanished terminal
        _stdout_to_devnull()
        return _fail(f"cannot write the output: {exc.strerror or exc}", EXIT_FAILED)
    except Exception as exc:
        import logging

        from adapters.errors import redact
        from msp_tui.logs import log_path

        logging.getLogger("msp_tui").exception("unexpected error")
        return _fail(f"unexpected error ({type(exc).__name__}: {redact(str(exc))});"
                     f" the details are in {log_path()}", EXIT_FAILED)  # fmt: skip


def _work_failures() -> tuple[type[Exception], ...]:
    """The errors that mean the work failed (exit 1): a command's, the output's, the store's and
    the secret store's. Evaluated only when an exception reaches that clause of main(); the
    store's and the secret store's are looked up only if their module was imported (else it
    cannot have raised them), so that a light command never imports them for this."""
    failures: list[type[Exception]] = [CommandError, OutputError]
    for module, name in (("msp_tui.store.db", "StoreError"),
                         ("msp_tui.secret_store", "SecretStoreError")):  # fmt: skip
        loaded = sys.modules.get(module)
        if loaded is not None:
            failures.append(getattr(loaded, name))
    return tuple(failures)


def _handler(
    args: argparse.Namespace,
) -> Callable[[Context | None, argparse.Namespace], int] | None:
    """The function that runs the command. A name (a string) is a command in msp_tui.commands,
    imported only now: building the parser, `--help` and `--version` never import it."""
    handler = getattr(args, "handler", None)
    if isinstance(handler, str):
        from msp_tui import commands

        handler = getattr(commands, handler)
    return handler


def _run(args: argparse.Namespace) -> int:
    handler = _handler(args)
    if handler is not None and not getattr(args, "needs_store", True):
        return handler(None, args)
    from msp_tui.context import open_context
    from msp_tui.logs import setup_logging

    setup_logging(getattr(args, "verbose", False))
    ctx = open_context(getattr(args, "db", None))
    try:
        if handler is None:
            return run_tui(ctx, args.serve_port)
        return handler(ctx, args)
    finally:
        ctx.close()


def _fail(reason: object, code: int) -> int:
    from adapters.errors import redact

    with contextlib.suppress(OSError):
        print(f"{PROG}: {printable(redact(str(reason)))}", file=sys.stderr)
    return code


def _stdout_to_devnull() -> None:
    """After a broken pipe or a failed write, point stdout at /dev/null so that the flush at
    exit does not fail again (the recipe in Python's signal module docs)."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


if __name__ == "__main__":
    sys.exit(main())
