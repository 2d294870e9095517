"""Vendor alerts into PSA tickets, once per alert, on the board the operator chose.

Push vendors queue alerts through the Vendor API (msp_tui.push.inbox.queue_alert; the same
alertId again is the same alert). `deliver_alerts` makes each queued alert a PSA ticket (through
the PSA contract): summary = title, description, company = the company the vendor account is
mapped to, board (Autotask: queue) = the integration's alert route, priority from the vendor's 1-4.

Once per alert, across retries and restarts: every ticket carries the alert's own reference
(ConnectWise's `externalXRef`; a line of an Autotask ticket's description), and an alert that was
tried before is first looked up by it, so a
ticket whose reply was lost (or whose worker was killed after the POST) is found, not opened
again. One worker per store runs at a time (`process_lock`).

An alert that cannot be made yet is `failed` with the reason: "account not mapped" and "no
board" are tried again every round at no cost and go through once the operator fixes them; a
PSA that is down or refuses is tried again with exponential backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from peewee import JOIN, fn

from adapters.errors import AdapterError, PermissionDenied
from msp_tui.connect import psa_connection
from msp_tui.secret_store import SecretStore
from msp_tui.sources import psa_adapter
from msp_tui.store.db import process_lock, writing
from msp_tui.store.models import (
    AccountMapping,
    Alert,
    AlertRoute,
    Integration,
    PsaCompany,
    VendorAccount,
    utcnow,
)

log = logging.getLogger("msp_tui.alerts")

NOT_MAPPED = "account not mapped"
NO_ROUTE = "no PSA board chosen for this integration's alerts (open it and press l)"
TICKET_PERMISSION = (
    ". The PSA's API member needs the Service Desk > Service Tickets: Add and Inquire permissions."
)
FIRST_RETRY_S = 30.0
MAX_RETRY_S = 30 * 60.0
MAX_ERRORS_KEPT = 10
# The vendor's priority (1 highest .. 4), as the PSA contract takes it: each adapter turns it into
# its PSA's own (ConnectWise's stock ids carry the same numbers, "Priority 1 - Emergency
# Response" .. "Priority 4"; Autotask's are mapped in adapters/autotask.py).
PRIORITY_IDS = {1: 1, 2: 2, 3: 3, 4: 4}
STATES = ("queued", "created", "failed")


@dataclass(frozen=True)
class AlertResult:
    alert_id: int  # our row id
    state: str
    ticket_id: int | None
    message: str
    news: bool = True  # False: still held for the same reason as last round


def external_ref(alert: Alert) -> str:
    """What the ticket carries in externalXRef: unique per alert, 44 characters."""
    return f"msp-tui:{alert.message_id}"


def retry_delay(attempts: int) -> timedelta:
    """30 s after the first failure, doubling, at most 30 minutes."""
    return timedelta(seconds=min(MAX_RETRY_S, FIRST_RETRY_S * 2 ** max(0, attempts - 1)))


def _due(now: datetime | None):
    now = now or utcnow()
    return Alert.select().where(
        Alert.state.in_(["queued", "failed"])
        & (Alert.next_attempt_at.is_null() | (Alert.next_attempt_at <= now))
    )


def due_alerts(now: datetime | None = None) -> list[Alert]:
    """Queued alerts, and failed ones whose next attempt is due (oldest first)."""
    return list(_due(now).order_by(Alert.id))


def alerts_due(now: datetime | None = None) -> bool:
    return _due(now).exists()


@dataclass(frozen=True)
class Target:
    id: int
    name: str


def _targets(alerts: list[Alert]) -> tuple[dict[int, Target], dict[int, Target]]:
    """The PSA company per vendor account, and the board per integration."""
    accounts = {a.vendor_account_id for a in alerts if a.vendor_account_id is not None}
    companies = {
        account: Target(company, name)
        for account, company, name in AccountMapping.select(
            AccountMapping.vendor_account, PsaCompany.external_id, PsaCompany.name
        )
        .join(PsaCompany)
        .where(AccountMapping.vendor_account.in_(list(accounts)))
        .tuples()
    }
    boards = {
        integration: Target(board, name)
        for integration, board, name in AlertRoute.select(
            AlertRoute.integration, AlertRoute.board_id, AlertRoute.board_name
        ).tuples()
    }
    return companies, boards


async def deliver_alerts(
    secrets: SecretStore,
    adapter_options: dict | None = None,
    *,
    now: datetime | None = None,
    progress: Callable[[AlertResult], None] | None = None,
) -> list[AlertResult]:
    """Make every due alert a ticket; returns what became of each. Does nothing (returns [])
    without a PSA connection, or while another worker holds the store's alert lock."""
    connection = psa_connection()
    if connection is None:
        return []
    with process_lock("alerts") as ours:
        if not ours:
            log.info("another msp-tui is delivering alerts; leaving them to it")
            return []
        now = now or utcnow()
        due = due_alerts(now)
        if not due:
            return []
        companies, boards = _targets(due)
        results: list[AlertResult] = []
        async with contextlib.AsyncExitStack() as stack:
            adapter = None  # opened at the first alert that needs the PSA
            for alert in due:
                company = companies.get(alert.vendor_account_id)
                board = boards.get(alert.integration_id)
                if company is None or board is None:
                    # No call to make: tried again each round, created once it is fixed.
                    result = _held(alert, NOT_MAPPED if company is None else NO_ROUTE)
                else:
                    adapter = adapter or await stack.enter_async_context(
                        psa_adapter(connection, secrets, **(adapter_options or {}))
                    )
                    result = await _deliver(adapter, alert, company, board, now)
                results.append(result)
                if progress:
                    progress(result)
    return results


