"""Headless commands that configure sources, sync them and act on what they said.

Imported by `msp_tui.cli` only to run one of them (the parser names them): what the parser
and the command modules share (the errors, `say`, argument types) is in `msp_tui.cli_base`;
the exports, which need none of the sync, are in `msp_tui.cli` itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

from adapters.errors import AdapterError, redact
from adapters.spamtitan import normalise_base_url
from msp_tui import connect
from msp_tui.cli_base import CommandError, UsageError, notice_secrets, read_secret, say
from msp_tui.context import Context
from msp_tui.overview import integration_summaries
from msp_tui.sources import psa_words
from msp_tui.store.db import writing
from msp_tui.store.models import (
    AccountMapping,
    Decision,
    Integration,
    PsaCompany,
    PsaProduct,
    ServiceMapping,
    VendorAccount,
    VendorService,
)
from msp_tui.sync import SyncEvent, SyncOutcome, SyncSource, sync_all, sync_sources


def cmd_integrations_add_spamtitan(ctx: Context, args: argparse.Namespace) -> int:
    name = args.name or "spamtitan"
    try:
        normalise_base_url(args.url)
    except ValueError as exc:
        raise UsageError(f"--url: {redact(str(exc))}") from None
    if Integration.get_or_none(Integration.name == name) is not None:
        raise UsageError(f"an integration named '{name}' exists; choose another --name")
    api_key = read_secret(args.api_key_env, "SpamTitan API key")
    groups = None
    if not args.no_check:
        try:
            groups = asyncio.run(connect.check_spamtitan(args.url, api_key))
        except AdapterError as exc:
            raise CommandError(f"not saved: {exc}") from None
    notice_secrets(ctx)
    connect.save_pull_integration(
        ctx.secrets, name, args.url, api_key, args.modules, checked=not args.no_check
    )
    seen = f"; it sees {groups} domain groups" if groups is not None else ""
    say(f"SpamTitan integration '{name}' added{seen}; next: msp-tui sync {name}")
    return 0


def cmd_integrations_list(ctx: Context, args: argparse.Namespace) -> int:
    from msp_tui.exports import utc_iso

    summaries = integration_summaries()
    if args.json:
        print(json.dumps([
            {"name": s.name, "vendor": s.vendor, "kind": s.kind, "status": s.health.key,
             "status_title": s.health.title, "status_detail": s.health.detail,
             "next": s.health.next_command, "vendor_status": s.status,
             "last_sync_at": s.last_sync_at.isoformat() if s.last_sync_at else None,
             "accounts": s.accounts, "services": s.services,
             "unmapped_accounts": s.unmapped_accounts,
             "last_run": None if s.last_run is None else {
                 "state": s.last_run.state, "started_at": utc_iso(s.last_run.started_at),
                 "error": s.last_run.error}}
            for s in summaries
        ], indent=2))  # fmt: skip
        return 0
    if not summaries:
        say("No integrations yet. Add one: msp-tui integrations add spamtitan --help")
        return 0
    say(f"{'NAME':<16} {'VENDOR':<13} {'STATUS':<26} {'LAST SYNC':<16} ACCOUNTS UNMAPPED")
    for s in summaries:
        last = s.last_sync_at.strftime("%Y-%m-%d %H:%M") if s.last_sync_at else "never"
        say(f"{s.name:<16} {s.vendor_title:<13} {s.health.title:<26} {last:<16}"
            f" {s.accounts:>8} {s.unmapped_accounts:>8}")  # fmt: skip
        if s.health.detail:
            say(f"  {s.health.detail}")
        if s.health.next_command:
            say(f"  next: {s.health.next_command}")
    return 0


def cmd_sync(ctx: Context, args: argparse.Namespace) -> int:
    if args.name and args.all:
        raise UsageError("give a NAME or --all, not both")
    sources = sync_sources([args.name] if args.name else None)
    if args.name and not sources:
        known = Integration.get_or_none(Integration.name == args.name)
        if known is not None:
            raise UsageError(f"'{args.name}' is a push integration: its vendor sends counts")
        raise UsageError(f"no integration or PSA connection named '{args.name}'")
    if not sources:
        raise UsageError("nothing to sync: add the PSA (msp-tui psa set) or an integration")
    mode = "full" if args.full else "quick"
    outcomes = asyncio.run(_sync(ctx, sources, mode, show_progress=not args.json))
    if args.json:
        print(json.dumps([o.as_json() for o in outcomes], indent=2))
    else:
        for o in outcomes:
            if o.ok:
                say(f"{o.source}: ok in {o.seconds:.1f} s ({sync_figures(o.counts)})")
    failed = [o for o in outcomes if not o.ok]
    for o in failed:
        say(f"msp-tui: sync of {o.source} failed: {o.error}", file=sys.stderr)
    return 1 if failed else 0


async def _sync(
    ctx: Context, sources: list[SyncSource], mode: str, show_progress: bool
) -> list[SyncOutcome]:
    bar = _ProgressBar() if show_progress and sys.stderr.isatty() else None
    report = bar.update if bar else (lambda _event: None)
    try:
        outcomes = await sync_all(ctx.secrets, sources, mode, report)
    finally:
        if bar:
            bar.close()
    return outcomes


class _ProgressBar:
    """One rich progress bar per source, on stderr."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            console=Console(stderr=True), transient=True,
        )  # fmt: skip
        self.tasks: dict[str, Any] = {}
        self.progress.start()

    def update(self, event: SyncEvent) -> None:
        task = self.tasks.get(event.source)
        if task is None:
            task = self.tasks[event.source] = self.progress.add_task(event.source, total=None)
        self.progress.update(
            task, description=f"{event.source}: {event.stage}", completed=event.done,
            total=event.total,
        )  # fmt: skip

    def close(self) -> None:
        self.progress.stop()


