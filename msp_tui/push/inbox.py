"""What push vendors send, into the store: accounts, services, counts, alerts, their status.

Each call is one transaction. Counts for accounts or services nobody has mapped yet are kept,
so mapping them later shows the numbers at once.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from adapters.records import VendorAccountRecord, VendorServiceRecord
from msp_tui.store.db import writing
from msp_tui.store.models import (
    AccountMapping,
    Alert,
    Integration,
    UsageCount,
    VendorAccount,
    VendorService,
    database_proxy,
    utcnow,
)
from msp_tui.store.reconnect import unit_of_work

VENDOR_STATUSES = ("active", "inactive", "pending", "disabled", "error")
# How stale `integration.last_push_at` may get before a push refreshes it: writing the
# integration row on every count would serialise all pushes on one row for nothing.
LAST_PUSH_RESOLUTION = timedelta(seconds=1)


class UnknownRecord(LookupError):
    """A push names an account, service or message we do not know; the message says which."""


@unit_of_work
def mark_called(integration: Integration) -> None:
    """The first call of a vendor makes a new integration `pending`."""
    if integration.status == "not_connected":
        with writing():
            Integration.update(status="pending").where(
                (Integration.id == integration.id) & (Integration.status == "not_connected")
            ).execute()
        integration.status = "pending"


def _mark_delivered(integration: Integration, now: datetime) -> None:
    """A count or an alert: the first one makes the integration `active`; after that the
    vendor's own status (PATCH .../organization/status) stands."""
    first = integration.status in ("not_connected", "pending")
    last = integration.last_push_at
    if first or last is None or now - last > LAST_PUSH_RESOLUTION:
        status = "active" if first else integration.status
        Integration.update(status=status, last_push_at=now).where(
            Integration.id == integration.id
        ).execute()
        integration.status, integration.last_push_at = status, now


@unit_of_work
def set_status(integration: Integration, status: str) -> None:
    with writing():
        Integration.update(status=status).where(Integration.id == integration.id).execute()
    integration.status = status


@unit_of_work
def upsert_accounts(integration: Integration, accounts: list[VendorAccountRecord]) -> None:
    now = utcnow()
    with writing():
        for chunk in range(0, len(accounts), 200):
            rows = [
                {"integration": integration.id, "external_id": a.external_id, "name": a.name,
                 "description": a.description, "last_seen_at": now}
                for a in accounts[chunk : chunk + 200]
            ]  # fmt: skip
            VendorAccount.insert_many(rows).on_conflict(
                conflict_target=[VendorAccount.integration, VendorAccount.external_id],
                preserve=[
                    VendorAccount.name,
                    VendorAccount.description,
                    VendorAccount.last_seen_at,
                ],
            ).execute()


def account(integration: Integration, account_id: str) -> VendorAccount:
    found = VendorAccount.get_or_none(
        (VendorAccount.integration == integration) & (VendorAccount.external_id == account_id)
    )
    if found is None:
        raise UnknownRecord(f"Account with id {account_id} not found")
    return found


@unit_of_work
def update_account(
    integration: Integration, account_id: str, changes: VendorAccountRecord
) -> VendorAccount:
    with writing():
        found = account(integration, account_id)
        found.name = changes.name or found.name
        if changes.description is not None:
            found.description = changes.description
        found.last_seen_at = utcnow()
        found.save()
    return found


def list_accounts(
    integration: Integration, ids: list[str] | None = None, unmapped_only: bool = False
) -> list[VendorAccount]:
    query = VendorAccount.select().where(VendorAccount.integration == integration)
    if ids:
        query = query.where(VendorAccount.external_id.in_(ids))
    if unmapped_only:
        query = query.where(
            VendorAccount.id.not_in(AccountMapping.select(AccountMapping.vendor_account))
        )
    return list(query.order_by(VendorAccount.id))


@unit_of_work
def upsert_services(integration: Integration, services: list[VendorServiceRecord]) -> None:
    now = utcnow()
    with writing():
        rows = [
            {"integration": integration.id, "external_id": s.external_id, "name": s.name,
             "description": s.description, "category": s.category,
             "subcategory": s.subcategory, "last_seen_at": now}
            for s in services
        ]  # fmt: skip
        if rows:
            VendorService.insert_many(rows).on_conflict(
                conflict_target=[VendorService.integration, VendorService.external_id],
                preserve=[VendorService.name, VendorService.description, VendorService.category,
                          VendorService.subcategory, VendorService.last_seen_at],
            ).execute()  # fmt: skip


