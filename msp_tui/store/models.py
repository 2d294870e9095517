"""The domain, as tables (see DESIGN.md, "Store").

Times are naive UTC datetimes (see `utcnow`): SQLite has no time zones and one convention is
safer than two. Quantities are decimals: vendors may count storage in fractional units.
Secrets are never stored here; see `msp_tui.secret_store`.

A change to these models needs a migration in `msp_tui/store/migrations/` (generate it with
`python -m playhouse.migrations DB generate NAME msp_tui.store.models`); a test checks that a
freshly migrated database matches these models exactly.
"""

from __future__ import annotations

from datetime import UTC, datetime

from peewee import (
    BooleanField,
    CharField,
    DatabaseProxy,
    DateField,
    DateTimeField,
    DecimalField,
    FloatField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

from msp_tui.store.fields import JSONField

database_proxy = DatabaseProxy()


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _quantity(**kwargs) -> DecimalField:
    return DecimalField(max_digits=18, decimal_places=4, auto_round=True, **kwargs)


class BaseModel(Model):
    class Meta:
        database = database_proxy
        legacy_table_names = False


class AppSetting(BaseModel):
    """Facts about this store itself, such as its id (which namespaces its keyring entries)."""

    key = CharField(primary_key=True)
    value = TextField()


# --- The PSA side ------------------------------------------------------------------------------


class PsaConnection(BaseModel):
    """How to reach the PSA. Its keys live in the secret store, never here."""

    kind = CharField(default="connectwise")
    name = CharField(unique=True)
    site = CharField()
    company_identifier = CharField()
    codebase = CharField(default="v4_6_release")
    client_id = CharField()
    status = CharField(default="not_connected")
    status_reason = TextField(null=True)
    created_at = DateTimeField(default=utcnow)
    last_sync_at = DateTimeField(null=True)


class PsaCompany(BaseModel):
    connection = ForeignKeyField(PsaConnection, backref="companies", on_delete="CASCADE")
    external_id = IntegerField()
    identifier = CharField()
    name = CharField()
    website = CharField(null=True)
    status = CharField(null=True)
    is_prospect = BooleanField(default=False)
    deleted = BooleanField(default=False)
    synced_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("connection", "external_id"), True),)


class PsaProduct(BaseModel):
    """A catalog item; `identifier` is the "Product ID" ConnectWise users search by."""

    connection = ForeignKeyField(PsaConnection, backref="products", on_delete="CASCADE")
    external_id = IntegerField()
    identifier = CharField()
    description = TextField(default="")
    inactive = BooleanField(default=False)
    recurring = BooleanField(default=False)
    price = _quantity(null=True)
    synced_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("connection", "external_id"), True),)


class PsaAgreement(BaseModel):
    connection = ForeignKeyField(PsaConnection, backref="agreements", on_delete="CASCADE")
    external_id = IntegerField()
    company = ForeignKeyField(PsaCompany, backref="agreements", on_delete="CASCADE")
    name = CharField()
    agreement_status = CharField(null=True)
    cancelled = BooleanField(default=False)
    billing_cycle = CharField(null=True)
    synced_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("connection", "external_id"), True),)


class PsaAgreementLine(BaseModel):
    """An agreement addition: what the PSA bills for one product on one agreement."""

    agreement = ForeignKeyField(PsaAgreement, backref="lines", on_delete="CASCADE")
    external_id = IntegerField()
    product = ForeignKeyField(PsaProduct, null=True, backref="lines", on_delete="SET NULL")
    product_identifier = CharField()
    quantity = _quantity(default=0)
    less_included = _quantity(default=0)
    unit_price = _quantity(null=True)
    bill_customer = CharField(null=True)
    effective_date = DateField(null=True)
    cancelled_date = DateField(null=True)
    agreement_status = CharField(null=True)
    synced_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("agreement", "external_id"), True),)


# --- The vendor side ---------------------------------------------------------------------------