# --- push integrations -------------------------------------------------------------------------


def public_base_url(given: str | None) -> str:
    base = given or os.environ.get("MSP_TUI_PUBLIC_URL") or "http://127.0.0.1:8787"
    return base.rstrip("/")


def _show_partner_key(name: str, key: str, base_url: str, as_json: bool, rotated: bool) -> None:
    if as_json:
        print(json.dumps({"name": name, "partner_key": key, "base_url": base_url}))
        return
    what = "New partner key" if rotated else "Partner key"
    say(f"{what} for '{name}' (shown once, it cannot be shown again; copy it now):")
    say("")
    say(f"    {key}")
    say("")
    say(f"Vendor API base URL: {base_url}")
    say("Next steps in the Mailprotector Console:")
    say("  1. Integrations > Gradient MSP: paste the partner key and click Enable.")
    say("  2. Link the customers you bill, then click Update Counts.")
    say(f"  3. Keep the Vendor API reachable at {base_url}: run 'msp-tui serve' (or the TUI).")
    if rotated:
        say("The previous key stopped working just now.")


def sync_figures(counts: dict[str, int]) -> str:
    """ "298 companies, 640 lines, 25 requests (1,240 of 10,000 this hour)"."""
    shown = {k: v for k, v in counts.items() if k not in ("requests_this_hour", "hourly_limit")}
    text = ", ".join(f"{v:,} {k}" for k, v in shown.items())
    if "hourly_limit" in counts:
        text += (f" ({counts.get('requests_this_hour', 0):,} of {counts['hourly_limit']:,}"
                 " this hour)")  # fmt: skip
    return text


def cmd_integrations_rounding(ctx: Context, args: argparse.Namespace) -> int:
    integration = Integration.get_or_none(Integration.name == args.name)
    if integration is None:
        raise CommandError(f"no integration named {args.name!r}: see msp-tui integrations list")
    with writing():
        integration.config = {**integration.config, "rounding": args.policy}
        integration.save()
    say(f"{args.name}: counts are rounded {args.policy} where the PSA bills whole units")
    return 0


