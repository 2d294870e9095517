"""Field types shared by the models and the frozen copies of them in migrations."""

from __future__ import annotations

import json
from typing import Any

from peewee import TextField


class JSONField(TextField):
    """JSON in a TEXT column: portable across SQLite and PostgreSQL, and readable with sqlite3."""

    def db_value(self, value: Any) -> str | None:
        return None if value is None else json.dumps(value, sort_keys=True, default=str)

    def python_value(self, value: str | None) -> Any:
        return None if value is None else json.loads(value)