class Integration(BaseModel):
    """A connected vendor. `config` holds non-secret settings such as the API URL."""

    name = CharField(unique=True)
    vendor = CharField()
    kind = CharField()  # pull | push
    modules = CharField(default="billing")  # comma-separated: billing, alerts
    status = CharField(default="not_connected")  # not_connected pending active inactive ...
    status_reason = TextField(null=True)
    config = JSONField(default=dict)
    created_at = DateTimeField(default=utcnow)
    last_sync_at = DateTimeField(null=True)
    last_push_at = DateTimeField(null=True)


class VendorAccount(BaseModel):
    """A customer as the vendor sees it (a SpamTitan domain group, a Mailprotector customer)."""

    integration = ForeignKeyField(Integration, backref="accounts", on_delete="CASCADE")
    external_id = CharField()
    name = CharField()
    description = TextField(null=True)
    domain = CharField(null=True)
    excluded = BooleanField(default=False)
    kept_unmapped = BooleanField(default=False)  # the operator unmapped it: the matcher suggests
    first_seen_at = DateTimeField(default=utcnow)
    last_seen_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("integration", "external_id"), True),)


class VendorService(BaseModel):
    """A SKU the vendor counts (SpamTitan "Total Licenses", Mailprotector CloudFilter, ...)."""

    integration = ForeignKeyField(Integration, backref="services", on_delete="CASCADE")
    external_id = CharField()
    name = CharField()
    description = TextField(null=True)
    category = CharField(null=True)
    subcategory = CharField(null=True)
    kept_unmapped = BooleanField(default=False)  # the operator unmapped it: not mapped again
    first_seen_at = DateTimeField(default=utcnow)
    last_seen_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("integration", "external_id"), True),)


class SyncRun(BaseModel):
    """One sync of the PSA or of a pull integration: what it fetched, how long, how it ended."""

    integration = ForeignKeyField(Integration, null=True, backref="sync_runs", on_delete="CASCADE")
    psa_connection = ForeignKeyField(
        PsaConnection, null=True, backref="sync_runs", on_delete="CASCADE"
    )
    mode = CharField(default="quick")  # quick | full
    status = CharField(default="running")  # running | ok | failed
    started_at = DateTimeField(default=utcnow)
    finished_at = DateTimeField(null=True)
    duration_s = FloatField(null=True)
    counts = JSONField(default=dict)
    error = TextField(null=True)
    runner = CharField(null=True)  # host:pid of the process running it


class UsageCount(BaseModel):
    """A quantity of one service for one account, as of a sync or a push. History is kept."""

    account = ForeignKeyField(VendorAccount, backref="usage_counts", on_delete="CASCADE")
    service = ForeignKeyField(VendorService, backref="usage_counts", on_delete="CASCADE")
    quantity = _quantity()
    counted_at = DateTimeField(default=utcnow)
    received_at = DateTimeField(default=utcnow)
    source = CharField(default="sync")  # sync | push
    sync_run = ForeignKeyField(SyncRun, null=True, backref="usage_counts", on_delete="SET NULL")

    class Meta:
        indexes = ((("account", "service", "received_at"), False),)


class PartnerKey(BaseModel):
    """A push vendor's credential, as a hash only; `vendor_key_hash` pins the vendor's half."""

    integration = ForeignKeyField(Integration, backref="partner_keys", on_delete="CASCADE")
    key_hash = CharField(unique=True)
    vendor_key_hash = CharField(null=True)
    created_at = DateTimeField(default=utcnow)
    last_used_at = DateTimeField(null=True)
    revoked_at = DateTimeField(null=True)


# --- Mappings ----------------------------------------------------------------------------------


class AccountMapping(BaseModel):
    """vendor account -> PSA company; many vendor accounts may map to one company."""

    vendor_account = ForeignKeyField(
        VendorAccount, unique=True, backref="mapping", on_delete="CASCADE"
    )
    psa_company = ForeignKeyField(PsaCompany, backref="account_mappings", on_delete="CASCADE")
    method = CharField()  # exact | auto (a near name, headless --auto) | suggested | manual
    score = FloatField(null=True)
    operator = CharField()
    mapped_at = DateTimeField(default=utcnow)