def cmd_integrations_add_mailprotector(ctx: Context, args: argparse.Namespace) -> int:
    name = args.name or "mailprotector"
    base_url = public_base_url(args.base_url)
    try:
        _, key = connect.create_push_integration(name, args.modules, base_url)
    except connect.ConnectError as exc:
        raise UsageError(f"{exc} (--name)") from None
    _show_partner_key(name, key, base_url, args.json, rotated=False)
    return 0


def _integration(name: str, error: type[Exception] = UsageError) -> Integration:
    found = Integration.get_or_none(Integration.name == name)
    if found is None:
        raise error(f"no integration named '{name}' (see msp-tui integrations list)")
    return found


def cmd_integrations_rotate_key(ctx: Context, args: argparse.Namespace) -> int:
    from msp_tui.push.keys import new_partner_key

    integration = _integration(args.name)
    if integration.kind != "push":
        raise UsageError(f"'{args.name}' is pulled with an API key: add it again to change the key")
    key = new_partner_key(integration)
    base_url = public_base_url(integration.config.get("base_url"))
    _show_partner_key(integration.name, key, base_url, args.json, rotated=True)
    return 0


def cmd_integrations_disconnect(ctx: Context, args: argparse.Namespace) -> int:
    integration = _integration(args.name)
    accounts = VendorAccount.select().where(VendorAccount.integration == integration).count()
    if not args.yes:
        if not sys.stdin.isatty():
            raise UsageError("disconnecting deletes data: confirm with --yes")
        answer = input(
            f"Disconnect '{integration.name}' and delete its {accounts} vendor accounts, their"
            " counts and mappings? Type the name to confirm: "
        )
        if answer.strip() != integration.name:
            raise CommandError("not disconnected")
    with writing(ctx.db):
        integration.delete_instance(recursive=False)  # the store cascades to its rows
    for secret in ("api_key",):
        ctx.secrets.delete(integration.name, secret)
    say(f"Disconnected '{integration.name}': {accounts} vendor accounts deleted.")
    return 0


def cmd_serve(ctx: Context, args: argparse.Namespace) -> int:
    from msp_tui.push.server import bind, serve_forever

    try:
        sock = bind(args.host, args.port)
    except OSError as exc:
        raise CommandError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    host, port = sock.getsockname()[:2]
    say(f"Vendor API listening on http://{host}:{port}/api/vendor-api"
          f" (database {ctx.location.display}); Ctrl-C stops", flush=True)  # fmt: skip
    from msp_tui.alerts import alert_loop
    from msp_tui.schedule import schedule_loop

    async def beside() -> None:
        # Beside the API: the worker that makes queued alerts PSA tickets (and retries them),
        # and the scheduled sync.
        await asyncio.gather(alert_loop(ctx.secrets), schedule_loop(ctx.secrets))

    serve_forever(sock, args.rate_limit or None, beside=beside,
                  forwarded_allow_ips=args.forwarded_allow_ips,
                  max_connections=args.max_connections)  # fmt: skip
    return 0


# --- mapping from scripts ----------------------------------------------------------------------


class _DryRun(Exception):
    """Raised inside the write transaction of a dry run so that nothing is kept."""


