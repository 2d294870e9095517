"""Everything a store holds, as text, to look for what must never be in it (a key, a secret):
every byte of a SQLite file (and its -wal), or on PostgreSQL every row of every table of ours."""

from __future__ import annotations

from pathlib import Path


def stored_text(store: Path | str) -> str:
    if "://" in str(store):
        import psycopg2

        with psycopg2.connect(str(store)) as connection, connection.cursor() as cursor:
            cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            tables = [name for (name,) in cursor.fetchall()]
            texts = []
            for table in tables:
                cursor.execute(f'SELECT t::text FROM "{table}" t')
                texts += [row for (row,) in cursor.fetchall()]
        connection.close()
        return "\n".join(texts)
    path = Path(store)
    return "".join(f.read_bytes().decode("latin-1") for f in path.parent.glob(path.name + "*"))
