"""Adapters built from what the store and the secret store hold about each source."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from adapters.errors import Secret
from adapters.psa import WORDS, PsaAdapter, PsaWords
from msp_tui.secret_store import SecretStore, env_name
from msp_tui.store.models import Integration, PsaConnection

if TYPE_CHECKING:
    from adapters.spamtitan import SpamTitanAdapter

PULL_VENDORS = {"spamtitan": "SpamTitan"}
PUSH_VENDORS = {"mailprotector": "Mailprotector"}


class SourceError(Exception):
    """A source cannot be used as configured; the message says what to do."""


def psa_secret_scope(connection: PsaConnection) -> str:
    return f"psa/{connection.name}"


def _secret(secrets: SecretStore, scope: str, name: str, fix: str) -> Secret:
    value = secrets.get(scope, name)
    if not value:
        raise SourceError(f"no {name.replace('_', ' ')} on this host for {scope}; {fix}, or"
                          f" set {env_name(scope, name)}")  # fmt: skip
    return Secret(value)


@dataclass(frozen=True)
class Credential:
    """A secret the store's connections need: who needs it, and how to store it."""

    owner: str  # "ConnectWise Manage (connectwise)", "SpamTitan (spamtitan)"
    scope: str
    name: str
    fix: str


# The adapters are imported where they are made (`psa_adapter`, `pull_adapter`): they bring
# httpx, a tenth of a second nothing needs to draw the first frame. Their words are in
# adapters.psa.WORDS.
PSA_TITLES = {kind: words.psa for kind, words in WORDS.items()}
PSA_SECRETS = {"connectwise": ("public_key", "private_key"), "autotask": ("secret",),
               "halopsa": ("client_secret",)}  # fmt: skip


def psa_words(kind: str | None = None) -> PsaWords:
    """What the PSA (of `kind`, else the store's, else ConnectWise) calls things."""
    if kind is None:
        connection = PsaConnection.select(PsaConnection.kind).order_by(PsaConnection.id).first()
        kind = connection.kind if connection else "connectwise"
    return WORDS.get(kind, WORDS["connectwise"])


def psa_fix(connection: PsaConnection) -> str:
    return f"run: msp-tui psa set {connection.kind} ... (or the PSA form in the app)"


def credentials_needed() -> list[Credential]:
    found = [Credential(f"{PSA_TITLES.get(c.kind, c.kind)} ({c.name})", psa_secret_scope(c),
                        name, psa_fix(c))
             for c in PsaConnection.select().order_by(PsaConnection.id)
             for name in PSA_SECRETS.get(c.kind, ())]  # fmt: skip
    found += [Credential(f"SpamTitan ({i.name})", i.name, "api_key", _spamtitan_fix(i))
              for i in Integration.select().where(Integration.vendor == "spamtitan")
              .order_by(Integration.name)]  # fmt: skip
    return found


def _spamtitan_fix(integration: Integration) -> str:
    return f"run: msp-tui integrations add spamtitan --name {integration.name} ..."


def psa_adapter(connection: PsaConnection, secrets: SecretStore, **options) -> PsaAdapter:
    """The adapter of the connection's PSA, behind the PSA contract."""
    scope = psa_secret_scope(connection)
    fix = psa_fix(connection)
    if connection.kind == "autotask":
        from adapters.autotask import AutotaskAdapter, AutotaskCredentials

        return AutotaskAdapter(
            AutotaskCredentials(
                username=connection.company_identifier,
                integration_code=connection.client_id,
                secret=_secret(secrets, scope, "secret", fix),
                zone=connection.site or None,
            ),
            **options,
        )
    if connection.kind == "halopsa":
        from adapters.halopsa import HaloAdapter, HaloCredentials

        return HaloAdapter(
            HaloCredentials(
                url=connection.site,
                client_id=connection.client_id,
                client_secret=_secret(secrets, scope, "client_secret", fix),
                auth_url=connection.codebase or None,
                tenant=connection.company_identifier or None,
            ),
            **options,
        )
    if connection.kind != "connectwise":
        raise SourceError(f"msp-tui does not know the PSA {connection.kind!r}: upgrade msp-tui")
    from adapters.connectwise import ConnectWiseAdapter, ConnectWiseCredentials

    credentials = ConnectWiseCredentials(
        site=connection.site,
        company_id=connection.company_identifier,
        public_key=_secret(secrets, scope, "public_key", fix),
        private_key=_secret(secrets, scope, "private_key", fix),
        client_id=connection.client_id,
        codebase=connection.codebase,
    )
    return ConnectWiseAdapter(credentials, **options)


def pull_adapter(integration: Integration, secrets: SecretStore, **options) -> SpamTitanAdapter:
    from adapters.spamtitan import DEFAULT_CONCURRENCY, SpamTitanAdapter

    if integration.vendor != "spamtitan":
        raise SourceError(f"{integration.name} is a {integration.vendor} push integration")
    api_key = _secret(secrets, integration.name, "api_key", _spamtitan_fix(integration))
    options.setdefault("concurrency", integration.config.get("concurrency", DEFAULT_CONCURRENCY))
    return SpamTitanAdapter(integration.config["url"], api_key, **options)