def cmd_map_accounts(ctx: Context, args: argparse.Namespace) -> int:
    from msp_tui.mapping import load_account_board
    from msp_tui.operator import current_operator

    if not args.auto:
        raise UsageError(
            "pass --auto to apply the automatic matches (add --dry-run to preview them), or map"
            f" one account with: msp-tui map account {args.name} VENDOR_ACCOUNT_ID PSA_COMPANY_ID"
        )
    integration = _integration(args.name, CommandError)
    if not PsaCompany.select().where(~PsaCompany.deleted).exists():
        raise CommandError("no PSA companies to map to yet: run msp-tui sync psa first")
    # One transaction: opening the board saves the exact matches, then the other automatic ones
    # (a name inside the other, a near name) are mapped; a dry run does all of it and rolls
    # back, so it shows exactly what a run would do.
    try:
        with writing(ctx.db):
            mapped_before = {
                vendor_id
                for (vendor_id,) in AccountMapping.select(AccountMapping.vendor_account)
                .join(VendorAccount)
                .where(VendorAccount.integration == integration)
                .tuples()
            }
            board = load_account_board(integration, current_operator())
            exact = [v.id for v in board.vendor if v.mapped and v.id not in mapped_before]
            near = [v.id for v in board.accept_near_autos()]
            counts = board.counts()
            made = _account_mappings(integration, exact + near)
            if args.dry_run:
                raise _DryRun
    except _DryRun:
        pass
    if args.json:
        print(json.dumps(made, indent=2))
        return 0
    verb = "Would map" if args.dry_run else "Mapped"
    for m in made:
        score = f" {m['score']:.1f}" if m["score"] is not None else ""
        say(f"{verb} {m['vendor_account']} ({m['vendor_account_id']}) -> {m['psa_company']}"
              f" (#{m['psa_company_id']}): {m['method']}{score}")  # fmt: skip
    say(
        f"{integration.name}: {len(made)} accounts"
        f" {'would be mapped' if args.dry_run else 'mapped now'} ({len(exact)} exact,"
        f" {len(near)} automatic); {counts.unmapped} still unmapped, {counts.suggested} of them"
        f" with suggestions to review (msp-tui map account {integration.name} ..., or the TUI)"
        + ("; dry run, nothing saved" if args.dry_run else "")
    )
    return 0


def _account_mappings(integration: Integration, vendor_ids: list[int]) -> list[dict[str, Any]]:
    """The mappings of these vendor accounts, in this order, as `map accounts --json` shows them."""
    found = {
        m.vendor_account_id: m
        for m in AccountMapping.select(AccountMapping, VendorAccount, PsaCompany)
        .join(VendorAccount)
        .switch(AccountMapping)
        .join(PsaCompany)
        .where(VendorAccount.integration == integration)
    }
    return [
        {
            "vendor_account_id": found[v].vendor_account.external_id,
            "vendor_account": found[v].vendor_account.name,
            "psa_company_id": found[v].psa_company.external_id,
            "psa_company": found[v].psa_company.name,
            "method": found[v].method,
            "score": found[v].score,
        }
        for v in vendor_ids
        if v in found
    ]


def _vendor_side_hint(integration: Integration) -> str:
    if integration.kind == "push":
        return "its accounts and services arrive when the vendor pushes them (msp-tui serve)"
    return f"run msp-tui sync {integration.name} to read them"


def _one_entry_board(integration: Integration, kind: Any, vendor: Any, psa: Any) -> Any:
    """A mapping board holding just one vendor row and one PSA row, so that a single mapping
    is saved and audited exactly as the TUI saves it."""
    from msp_tui.mapping import MappingBoard, PsaEntry, VendorEntry
    from msp_tui.operator import current_operator

    if kind == "accounts":
        psa_entry = PsaEntry(psa.id, psa.name, psa.identifier, psa.name.lower(), psa.website)
    else:
        psa_entry = PsaEntry(psa.id, psa.identifier, psa.description, psa.identifier.lower())
    vendor_entry = VendorEntry(vendor.id, vendor.name, vendor.external_id, vendor.name.lower())
    return MappingBoard(integration, kind, current_operator(), [psa_entry], [vendor_entry])