class ServiceMapping(BaseModel):
    """vendor service <-> PSA product; one-to-many and many-to-one are both allowed."""

    vendor_service = ForeignKeyField(VendorService, backref="service_mappings", on_delete="CASCADE")
    psa_product = ForeignKeyField(PsaProduct, backref="service_mappings", on_delete="CASCADE")
    method = CharField(default="manual")  # exact (the same name or id) | manual
    operator = CharField()
    mapped_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("vendor_service", "psa_product"), True),)


# --- Reconciliation, audit, alerts -------------------------------------------------------------


class Decision(BaseModel):
    """The outbox of PSA writes: what the operator decided for one line in one period."""

    period = CharField()  # YYYY-MM
    psa_company = ForeignKeyField(PsaCompany, backref="decisions", on_delete="CASCADE")
    psa_product = ForeignKeyField(PsaProduct, backref="decisions", on_delete="CASCADE")
    agreement = ForeignKeyField(PsaAgreement, null=True, backref="decisions", on_delete="SET NULL")
    agreement_line = ForeignKeyField(
        PsaAgreementLine, null=True, backref="decisions", on_delete="SET NULL"
    )
    action = CharField()  # approve | adjust | dismiss
    vendor_quantity = _quantity(null=True)
    psa_quantity_seen = _quantity(null=True)
    target_quantity = _quantity(null=True)
    effective_date = DateField(null=True)
    state = CharField(default="pending")  # pending | pushed | failed | conflict
    attempts = IntegerField(default=0)
    last_error = TextField(null=True)
    conflict_quantity = _quantity(null=True)
    operator = CharField()
    created_at = DateTimeField(default=utcnow)
    pushed_at = DateTimeField(null=True)


class AuditEvent(BaseModel):
    at = DateTimeField(default=utcnow, index=True)
    operator = CharField()
    action = CharField()
    subject = CharField()
    before = JSONField(null=True)
    after = JSONField(null=True)
    detail = TextField(null=True)


class AlertRoute(BaseModel):
    """Where an integration's alerts go: one PSA board."""

    integration = ForeignKeyField(
        Integration, unique=True, backref="alert_route", on_delete="CASCADE"
    )
    psa_connection = ForeignKeyField(PsaConnection, backref="alert_routes", on_delete="CASCADE")
    board_id = IntegerField()
    board_name = CharField()
    created_at = DateTimeField(default=utcnow)


class Alert(BaseModel):
    """A vendor alert, queued until it is a PSA ticket; once per (integration, alert_id)."""

    integration = ForeignKeyField(Integration, backref="alerts", on_delete="CASCADE")
    account_external_id = CharField()
    vendor_account = ForeignKeyField(
        VendorAccount, null=True, backref="alerts", on_delete="SET NULL"
    )
    alert_id = CharField()
    message_id = CharField(unique=True)
    title = CharField()
    description = TextField(default="")
    priority = IntegerField(default=3)
    vendor_status = IntegerField(null=True)
    due_at = DateTimeField(null=True)
    service_external_id = CharField(null=True)
    state = CharField(default="queued")  # queued | created | failed
    ticket_id = IntegerField(null=True)
    ticket_company = CharField(null=True)  # the PSA company and board the ticket went to,
    ticket_board = CharField(null=True)  # named as they were when it was made
    errors = JSONField(default=list)
    attempts = IntegerField(default=0)
    next_attempt_at = DateTimeField(null=True)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("integration", "alert_id"), True),)


MODELS: list[type[BaseModel]] = [
    AppSetting,
    PsaConnection,
    PsaCompany,
    PsaProduct,
    PsaAgreement,
    PsaAgreementLine,
    Integration,
    VendorAccount,
    VendorService,
    SyncRun,
    UsageCount,
    PartnerKey,
    AccountMapping,
    ServiceMapping,
    Decision,
    AuditEvent,
    AlertRoute,
    Alert,
]
