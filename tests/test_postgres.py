"""A store on a real PostgreSQL, shared by real processes: one writer at a time across them;
what both engines must take alike."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from processes import share_psa_keys, wait_while_running
from recon_world import cw_faults, line_for, mapped_demo, sim_quantity

from adapters.sandbox.world import RECONCILE
from msp_tui.context import open_context
from msp_tui.reconcile import reconciliation_lines
from msp_tui.store.db import process_lock, writing
from msp_tui.store.models import Decision, Integration, VendorAccount
from msp_tui.sync import _upsert
from msp_tui.writeback import decide

HOLD = """
import sys, time
from msp_tui.context import open_context
from msp_tui.store.db import process_lock
ctx = open_context(sys.argv[1])
with process_lock("outbox") as ours:
    print("held" if ours else "busy", flush=True)
    time.sleep(120)  # the lock is held until this process is killed
"""


def cli(store: str, *args: str) -> subprocess.Popen:
    env = {**os.environ, "MSP_TUI_SECRETS": "file"}
    return subprocess.Popen([sys.executable, "-m", "msp_tui", "--db", store, *args],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)  # fmt: skip


@pytest.mark.postgres
def test_the_writer_lock_spans_processes_and_dies_with_its_holder(pg_store: str) -> None:
    ctx = open_context(pg_store)
    try:
        holder = subprocess.Popen([sys.executable, "-c", HOLD, pg_store], text=True,
                                  stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)  # fmt: skip
        assert holder.stdout.readline().strip() == "held"
        with process_lock("outbox") as ours:
            assert not ours  # another process holds it
        with process_lock("alerts") as ours:
            assert ours  # another name is another lock
        holder.kill()  # SIGKILL: its connection drops, and the server frees the lock
        holder.wait(timeout=10)
        deadline = time.monotonic() + 10
        while True:
            with process_lock("outbox") as ours:
                if ours:
                    break
            assert time.monotonic() < deadline, "the lock outlived its holder"
            time.sleep(0.1)
    finally:
        ctx.close()


@pytest.mark.postgres
def test_two_outbox_pushes_write_each_decision_once(pg_store: str) -> None:
    """Two `msp-tui outbox push` at once on one PostgreSQL store: the first holds the writer
    lock (its PSA call held), the second leaves the work to it; each decision is written once."""
    with mapped_demo(db=pg_store) as (demo, ctx):
        share_psa_keys(ctx)
        lines = [line_for(demo, RECONCILE)]
        lines += [line for line in reconciliation_lines()
                  if line.status == "reconcile" and len(line.line_ids) == 1
                  and line.key != lines[0].key][:2]  # fmt: skip
        decisions = [decide(line, "approve", "tester") for line in lines]
        faults = cw_faults(demo)
        faults.log.clear()
        faults.hang = 1  # the first worker's first PSA call waits until released
        first = cli(pg_store, "outbox", "push")
        wait_while_running(first, lambda: faults.in_flight)
        second = cli(pg_store, "outbox", "push")
        out, _ = second.communicate(timeout=60)
        assert "another msp-tui is writing" in out, out
        faults.release_hangs()
        out, _ = first.communicate(timeout=120)
        assert first.returncode == 0, out
        patches = [path for method, path in faults.log if method == "PATCH"]
        assert len(patches) == len(decisions) == len(set(patches)), (patches, out)
        for decision, line in zip(decisions, lines, strict=True):
            assert Decision.get_by_id(decision.id).state == "pushed"
            assert sim_quantity(demo, line) == float(line.vendor_quantity)


@pytest.fixture(params=["sqlite", "postgres"])
def any_store(request, tmp_path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "store.db")
    return request.getfixturevalue("pg_store")


def test_an_id_twice_in_one_batch_keeps_the_last(any_store: str) -> None:
    """A vendor reply naming one account twice: a 500 or a failed sync on PostgreSQL before."""
    ctx = open_context(any_store)
    try:
        integration = Integration.create(name="st", vendor="spamtitan", kind="pull")
        rows = [{"integration": integration.id, "external_id": "7", "name": name}
                for name in ("Acme", "Acme Dental")]  # fmt: skip
        with writing():
            _upsert(VendorAccount, rows, [VendorAccount.integration, VendorAccount.external_id])
        [account] = VendorAccount.select()
        assert account.name == "Acme Dental"
    finally:
        ctx.close()