def cmd_map_account(ctx: Context, args: argparse.Namespace) -> int:
    integration = _integration(args.name, CommandError)
    account = VendorAccount.get_or_none(
        (VendorAccount.integration == integration) & (VendorAccount.external_id == args.vendor_id)
    )
    if account is None:
        raise CommandError(
            f"'{integration.name}' has no vendor account with id '{args.vendor_id}': the ids are"
            f" in msp-tui export usage and msp-tui export mappings (vendor_id); if it is new,"
            f" {_vendor_side_hint(integration)}"
        )
    companies = list(PsaCompany.select().where(PsaCompany.external_id == args.psa_company_id))
    live = [c for c in companies if not c.deleted]
    if not live:
        gone = " (it was deleted in the PSA)" if companies else ""
        raise CommandError(
            f"no PSA company with id {args.psa_company_id}{gone}: run msp-tui sync psa to read"
            f" the PSA's companies (the id is {psa_words().psa}'s own company id)"
        )
    if len(live) > 1:
        raise CommandError(f"{len(live)} PSA connections have a company {args.psa_company_id}")
    company = live[0]
    current = AccountMapping.get_or_none(AccountMapping.vendor_account == account)
    if current is not None and current.psa_company_id == company.id:
        say(f"{account.name} ({account.external_id}) is already mapped to {company.name}"
              f" (#{company.external_id}); nothing changed")  # fmt: skip
        return 0
    was = ""
    if current is not None:
        was = f", was {current.psa_company.name} (#{current.psa_company.external_id})"
    board = _one_entry_board(integration, "accounts", account, company)
    board.pair(account.id, company.id, "manual")
    included = "; it is no longer excluded" if account.excluded else ""
    say(f"Mapped {account.name} ({account.external_id}) -> {company.name}"
          f" (#{company.external_id}){was}{included}")  # fmt: skip
    return 0


def _find_product(identifier: str) -> PsaProduct:
    """A PSA product by its identifier: exactly, else ignoring case; active ones first."""
    from peewee import fn

    words = psa_words()
    found = list(PsaProduct.select().where(PsaProduct.identifier == identifier))
    if not found:
        found = list(
            PsaProduct.select().where(fn.LOWER(PsaProduct.identifier) == identifier.lower())
        )
    if not found:
        raise CommandError(
            f"no PSA product with the identifier '{identifier}' ({words.psa}'s {words.product_id}):"
            " check the spelling, or run msp-tui sync psa --full to read the catalog"
        )
    active = [p for p in found if not p.inactive]
    if not active:
        raise CommandError(
            f"the PSA product '{found[0].identifier}' is inactive: reactivate it in {words.psa}"
            " and run msp-tui sync psa --full, or choose another product"
        )
    if len(active) > 1:
        names = ", ".join(f"'{p.identifier}' (#{p.external_id})" for p in active)
        raise CommandError(
            f"'{identifier}' matches {len(active)} PSA products: {names}; give the identifier"
            f" exactly as {words.psa} spells it"
        )
    return active[0]


def cmd_map_service(ctx: Context, args: argparse.Namespace) -> int:
    integration = _integration(args.name, CommandError)
    service = VendorService.get_or_none(
        (VendorService.integration == integration) & (VendorService.external_id == args.service_id)
    )
    if service is None:
        known = ", ".join(
            s.external_id
            for s in VendorService.select()
            .where(VendorService.integration == integration)
            .order_by(VendorService.external_id)
            .limit(10)
        )
        raise CommandError(
            f"'{integration.name}' has no vendor service with id '{args.service_id}'"
            + (f" (it has: {known})" if known else "")
            + f"; if it is new, {_vendor_side_hint(integration)}"
        )
    product = _find_product(args.product)
    exists = ServiceMapping.get_or_none(
        (ServiceMapping.vendor_service == service) & (ServiceMapping.psa_product == product)
    )
    if exists is not None:
        say(f"{service.name} ({service.external_id}) is already mapped to {product.identifier};"
              " nothing changed")  # fmt: skip
        return 0
    board = _one_entry_board(integration, "services", service, product)
    board.pair(service.id, product.id, "manual")
    others = ServiceMapping.select().where(ServiceMapping.vendor_service == service).count() - 1
    also = f" (and {others} other product{'s' if others > 1 else ''})" if others else ""
    say(f"Mapped {service.name} ({service.external_id}) -> {product.identifier}{also}")
    return 0


# --- outbox ------------------------------------------------------------------------------------


def decision_json(d: Decision) -> dict[str, Any]:
    from msp_tui.exports import plain_quantity

    return {
        "id": d.id, "period": d.period, "company": d.psa_company.name,
        "company_id": d.psa_company.external_id, "product_identifier": d.psa_product.identifier,
        "action": d.action, "psa_quantity_seen": plain_quantity(d.psa_quantity_seen),
        "target_quantity": plain_quantity(d.target_quantity), "state": d.state,
        "conflict_quantity": plain_quantity(d.conflict_quantity), "error": d.last_error,
        "operator": d.operator, "attempts": d.attempts,
    }  # fmt: skip


