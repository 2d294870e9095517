"""What every entry point opens first: the store and its secrets, together."""

from __future__ import annotations

from dataclasses import dataclass

from peewee import Database

from msp_tui.secret_store import SecretStore, open_secret_store
from msp_tui.store.db import StoreLocation, open_store, resolve_location, store_id


@dataclass
class Context:
    location: StoreLocation
    db: Database
    secrets: SecretStore

    def close(self) -> None:
        self.db.close()


def open_context(db_target: str | None = None, secrets_mode: str | None = None) -> Context:
    location = resolve_location(db_target)
    db = open_store(location)
    return Context(location, db, open_secret_store(store_id(), secrets_mode))
