"""Connecting the PSA, for the CLI's `psa set` and the TUI's PSA form alike: which PSAs msp-tui
knows, the check that makes real calls and names the field that is wrong, and saving (settings
to the store, keys to the secret store, never the other way round)."""

from __future__ import annotations

from dataclasses import dataclass

from adapters.autotask import AutotaskAdapter, AutotaskCredentials, find_zone, zone_url
from adapters.connectwise import (
    ConnectWiseAdapter,
    ConnectWiseCredentials,
    find_codebase,
    site_url,
)
from adapters.errors import (
    AdapterError,
    AuthenticationError,
    ConnectionFailed,
    NotFound,
    PermissionDenied,
    Secret,
)
from adapters.halopsa import HaloAdapter, HaloCredentials, halo_url
from msp_tui.secret_store import SecretStore
from msp_tui.sources import PSA_SECRETS, psa_secret_scope
from msp_tui.store.db import writing
from msp_tui.store.models import PsaConnection

DEFAULT_NAME = "connectwise"


@dataclass(frozen=True)
class PsaKind:
    key: str
    title: str
    available: bool
    blurb: str


PSA_KINDS = (
    PsaKind("connectwise", "ConnectWise Manage", True,
            "API member keys (System > Members > API Members) and a clientId"),
    PsaKind("autotask", "Autotask", True,
            "an API-only user (user name and secret) and its API tracking identifier"),
    PsaKind("halopsa", "HaloPSA", True,
            "an API application (Configuration > Integrations > HaloPSA API): id and secret"),
)  # fmt: skip


class PsaSetupError(Exception):
    """What is wrong, starting with the field to change ("Site: ...")."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class ConnectWiseSettings:
    """What the operator types, keys apart. No codebase: the site's company info names it."""

    site: str
    company_id: str
    client_id: str
    codebase: str | None = None

    def site_checked(self) -> str:
        try:
            return site_url(self.site)
        except ValueError as exc:
            raise PsaSetupError("Site", str(exc)) from None

    def missing(self) -> list[str]:
        fields = (("Site", self.site), ("Company ID", self.company_id),
                  ("Client ID", self.client_id))  # fmt: skip
        return [field for field, value in fields if not value.strip()]


async def check_connectwise(
    settings: ConnectWiseSettings, public_key: Secret, private_key: Secret, **options
) -> ConnectWiseCredentials:
    """Two real calls: the company info (finds the codebase) and /system/info (the keys and the
    clientId). Returns credentials that work; raises PsaSetupError naming what to fix."""
    site = settings.site_checked()
    company = settings.company_id.strip()
    try:
        codebase = settings.codebase or await find_codebase(site, company)
    except NotFound as exc:
        raise PsaSetupError("Company ID", str(exc)) from None
    except AdapterError as exc:  # no answer, TLS, or a reply that is not company info
        raise PsaSetupError("Site", str(exc)) from None
    credentials = ConnectWiseCredentials(site, company, public_key, private_key,
                                         settings.client_id.strip(), codebase)  # fmt: skip
    try:
        async with ConnectWiseAdapter(credentials, timeout=20.0, **options) as adapter:
            await adapter.authenticate()
    except AuthenticationError as exc:
        field = "Client ID" if "clientid" in str(exc).casefold() else "Public and private key"
        raise PsaSetupError(field, str(exc)) from None
    except AdapterError as exc:
        field = "Client ID" if "clientid" in str(exc).casefold() else "Site"
        raise PsaSetupError(field, str(exc)) from None
    return credentials


def save_connectwise(
    secrets: SecretStore, credentials: ConnectWiseCredentials, *, checked: bool,
    name: str = DEFAULT_NAME,
) -> PsaConnection:  # fmt: skip
    """Settings to the store, both keys to the secret store."""
    with writing():
        connection = PsaConnection.get_or_none(PsaConnection.name == name)
        if connection is None:
            connection = PsaConnection(name=name)
        connection.kind = "connectwise"
        connection.site = credentials.site
        connection.company_identifier = credentials.company_id
        connection.client_id = credentials.client_id
        connection.codebase = credentials.codebase
        connection.status = "active" if checked else "not_connected"
        connection.save()
    scope = psa_secret_scope(connection)
    secrets.set(scope, "public_key", credentials.public_key.reveal())
    secrets.set(scope, "private_key", credentials.private_key.reveal())
    return connection


# --- Autotask --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AutotaskSettings:
    """What the operator types, the secret apart. No zone: Autotask names it for the user."""

    username: str
    integration_code: str
    zone: str | None = None  # the zone's REST base, for a proxy or a simulator

    def zone_checked(self) -> str | None:
        if not self.zone or not self.zone.strip():
            return None
        try:
            return zone_url(self.zone)
        except ValueError as exc:
            raise PsaSetupError("Zone URL", str(exc)) from None

    def missing(self) -> list[str]:
        fields = (("API user", self.username), ("Integration code", self.integration_code))
        return [field for field, value in fields if not value.strip()]


