"""The PSA form's fields, one set per PSA kind. A field's label is the name PsaSetupError gives
it, so an error can put the cursor where the fix goes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PsaField:
    input_id: str
    label: str
    placeholder: str
    masked: bool = False
    secret: bool = False  # kept in the secret store: shown empty, "stored" when it is kept
    optional: bool = False


CONNECTWISE_FIELDS = (
    PsaField("site", "Site", "na.myconnectwise.net (your ConnectWise address)"),
    PsaField("company", "Company ID", "the company you log in with"),
    PsaField("public-key", "Public key", "API member's public key", masked=True, secret=True),
    PsaField("private-key", "Private key", "API member's private key", masked=True, secret=True),
    PsaField("client-id", "Client ID", "from developer.connectwise.com"),
)
AUTOTASK_FIELDS = (
    PsaField("username", "API user", "the API-only user's name (an email address)"),
    PsaField("secret", "Secret", "the API user's secret", masked=True, secret=True),
    PsaField("integration-code", "Integration code", "its API tracking identifier"),
    PsaField("zone", "Zone URL", "leave empty to look it up", optional=True),
)
FIELDS = {"connectwise": CONNECTWISE_FIELDS, "autotask": AUTOTASK_FIELDS}

# PsaSetupError.field -> the input to fix
ERROR_INPUTS = {
    "connectwise": {"Site": "site", "Company ID": "company", "Public and private key": "public-key",
                    "Client ID": "client-id"},
    "autotask": {"API user": "username", "Zone URL": "zone",
                 "API user, secret or integration code": "secret"},
}  # fmt: skip

# Who answers a check, as the status line says it ("Asking Autotask…")
ASKED = {"connectwise": "ConnectWise", "autotask": "Autotask"}