async def _deliver(
    adapter, alert: Alert, company: Target, board: Target, now: datetime
) -> AlertResult:
    reference = external_ref(alert)
    tried_before = alert.attempts > 0
    with writing():  # counted before the call: a killed worker's attempt is remembered
        alert.attempts += 1
        Alert.update(attempts=alert.attempts, updated_at=now).where(Alert.id == alert.id).execute()
    try:
        ticket = await adapter.find_ticket(reference) if tried_before else None
        found = ticket is not None
        if ticket is None:
            ticket = await adapter.create_ticket(
                summary=alert.title, board_id=board.id, company_id=company.id,
                description=alert.description or alert.title,
                priority_id=PRIORITY_IDS.get(alert.priority, 3), external_ref=reference,
            )  # fmt: skip
    except AdapterError as exc:
        error = str(exc) + (TICKET_PERMISSION if isinstance(exc, PermissionDenied) else "")
        delay = retry_delay(alert.attempts)
        return _fail(alert, error, now + delay, f"{error}; next try in {_human(delay)}")
    with writing():
        Alert.update(state="created", ticket_id=ticket, ticket_company=company.name,
                     ticket_board=board.name, next_attempt_at=None, updated_at=utcnow()
                     ).where(Alert.id == alert.id).execute()  # fmt: skip
    message = f"ticket {ticket}" + (" (found: it was made before)" if found else "")
    return AlertResult(alert.id, "created", ticket, message)


def _held(alert: Alert, reason: str) -> AlertResult:
    if alert.state == "failed" and (alert.errors or [None])[-1] == reason:
        return AlertResult(alert.id, "failed", None, reason, news=False)
    return _fail(alert, reason, None, reason)


def _fail(alert: Alert, error: str, next_at: datetime | None, message: str) -> AlertResult:
    errors = [*(alert.errors or []), error][-MAX_ERRORS_KEPT:]
    with writing():
        Alert.update(state="failed", errors=errors, next_attempt_at=next_at, updated_at=utcnow()
                     ).where(Alert.id == alert.id).execute()  # fmt: skip
    return AlertResult(alert.id, "failed", None, message)


def _human(delay: timedelta) -> str:
    seconds = int(delay.total_seconds())
    return f"{seconds} s" if seconds < 120 else f"{seconds // 60} min"


def retry_now(alert_ids: list[int] | None = None) -> int:
    """Make failed alerts (or the ones given) due now; returns how many."""
    query = Alert.update(next_attempt_at=None, updated_at=utcnow()).where(Alert.state == "failed")
    if alert_ids is not None:
        query = query.where(Alert.id.in_(alert_ids))
    with writing():
        return query.execute()


# --- reading, for the screen, the Home card and the CLI ---------------------------------------


@dataclass(frozen=True)
class AlertRow:
    id: int
    integration: str
    account: str
    account_external_id: str
    alert_id: str
    title: str
    priority: int
    state: str
    ticket_id: int | None
    last_error: str | None
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime
    company: str | None = None  # the ticket's PSA company: where it went, or would go now
    board: str | None = None  # the ticket's board, likewise


def alert_rows(limit: int | None = None) -> list[AlertRow]:
    """Alerts, newest first."""
    query = (
        # The joined ids too: without them peewee sets alert.integration_id (and
        # vendor_account_id) to None, and every account showed as its bare vendor id.
        Alert.select(Alert, Integration.id, Integration.name, VendorAccount.id, VendorAccount.name)
        .join(Integration)
        .switch(Alert)
        .join(VendorAccount, JOIN.LEFT_OUTER)
        .order_by(Alert.id.desc())
    )
    if limit is not None:
        query = query.limit(limit)
    alerts = list(query)
    companies, boards = _targets(alerts)
    rows = []
    for a in alerts:
        account = a.vendor_account.name if a.vendor_account_id is not None else ""
        company, board = companies.get(a.vendor_account_id), boards.get(a.integration_id)
        rows.append(AlertRow(a.id, a.integration.name, account or a.account_external_id,
                             a.account_external_id, a.alert_id, a.title, a.priority, a.state,
                             a.ticket_id, (a.errors or [None])[-1], a.attempts,
                             a.next_attempt_at, a.created_at,
                             a.ticket_company or (company and company.name),
                             a.ticket_board or (board and board.name)))  # fmt: skip
    return rows


def alert_counts() -> dict[str, int]:
    """How many alerts are in each state."""
    counts = dict.fromkeys(STATES, 0)
    for state, n in Alert.select(Alert.state, fn.COUNT(Alert.id)).group_by(Alert.state).tuples():
        counts[state] = n
    return counts


async def alert_loop(secrets: SecretStore, every_s: float = 5.0) -> None:
    """Deliver due alerts every `every_s` seconds until cancelled (`msp-tui serve` runs it)."""
    while True:
        try:
            if alerts_due():
                for result in await deliver_alerts(secrets):
                    log.info("alert %s: %s (%s)", result.alert_id, result.state, result.message)
        except Exception:  # a bad round must not end the loop; the next one tries again
            log.exception("delivering alerts failed")
        await asyncio.sleep(every_s)