@unit_of_work
def create_service(integration: Integration, service: VendorServiceRecord) -> VendorService:
    """A SKU defined through POST /service: we give it its id, as Gradient does."""
    new_id = uuid.uuid4().hex[:24]
    upsert_services(integration, [VendorServiceRecord(new_id, service.name, service.description,
                                            service.category, service.subcategory)])  # fmt: skip
    return service_by_id(integration, new_id)


def service_by_id(integration: Integration, service_id: str) -> VendorService:
    found = VendorService.get_or_none(
        (VendorService.integration == integration) & (VendorService.external_id == service_id)
    )
    if found is None:
        raise UnknownRecord(f"Service with id {service_id} not found")
    return found


def services(integration: Integration) -> list[VendorService]:
    return list(
        VendorService.select()
        .where(VendorService.integration == integration)
        .order_by(VendorService.id)
    )


@unit_of_work
def update_service(
    integration: Integration, service_id: str, changes: dict[str, Any]
) -> VendorService:
    with writing():
        found = service_by_id(integration, service_id)
        for field in ("name", "description", "category", "subcategory"):
            if isinstance(changes.get(field), str):
                setattr(found, field, changes[field])
        found.last_seen_at = utcnow()
        found.save()
    return found


@unit_of_work
def record_count(
    integration: Integration, service_id: str, account_id: str, quantity: Decimal
) -> None:
    """One Update Counts push, in one transaction. The hot path of the Vendor API, so in plain
    parameterised SQL: peewee's query building cost ~4x the database work here."""
    db = database_proxy.obj
    p = db.param  # the driver's placeholder; values are always passed as parameters
    now = utcnow()
    stamp = UsageCount.received_at.db_value(now)
    with writing(db):
        found = db.execute_sql(
            f"SELECT (SELECT id FROM vendor_service WHERE integration_id = {p}"  # noqa: S608
            f" AND external_id = {p}), (SELECT id FROM vendor_account"
            f" WHERE integration_id = {p} AND external_id = {p})",
            (integration.id, service_id, integration.id, account_id),
        ).fetchone()
        if found[0] is None:
            raise UnknownRecord(f"Service with id {service_id} not found")
        if found[1] is None:
            raise UnknownRecord(f"Account with id {account_id} not found")
        db.execute_sql(
            "INSERT INTO usage_count (account_id, service_id, quantity, counted_at, received_at,"  # noqa: S608
            f" source) VALUES ({p}, {p}, {p}, {p}, {p}, 'push')",
            (found[1], found[0], UsageCount.quantity.db_value(quantity), stamp, stamp),
        )
        _mark_delivered(integration, now)


@unit_of_work
def queue_alert(integration: Integration, account_id: str, body: dict[str, Any]) -> Alert:
    """Queue an alert for the ticket worker; the same alertId again returns the first one."""
    now = utcnow()
    with writing():
        vendor_account = VendorAccount.get_or_none(
            (VendorAccount.integration == integration) & (VendorAccount.external_id == account_id)
        )
        if vendor_account is None:
            raise UnknownRecord(f"Account with id {account_id} not found")
        given = body.get("alertId")  # 0 is an id: only a missing one is made up
        alert_id = uuid.uuid4().hex if given is None or given == "" else str(given)
        message_id = str(uuid.uuid4())
        # Insert unless the alertId is there, then read: two servers given the same alert at
        # once both end with the one row (a read-then-insert made one of them fail on
        # PostgreSQL, where the other's insert was not yet visible).
        Alert.insert(
            integration=integration, account_external_id=account_id,
            vendor_account=vendor_account, alert_id=alert_id, message_id=message_id,
            title=str(body["title"])[:255], description=str(body.get("description") or ""),
            priority=int(body.get("priority") or 3), vendor_status=body.get("status"),
            due_at=body.get("dueDateTime"), service_external_id=body.get("serviceId"),
            created_at=now, updated_at=now,
        ).on_conflict_ignore().execute()  # fmt: skip
        alert = Alert.get((Alert.integration == integration) & (Alert.alert_id == alert_id))
        if alert.message_id == message_id:  # ours, not one queued before
            _mark_delivered(integration, now)
    return alert


def alert_by_message(integration: Integration, message_id: str) -> Alert:
    found = Alert.get_or_none((Alert.integration == integration) & (Alert.message_id == message_id))
    if found is None:
        raise UnknownRecord(f"Message with id {message_id} not found")
    return found
