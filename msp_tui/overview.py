"""What the home screen shows: each integration with its status and counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from peewee import JOIN, Case, fn

from msp_tui.health import ACTIVE, Health, IntegrationFacts, integration_health, psa_health
from msp_tui.store.models import (
    AccountMapping,
    Alert,
    AlertRoute,
    Integration,
    PsaAgreement,
    PsaAgreementLine,
    PsaCompany,
    PsaConnection,
    PsaProduct,
    ServiceMapping,
    SyncRun,
    UsageCount,
    VendorAccount,
    VendorService,
)
from msp_tui.store.runs import run_state

VENDOR_TITLES = {"spamtitan": "SpamTitan", "mailprotector": "Mailprotector"}
STATUS_TITLES = {
    "not_connected": "Not connected",
    "pending": "Pending",
    "active": "Active",
    "inactive": "Inactive",
    "disabled": "Disabled",
    "error": "Error",
}


@dataclass(frozen=True)
class LastRun:
    """The latest sync run of a source: ok, failed, running or interrupted."""

    state: str
    started_at: datetime
    error: str | None


def last_runs() -> dict[int, LastRun]:
    """The latest sync run of each pull integration, by integration id."""
    newest = (SyncRun.select(fn.MAX(SyncRun.id)).where(SyncRun.integration.is_null(False))
              .group_by(SyncRun.integration))  # fmt: skip
    return {
        run.integration_id: LastRun(run_state(run), run.started_at, run.error)
        for run in SyncRun.select().where(SyncRun.id.in_(newest))
    }


@dataclass(frozen=True)
class IntegrationSummary:
    name: str
    vendor: str
    kind: str
    status: str
    last_sync_at: datetime | None
    accounts: int
    services: int
    unmapped_accounts: int
    failed_alerts: int = 0
    unmapped_licences: float = 0.0  # the latest counts of the unmapped accounts, added up
    last_run: LastRun | None = None
    health: Health = ACTIVE

    @property
    def vendor_title(self) -> str:
        return VENDOR_TITLES.get(self.vendor, self.vendor)

    @property
    def unmapped_words(self) -> str:
        """ "52 unmapped, 1,240 licences": the usage no PSA company is billed for yet, the first
        thing to clear in a month's run."""
        words = f"{self.unmapped_accounts:,} unmapped"
        if self.unmapped_accounts and self.unmapped_licences:
            words += f", {self.unmapped_licences:,.0f} licences"
        return words

    @property
    def status_title(self) -> str:
        return STATUS_TITLES.get(self.status, self.status)


@dataclass(frozen=True)
class PsaSummary:
    name: str
    site: str
    status: str
    last_sync_at: datetime | None
    companies: int
    products: int
    lines: int
    health: Health = ACTIVE
    budget: str | None = None  # "21 of 10,000 API requests this hour", where the PSA has one

    @property
    def status_title(self) -> str:
        return STATUS_TITLES.get(self.status, self.status)


def psa_summary() -> PsaSummary | None:
    connection = PsaConnection.select().order_by(PsaConnection.id).first()
    if connection is None:
        return None
    run = (SyncRun.select().where(SyncRun.psa_connection == connection)
           .order_by(SyncRun.id.desc()).first())  # fmt: skip
    state = run_state(run) if run is not None else None
    return PsaSummary(
        connection.name,
        connection.site,
        connection.status,
        connection.last_sync_at,
        PsaCompany.select()
        .where((PsaCompany.connection == connection) & ~PsaCompany.deleted)
        .count(),
        PsaProduct.select().where(PsaProduct.connection == connection).count(),
        PsaAgreementLine.select().join(PsaAgreement)
        .where(PsaAgreement.connection == connection).count(),
        psa_health(True, connection.status, connection.last_sync_at is not None, state,
                   run and run.started_at, run and run.error),
        _budget(run.counts if run is not None else None),
    )  # fmt: skip


def _budget(counts: dict | None) -> str | None:
    """The PSA's hourly request budget as the last sync left it (Autotask reports one)."""
    if not counts or not counts.get("hourly_limit"):
        return None
    return (f"{counts.get('requests_this_hour', 0):,} of {counts['hourly_limit']:,} API"
            " requests this hour at the last sync")  # fmt: skip