async def check_autotask(
    settings: AutotaskSettings, secret: Secret, **options
) -> AutotaskCredentials:
    """The zone lookup (unless a zone is given) and ThresholdInformation, which needs all three
    headers. Returns credentials that work, with the zone found; raises PsaSetupError."""
    username = settings.username.strip()
    zone = settings.zone_checked()
    if zone is None:
        try:
            zone = await find_zone(username, transport=options.get("transport"))
        except NotFound as exc:
            raise PsaSetupError("API user", str(exc)) from None
        except AdapterError as exc:
            raise PsaSetupError("Zone URL", f"the zone lookup failed: {exc}") from None
    credentials = AutotaskCredentials(username, settings.integration_code.strip(), secret, zone)
    try:
        async with AutotaskAdapter(credentials, timeout=20.0, **options) as adapter:
            await adapter.authenticate()
    except (AuthenticationError, PermissionDenied) as exc:
        raise PsaSetupError("API user, secret or integration code", str(exc)) from None
    except (ConnectionFailed, NotFound) as exc:
        raise PsaSetupError("Zone URL", str(exc)) from None
    except AdapterError as exc:
        raise PsaSetupError("API user, secret or integration code", str(exc)) from None
    return credentials


def save_autotask(
    secrets: SecretStore, credentials: AutotaskCredentials, *, checked: bool,
    name: str = "autotask",
) -> PsaConnection:  # fmt: skip
    """Settings to the store (the zone as `site`, the API user as `company_identifier`, the
    integration code as `client_id`), the secret to the secret store."""
    with writing():
        connection = PsaConnection.get_or_none(PsaConnection.name == name)
        if connection is None:
            connection = PsaConnection(name=name)
        connection.kind = "autotask"
        connection.site = credentials.zone or ""
        connection.company_identifier = credentials.username
        connection.client_id = credentials.integration_code
        connection.codebase = ""
        connection.status = "active" if checked else "not_connected"
        connection.save()
    secrets.set(psa_secret_scope(connection), "secret", credentials.secret.reveal())
    return connection


# --- HaloPSA --------------------------------------------------------------------------------


@dataclass(frozen=True)
class HaloSettings:
    """What the operator types, the secret apart."""

    url: str
    client_id: str
    auth_url: str | None = None  # default {url}/auth
    tenant: str | None = None  # hosted instances

    def checked(self) -> tuple[str, str | None]:
        """The instance URL and the auth URL, or PsaSetupError naming the field."""
        try:
            url = halo_url(self.url)
        except ValueError as exc:
            raise PsaSetupError("URL", str(exc)) from None
        if not self.auth_url or not self.auth_url.strip():
            return url, None
        try:
            return url, halo_url(self.auth_url)
        except ValueError as exc:
            raise PsaSetupError("Auth URL", str(exc)) from None

    def missing(self) -> list[str]:
        fields = (("URL", self.url), ("Client ID", self.client_id))
        return [field for field, value in fields if not value.strip()]


async def check_halopsa(settings: HaloSettings, secret: Secret, **options) -> HaloCredentials:
    """A token, then one page of clients. Returns credentials that work; raises PsaSetupError."""
    url, auth_url = settings.checked()
    tenant = (settings.tenant or "").strip() or None
    credentials = HaloCredentials(url, settings.client_id.strip(), secret, auth_url, tenant)
    try:
        async with HaloAdapter(credentials, timeout=20.0, **options) as adapter:
            await adapter.authenticate()
    except AuthenticationError as exc:
        raise PsaSetupError("Client ID, secret or tenant", str(exc)) from None
    except PermissionDenied as exc:
        raise PsaSetupError("Client ID, secret or tenant", f"{exc} (the application needs"
                            " the 'all' scope)") from None  # fmt: skip
    except (ConnectionFailed, NotFound) as exc:
        raise PsaSetupError("Auth URL" if auth_url else "URL", str(exc)) from None
    except AdapterError as exc:
        raise PsaSetupError("URL", str(exc)) from None
    return credentials


def save_halopsa(
    secrets: SecretStore, credentials: HaloCredentials, *, checked: bool, name: str = "halopsa",
) -> PsaConnection:  # fmt: skip
    """Settings to the store (the instance as `site`, the client id as `client_id`, the tenant
    as `company_identifier`, the auth URL as `codebase`), the secret to the secret store."""
    with writing():
        connection = PsaConnection.get_or_none(PsaConnection.name == name)
        if connection is None:
            connection = PsaConnection(name=name)
        connection.kind = "halopsa"
        connection.site = credentials.url
        connection.client_id = credentials.client_id
        connection.company_identifier = credentials.tenant or ""
        connection.codebase = credentials.auth_url or ""
        connection.status = "active" if checked else "not_connected"
        connection.save()
    secrets.set(psa_secret_scope(connection), "client_secret",
                credentials.client_secret.reveal())  # fmt: skip
    return connection


def drop_other_psas(secrets: SecretStore, keep: PsaConnection) -> list[PsaConnection]:
    """One PSA per store (sync, alerts and the screens use the first): delete every connection
    but `keep`, which the store cascades to its companies, products, agreements, the mappings
    and decisions made on them and its alert routes, and delete their secrets."""
    with writing():
        gone = list(PsaConnection.select().where(PsaConnection.id != keep.id))
        for connection in gone:
            connection.delete_instance(recursive=False)  # the store cascades to its rows
    for connection in gone:
        for name in PSA_SECRETS.get(connection.kind, ()):
            secrets.delete(psa_secret_scope(connection), name)
    return gone