def cmd_outbox_list(ctx: Context, args: argparse.Namespace) -> int:
    query = Decision.select().order_by(Decision.id)
    if not args.all:
        query = query.where(Decision.state.in_(["pending", "failed", "conflict"]))
    rows = [decision_json(d) for d in query]
    if args.json:
        from msp_tui.exports import json_default

        print(json.dumps(rows, indent=2, default=json_default))
        return 0
    if not rows:
        say("nothing waiting: every decision has been written")
    for r in rows:
        target = "" if r["target_quantity"] is None else f" -> {r['target_quantity']}"
        seen = "new line" if r["psa_quantity_seen"] is None else r["psa_quantity_seen"]
        why = f" ({r['error']})" if r["error"] else ""
        say(f"#{r['id']} {r['state']:<9} {r['action']:<8} {r['company']} /"
              f" {r['product_identifier']}: {seen}{target}{why}")  # fmt: skip
    return 0


def cmd_outbox_push(ctx: Context, args: argparse.Namespace) -> int:
    from msp_tui.operator import current_operator
    from msp_tui.writeback import DecisionError, push_pending

    try:
        results = asyncio.run(push_pending(ctx.secrets, current_operator()))
    except DecisionError as exc:
        raise CommandError(str(exc)) from exc
    if args.json:
        print(json.dumps([{"id": r.decision_id, "state": r.state, "message": r.message}
                          for r in results], indent=2))  # fmt: skip
    else:
        if not results:
            say("nothing to write")
        for r in results:
            say(f"#{r.decision_id} {r.state}: {r.message}")
    trouble = [r for r in results if r.state != "pushed"]
    for r in trouble:
        say(f"msp-tui: decision #{r.decision_id} {r.state}: {r.message}", file=sys.stderr)
    return 1 if trouble else 0


# --- alerts ------------------------------------------------------------------------------------


def cmd_alerts_list(ctx: Context, args: argparse.Namespace) -> int:
    from msp_tui.alerts import alert_rows
    from msp_tui.exports import utc_iso

    rows = [r for r in alert_rows() if args.state in (None, r.state)]
    if args.json:
        print(json.dumps([{
            "id": r.id, "integration": r.integration, "account": r.account,
            "account_id": r.account_external_id, "alert_id": r.alert_id, "title": r.title,
            "priority": r.priority, "state": r.state, "ticket_id": r.ticket_id,
            "error": r.last_error, "attempts": r.attempts,
            "next_attempt_at": utc_iso(r.next_attempt_at), "received_at": utc_iso(r.created_at),
        } for r in rows], indent=2))  # fmt: skip
        return 0
    if not rows:
        say("no alerts" + (f" {args.state}" if args.state else ""))
    for r in rows:
        outcome = f"ticket #{r.ticket_id}" if r.ticket_id else (r.last_error or "")
        say(f"{utc_iso(r.created_at)}  {r.state:<7}  {r.integration} / {r.account}: {r.title}"
              + (f"  ({outcome})" if outcome else ""))  # fmt: skip
    return 0


def cmd_alerts_retry(ctx: Context, args: argparse.Namespace) -> int:
    from msp_tui.alerts import alerts_due, deliver_alerts, retry_now

    if connect.psa_connection() is None:
        raise CommandError("connect the PSA first: msp-tui psa set connectwise --help")
    retry_now()
    waiting = alerts_due()
    results = asyncio.run(deliver_alerts(ctx.secrets))
    if args.json:
        print(json.dumps([{"id": r.alert_id, "state": r.state, "ticket_id": r.ticket_id,
                           "message": r.message} for r in results], indent=2))  # fmt: skip
    else:
        if not results:
            say("another msp-tui is making the tickets now" if waiting else "nothing to do")
        for r in results:
            say(f"alert {r.alert_id}: {r.state}: {r.message}")
    return 1 if any(r.state == "failed" for r in results) else 0
