"""The PSA form's fields, one set per PSA kind, and what checks and saves each kind. A field's
label is the name PsaSetupError gives it, so an error can put the cursor where the fix goes;
`column` is the PsaConnection column a saved setting is read back from, `stored_as` the name a
secret is kept under in the secret store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from adapters.errors import Secret
from msp_tui import psa_setup as setup
from msp_tui.secret_store import SecretStore
from msp_tui.store.models import PsaConnection
from screens.shown import shown


@dataclass(frozen=True)
class PsaField:
    input_id: str
    label: str
    placeholder: str
    masked: bool = False
    stored_as: str | None = None  # a secret: shown empty, "stored" when one is kept
    optional: bool = False
    column: str | None = None  # where a saved connection keeps it

    @property
    def secret(self) -> bool:
        return self.stored_as is not None


CONNECTWISE_FIELDS = (
    PsaField("site", "Site", "na.myconnectwise.net (your ConnectWise address)", column="site"),
    PsaField("company", "Company ID", "the company you log in with",
             column="company_identifier"),
    PsaField("public-key", "Public key", "API member's public key", masked=True,
             stored_as="public_key"),
    PsaField("private-key", "Private key", "API member's private key", masked=True,
             stored_as="private_key"),
    PsaField("client-id", "Client ID", "from developer.connectwise.com", column="client_id"),
)  # fmt: skip
AUTOTASK_FIELDS = (
    PsaField("username", "API user", "the API-only user's name (an email address)",
             column="company_identifier"),
    PsaField("secret", "Secret", "the API user's secret", masked=True, stored_as="secret"),
    PsaField("integration-code", "Integration code", "its API tracking identifier",
             column="client_id"),
    PsaField("zone", "Zone URL", "leave empty to look it up", optional=True, column="site"),
)  # fmt: skip
HALOPSA_FIELDS = (
    PsaField("halo-url", "URL", "https://yours.halopsa.com (your HaloPSA address)",
             column="site"),
    PsaField("halo-client-id", "Client ID", "the API application's client id",
             column="client_id"),
    PsaField("halo-secret", "Client secret", "the API application's secret", masked=True,
             stored_as="client_secret"),
    PsaField("halo-tenant", "Tenant", "hosted by Halo: your tenant; else leave empty",
             optional=True, column="company_identifier"),
    PsaField("halo-auth-url", "Auth URL", "leave empty for URL/auth", optional=True,
             column="codebase"),
)  # fmt: skip
FIELDS = {"connectwise": CONNECTWISE_FIELDS, "autotask": AUTOTASK_FIELDS,
          "halopsa": HALOPSA_FIELDS}  # fmt: skip
ALL_FIELDS = tuple(f for fields in FIELDS.values() for f in fields)  # every kind's, in order

# PsaSetupError.field -> the input to fix
ERROR_INPUTS = {
    "connectwise": {"Site": "site", "Company ID": "company", "Public and private key": "public-key",
                    "Client ID": "client-id"},
    "autotask": {"API user": "username", "Zone URL": "zone",
                 "API user, secret or integration code": "secret"},
    "halopsa": {"URL": "halo-url", "Auth URL": "halo-auth-url",
                "Client ID, secret or tenant": "halo-secret"},
}  # fmt: skip

# Who answers a check, as the status line says it ("Asking Autotask…")
ASKED = {"connectwise": "ConnectWise", "autotask": "Autotask", "halopsa": "HaloPSA"}


def saved_values(connection: PsaConnection) -> dict[str, str]:
    """The settings a saved connection holds, by input id."""
    return {f.input_id: getattr(connection, f.column) or ""
            for f in FIELDS.get(connection.kind, ()) if f.column}  # fmt: skip


async def check(kind: str, values: dict[str, str], secrets: dict[str, Secret], **options) -> Any:
    """The kind's real calls with what the form holds; credentials that work."""
    if kind == "autotask":
        settings = setup.AutotaskSettings(values["username"], values["integration-code"],
                                          values["zone"] or None)  # fmt: skip
        return await setup.check_autotask(settings, secrets["secret"], **options)
    if kind == "halopsa":
        halo = setup.HaloSettings(values["halo-url"], values["halo-client-id"],
                                  values["halo-auth-url"] or None,
                                  values["halo-tenant"] or None)  # fmt: skip
        return await setup.check_halopsa(halo, secrets["halo-secret"], **options)
    cw = setup.ConnectWiseSettings(values["site"], values["company"], values["client-id"])
    return await setup.check_connectwise(cw, secrets["public-key"], secrets["private-key"],
                                         **options)  # fmt: skip


def save(kind: str, store: SecretStore, credentials: Any, **name: str) -> PsaConnection:
    saver = {"autotask": setup.save_autotask, "halopsa": setup.save_halopsa}.get(
        kind, setup.save_connectwise
    )
    return saver(store, credentials, checked=True, **name)


def accepted(kind: str, credentials: Any) -> str:
    where = {"autotask": lambda c: f"zone {shown(c.zone)}",
             "halopsa": lambda c: f"{shown(c.url)}"}.get(
        kind, lambda c: f"API {shown(c.codebase)}")(credentials)  # fmt: skip
    return (f"[green]✓ {ASKED[kind]} accepted these settings[/green] ({where})."
            " ctrl+s saves them.")  # fmt: skip
