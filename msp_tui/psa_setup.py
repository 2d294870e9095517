"""Connecting the PSA, for the CLI's `psa set` and the TUI's PSA form alike: which PSAs msp-tui
knows, the check that makes real calls and names the field that is wrong, and saving (settings
to the store, keys to the secret store, never the other way round)."""

from __future__ import annotations

from dataclasses import dataclass

from adapters.connectwise import (
    ConnectWiseAdapter,
    ConnectWiseCredentials,
    find_codebase,
    site_url,
)
from adapters.errors import AdapterError, AuthenticationError, NotFound, Secret
from msp_tui.secret_store import SecretStore
from msp_tui.sources import psa_secret_scope
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
    PsaKind("autotask", "Autotask", False, "coming next: API user, secret and integration code"),
    PsaKind("halopsa", "HaloPSA", False, "coming next: OAuth client id and secret"),
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


def stored_keys(secrets: SecretStore, connection: PsaConnection) -> tuple[Secret, Secret] | None:
    """The keys kept for a connection, so the form can change a setting without retyping them."""
    scope = psa_secret_scope(connection)
    public, private = secrets.get(scope, "public_key"), secrets.get(scope, "private_key")
    return (Secret(public), Secret(private)) if public and private else None
