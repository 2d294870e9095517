"""Partner keys: made here, shown once, kept only as a hash.

A partner key is 32 random bytes from `secrets` (256 bits), so a plain SHA-256 is a sound
hash for it: there is nothing to brute-force that a slow hash would protect. Lookups go by the
hash (indexed) and the final comparison is constant-time. The vendor's half of the token is
pinned on first use, by hash too.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from adapters.errors import register_secret
from msp_tui.store.db import writing
from msp_tui.store.models import Integration, PartnerKey, database_proxy, utcnow

KEY_BYTES = 32
PREFIX = "msptui_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_partner_key(integration: Integration) -> str:
    """Make a key for `integration`, revoking any it had. The returned value is the only copy."""
    key = PREFIX + secrets.token_urlsafe(KEY_BYTES)
    register_secret(key)
    now = utcnow()
    with writing():
        PartnerKey.update(revoked_at=now).where(
            (PartnerKey.integration == integration) & PartnerKey.revoked_at.is_null()
        ).execute()
        PartnerKey.create(integration=integration, key_hash=hash_key(key))
    return key


@dataclass(frozen=True)
class Caller:
    integration: Integration
    key_id: int


class BadToken(Exception):
    """The GRADIENT-TOKEN header is missing, malformed or not ours; the message is safe to send."""


def parse_token(header: str | None) -> tuple[str, str]:
    """GRADIENT-TOKEN = base64("<vendorApiKey>:<partnerApiKey>") -> (vendor key, partner key)."""
    if not header:
        raise BadToken("Missing GRADIENT-TOKEN header")
    try:
        decoded = base64.b64decode(header.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadToken("GRADIENT-TOKEN is not base64 of vendorKey:partnerKey") from None
    vendor_key, sep, partner_key = decoded.rpartition(":")
    if not sep or not vendor_key or not partner_key:
        raise BadToken("GRADIENT-TOKEN is not base64 of vendorKey:partnerKey")
    return vendor_key, partner_key


def authenticate(header: str | None) -> Caller:
    """The integration a token belongs to. Pins the vendor half on first use."""
    vendor_key, partner_key = parse_token(header)
    digest = hash_key(partner_key)
    db = database_proxy.obj
    # Plain SQL on the hot path; revocation is read on every call, so rotation bites at once.
    row = db.execute_sql(
        f"SELECT id, key_hash, vendor_key_hash, integration_id FROM partner_key"  # noqa: S608
        f" WHERE key_hash = {db.param} AND revoked_at IS NULL",
        (digest,),
    ).fetchone()
    if row is None or not hmac.compare_digest(row[1], digest):
        raise BadToken("Invalid partner API key")
    key_id, _, pinned, integration_id = row
    vendor_digest = hash_key(vendor_key)
    if pinned is None:
        with writing():
            # Only the first caller pins; a race between two first calls keeps the earlier one.
            PartnerKey.update(vendor_key_hash=vendor_digest, last_used_at=utcnow()).where(
                (PartnerKey.id == key_id) & PartnerKey.vendor_key_hash.is_null()
            ).execute()
        pinned = PartnerKey.get_by_id(key_id).vendor_key_hash
    if not hmac.compare_digest(pinned, vendor_digest):
        raise BadToken("This partner key belongs to another vendor key")
    return Caller(Integration.get_by_id(integration_id), key_id)