def psa_not_connected() -> Health:
    return psa_health(False, "", False, None, None, None)


def _per_integration(query) -> dict[int, int]:
    return {row[0]: row[1] for row in query.tuples()}


def unmapped_licences() -> dict[int, float]:
    """Per integration, the latest count of each service of its unmapped, included accounts,
    added up: the usage no PSA company is billed for yet."""
    latest = UsageCount.select(fn.MAX(UsageCount.id)).group_by(
        UsageCount.account, UsageCount.service
    )
    rows = (
        UsageCount.select(VendorAccount.integration, fn.SUM(UsageCount.quantity))
        .join(VendorAccount)
        .join(AccountMapping, JOIN.LEFT_OUTER, on=AccountMapping.vendor_account == VendorAccount.id)
        .where(UsageCount.id.in_(latest) & AccountMapping.id.is_null() & ~VendorAccount.excluded)
        .group_by(VendorAccount.integration)
        .tuples()
    )
    return {integration: float(total or 0) for integration, total in rows}


def integration_summaries() -> list[IntegrationSummary]:
    accounts = (
        VendorAccount.select(
            VendorAccount.integration,
            fn.COUNT(VendorAccount.id).alias("n"),
            fn.SUM(
                Case(None, [(AccountMapping.id.is_null() & ~VendorAccount.excluded, 1)], 0)
            ).alias("unmapped"),
        )
        .join(AccountMapping, JOIN.LEFT_OUTER)
        .group_by(VendorAccount.integration)
    )
    per_account = {row.integration_id: (row.n, int(row.unmapped or 0)) for row in accounts}
    services = VendorService.select(
        VendorService.integration, fn.COUNT(VendorService.id).alias("n")
    ).group_by(VendorService.integration)
    per_service = {row.integration_id: row.n for row in services}
    failed_alerts = dict(
        Alert.select(Alert.integration, fn.COUNT(Alert.id))
        .where(Alert.state == "failed")
        .group_by(Alert.integration)
        .tuples()
    )
    runs = last_runs()
    accounts_mapped = _per_integration(
        AccountMapping.select(VendorAccount.integration, fn.COUNT(AccountMapping.id))
        .join(VendorAccount).group_by(VendorAccount.integration)
    )  # fmt: skip
    services_mapped = _per_integration(
        ServiceMapping.select(VendorService.integration, fn.COUNT(ServiceMapping.id))
        .join(VendorService).group_by(VendorService.integration)
    )  # fmt: skip
    routed = {r.integration_id for r in AlertRoute.select(AlertRoute.integration)}
    at_stake = unmapped_licences()

    def health(i: Integration) -> Health:
        run = runs.get(i.id)
        return integration_health(IntegrationFacts(
            name=i.name, vendor_title=VENDOR_TITLES.get(i.vendor, i.vendor), kind=i.kind,
            status=i.status, status_reason=i.status_reason, modules=i.modules,
            ever_synced=i.last_sync_at is not None, run_state=run and run.state,
            run_started_at=run and run.started_at, run_error=run and run.error,
            accounts_mapped=accounts_mapped.get(i.id, 0),
            services_mapped=services_mapped.get(i.id, 0), has_alert_route=i.id in routed,
        ))  # fmt: skip

    return [
        IntegrationSummary(
            name=i.name,
            vendor=i.vendor,
            kind=i.kind,
            status=i.status,
            last_sync_at=i.last_sync_at or i.last_push_at,
            accounts=per_account.get(i.id, (0, 0))[0],
            services=per_service.get(i.id, 0),
            unmapped_accounts=per_account.get(i.id, (0, 0))[1],
            failed_alerts=failed_alerts.get(i.id, 0),
            unmapped_licences=at_stake.get(i.id, 0.0),
            last_run=runs.get(i.id),
            health=health(i),
        )
        for i in Integration.select().order_by(Integration.name)
    ]


def data_stamp() -> tuple[int, ...]:
    """Changes whenever a sync or a push (from any process) stores something: the newest row of
    each table they append to. Cheap enough to poll: four primary-key lookups."""
    return tuple(
        model.select(fn.MAX(model.id)).scalar() or 0
        for model in (UsageCount, Alert, SyncRun, VendorAccount)
    )


def push_integrations_exist() -> bool:
    return Integration.select().where(Integration.kind == "push").exists()
