"""A throwaway PostgreSQL for the tests that need a real one.

MSP_TUI_TEST_PG, if set, names a server to make databases on (`postgresql://user@host:port`).
Otherwise a cluster of our own is made from the installed binaries in a temp dir, listening on
127.0.0.1 only, with trust auth, and removed afterwards. initdb refuses to run as root, so as
root the cluster runs as the `postgres` user. Without binaries the tests skip, except in CI.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path


class NoPostgres(Exception):
    pass


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: p.split("/")[4])
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise NoPostgres("no PostgreSQL binaries (initdb) on this machine")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Cluster:
    def __init__(self) -> None:
        self.bin = _bin_dir()
        self.port = _free_port()
        self.data = Path(tempfile.mkdtemp(prefix="msp-tui-pg-"))
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.data, "postgres", "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]

    def _run(self, tool: str, *args: str) -> None:
        done = subprocess.run([*self.as_user, str(self.bin / tool), *args], capture_output=True,
                              text=True, timeout=120, stdin=subprocess.DEVNULL)  # fmt: skip
        if done.returncode != 0:
            raise NoPostgres(f"{tool} failed: {done.stderr.strip() or done.stdout.strip()}")

    def start(self) -> str:
        pgdata = str(self.data / "pgdata")
        self._run("initdb", "-D", pgdata, "-U", "postgres", "--auth=trust", "-E", "UTF8")
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.data}"
                   " -c fsync=off -c full_page_writes=off -c max_connections=200")  # fmt: skip
        self._run("pg_ctl", "-D", pgdata, "-o", options, "-l", str(self.data / "log"), "-w",
                  "-t", "60", "start")  # fmt: skip
        return f"postgresql://postgres@127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data / "pgdata"), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.data, ignore_errors=True)


def _on_server(server: str, statement: str) -> None:
    """One statement outside a transaction (CREATE and DROP DATABASE need that)."""
    import psycopg2

    connection = psycopg2.connect(f"{server}/postgres")
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(statement)
    finally:
        connection.close()


def new_database(server: str) -> str:
    """An empty database on `server`; its URL."""
    name = f"msptui_{uuid.uuid4().hex[:12]}"
    _on_server(server, f'CREATE DATABASE "{name}"')
    return f"{server}/{name}"


def drop_database(url: str) -> None:
    """Drop a database `new_database` made, closing what is still connected to it: hundreds of
    them would otherwise fill the cluster's disk (about 8 MB each) for the whole run."""
    server, _, name = url.rpartition("/")
    _on_server(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
