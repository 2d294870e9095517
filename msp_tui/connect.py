"""Connecting integrations: what the CLI and the wizard both do, in one place."""

from __future__ import annotations

from dataclasses import dataclass

from adapters.errors import PermissionDenied, Secret
from adapters.records import Board
from msp_tui.push.keys import new_partner_key
from msp_tui.secret_store import SecretStore
from msp_tui.sources import psa_adapter
from msp_tui.store.db import writing
from msp_tui.store.models import (
    AccountMapping,
    AlertRoute,
    Integration,
    PsaConnection,
    ServiceMapping,
    VendorAccount,
    VendorService,
)

VENDORS = {
    "spamtitan": ("SpamTitan", "pull"),
    "mailprotector": ("Mailprotector", "push"),
}


BOARD_PERMISSION = (
    "The PSA's API member needs the Service Desk > Service Boards: Inquire permission."
)


class ConnectError(Exception):
    """The integration cannot be connected as asked; the message says what to do."""


def unique_name(vendor: str) -> str:
    """`spamtitan`, then `spamtitan-2`, ... for a second server of the same vendor."""
    taken = {i.name for i in Integration.select(Integration.name)}
    name, n = vendor, 1
    while name in taken:
        n += 1
        name = f"{vendor}-{n}"
    return name


async def check_spamtitan(url: str, api_key: Secret) -> int:
    """A real call with the key; the number of domain groups it sees. Raises AdapterError."""
    from adapters.spamtitan import SpamTitanAdapter  # httpx: not needed to draw a screen

    async with SpamTitanAdapter(url, api_key, timeout=20.0) as adapter:
        return await adapter.authenticate()


def save_pull_integration(
    secrets: SecretStore, name: str, url: str, api_key: Secret, modules: str, checked: bool
) -> Integration:
    if Integration.get_or_none(Integration.name == name) is not None:
        raise ConnectError(f"an integration named '{name}' exists; choose another name")
    from adapters.spamtitan import normalise_base_url

    secrets.set(name, "api_key", api_key.reveal())
    with writing():
        return Integration.create(
            name=name, vendor="spamtitan", kind="pull", modules=modules,
            status="active" if checked else "not_connected",
            config={"url": normalise_base_url(url)},
        )  # fmt: skip


def create_push_integration(name: str, modules: str, base_url: str) -> tuple[Integration, str]:
    """A push integration and its partner key: the only time the key exists in clear."""
    if Integration.get_or_none(Integration.name == name) is not None:
        raise ConnectError(f"an integration named '{name}' exists; choose another name")
    with writing():
        integration = Integration.create(
            name=name, vendor="mailprotector", kind="push", modules=modules,
            status="not_connected", config={"base_url": base_url},
        )  # fmt: skip
    return integration, new_partner_key(integration)


@dataclass(frozen=True)
class ConnectionCheck:
    status: str
    accounts: int
    services: int


def check_connection(integration: Integration) -> ConnectionCheck:
    """What a push vendor has sent so far."""
    fresh = Integration.get_by_id(integration.id)
    return ConnectionCheck(
        fresh.status,
        VendorAccount.select().where(VendorAccount.integration == fresh).count(),
        VendorService.select().where(VendorService.integration == fresh).count(),
    )


def psa_connection() -> PsaConnection | None:
    return PsaConnection.select().order_by(PsaConnection.id).first()


async def psa_boards(secrets: SecretStore) -> list[Board]:
    """The PSA's service boards, for alert tickets. Raises AdapterError (a 403 names the
    permission that is missing) or ConnectError when no PSA is connected."""
    connection = psa_connection()
    if connection is None:
        raise ConnectError("connect the PSA first: msp-tui psa set connectwise|autotask ...")
    async with psa_adapter(connection, secrets) as adapter:
        try:
            return await adapter.boards()
        except PermissionDenied as exc:
            raise ConnectError(f"{exc}. {BOARD_PERMISSION}") from None


def set_alert_route(integration: Integration, board: Board) -> None:
    connection = psa_connection()
    if connection is None:
        raise ConnectError("connect the PSA first")
    with writing():
        AlertRoute.delete().where(AlertRoute.integration == integration).execute()
        AlertRoute.create(integration=integration, psa_connection=connection,
                          board_id=board.external_id, board_name=board.name)  # fmt: skip
        # Only the modules change: the wizard's copy of the integration is older than what the
        # vendor's pushes have made of its status since (pending, active).
        current = Integration.get_by_id(integration.id)
        modules = set(current.modules.split(",")) | {"alerts"}
        integration.modules = ",".join(m for m in ("billing", "alerts") if m in modules)
        Integration.update(modules=integration.modules).where(
            Integration.id == integration.id
        ).execute()
        integration.status = current.status


@dataclass(frozen=True)
class ReadyCheck:
    accounts: int
    services: int

    @property
    def ready(self) -> bool:
        return self.accounts > 0 and self.services > 0

    @property
    def why_not(self) -> str | None:
        missing = [w for w, n in (("one account", self.accounts), ("one service", self.services))
                   if n == 0]  # fmt: skip
        return f"map at least {' and '.join(missing)} to finish" if missing else None


def ready_to_finish(integration: Integration) -> ReadyCheck:
    accounts = (
        AccountMapping.select().join(VendorAccount)
        .where(VendorAccount.integration == integration).count()
    )  # fmt: skip
    services = (
        ServiceMapping.select().join(VendorService)
        .where(VendorService.integration == integration).count()
    )  # fmt: skip
    return ReadyCheck(accounts, services)
