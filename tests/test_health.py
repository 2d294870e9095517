"""One status model: worked out once (msp_tui.health), shown alike on Home's cards, the
integration screen and `msp-tui integrations list`."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from office import office
from pilot_tools import wait_until

from msp_tui.app import MspTuiApp
from msp_tui.cli import main
from msp_tui.context import Context
from msp_tui.health import IntegrationFacts, integration_health
from msp_tui.reconcile import ReviewSummary
from msp_tui.store.models import (
    SyncRun,
)
from screens.home import Card, alerts_card, reconcile_card
from screens.integration import IntegrationScreen

AT = datetime(2026, 11, 30, 9, 15)
SETTLED = IntegrationFacts(
    name="st", vendor_title="SpamTitan", kind="pull", status="active", status_reason=None,
    modules="billing", ever_synced=True, run_state="ok", run_started_at=AT, run_error=None,
    accounts_mapped=3, services_mapped=1, has_alert_route=False,
)  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "key", "says"),
    [
        ({}, "active", "Active"),
        ({"run_state": "failed", "run_error": "SpamTitan refused the key (401)"}, "failed",
         "Last sync failed: 2026-11-30 09:15 UTC: SpamTitan refused the key (401)"),
        ({"run_state": "interrupted"}, "failed",
         "Last sync failed: 2026-11-30 09:15 UTC: its process ended before it finished"),
        ({"services_mapped": 0}, "unfinished", "Setup unfinished: map one service"),
        ({"modules": "billing,alerts"}, "unfinished",
         "Setup unfinished: choose the board for alert tickets"),
        ({"ever_synced": False, "run_state": None}, "waiting", "Waiting for the first sync"),
        ({"kind": "push", "status": "not_connected", "vendor_title": "Mailprotector"}, "waiting",
         "Waiting for the vendor: nothing received from Mailprotector yet"),
        ({"kind": "push", "status": "pending", "vendor_title": "Mailprotector"}, "waiting",
         "Waiting for the vendor: Mailprotector has called; no counts yet (Update Counts sends"
         " them)"),
        ({"kind": "push", "status": "inactive", "vendor_title": "Mailprotector"},
         "disconnected", "Disconnected: Mailprotector set it inactive"),
        # a failed sync outranks a missing mapping; a vendor's "off" outranks both
        ({"run_state": "failed", "run_error": "x", "services_mapped": 0}, "failed", None),
        ({"status": "disabled", "run_state": "failed"}, "disconnected", None),
    ],
)  # fmt: skip
def test_the_status_of_an_integration(changes: dict, key: str, says: str | None) -> None:
    health = integration_health(dataclasses.replace(SETTLED, **changes))
    assert health.key == key
    if says is not None:
        assert health.line() == says
    assert bool(health.next_step) == (key != "active")


async def test_a_failed_sync_is_said_alike_on_the_card_the_screen_and_the_cli(
    ctx: Context, db_path: Path, capsys
) -> None:
    office("failed", "SpamTitan refused the API key (401)")
    app = MspTuiApp(ctx, serve_port=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.focused, Card))
        card = {c.card.key: c for c in app.screen.query(Card)}["spamtitan"]
        assert card.card.lines[:3] == (
            "Last sync failed · last sync 2026-11-30 09:15",
            "2026-11-30 09:15 UTC: SpamTitan refused the API key (401)",
            "Next: press s to sync again; the last good data is kept",
        )
        assert card.has_class("-failed")
        while app.focused is not card:
            await pilot.press("down")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, IntegrationScreen))
        text = str(app.screen.query_one("#integration-summary").render())
        assert "Status: Last sync failed: 2026-11-30 09:15 UTC: SpamTitan refused" in text
    capsys.readouterr()
    assert main(["--db", str(db_path), "integrations", "list"]) == 0
    out = capsys.readouterr().out
    assert "Last sync failed" in out and "SpamTitan refused the API key (401)" in out
    assert "next: msp-tui sync spamtitan" in out
    assert main(["--db", str(db_path), "integrations", "list", "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert (listed["status"], listed["vendor_status"]) == ("failed", "active")


async def test_a_good_sync_clears_the_failure(ctx: Context) -> None:
    st = office("failed", "timeout")
    SyncRun.create(integration=st, status="ok", started_at=AT)
    app = MspTuiApp(ctx, serve_port=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.focused, Card))
        card = {c.card.key: c for c in app.screen.query(Card)}["spamtitan"]
        assert card.card.lines[0] == "Active · last sync 2026-11-30 09:15"
        assert card.card.lines[1] == "4 accounts · 1 services · 1 unmapped"


def test_cards_count_in_words() -> None:
    """B9: "1 lines" and "1 tickets"."""
    one = reconcile_card(ReviewSummary(1, Decimal("2.50"), 0)).lines[0]
    assert one == "1 line to review · revenue change +2.50"
    assert reconcile_card(ReviewSummary(2, Decimal(0), 0)).lines[0].startswith("2 lines")
    counts = {"failed": 0, "queued": 0, "created": 1}
    assert alerts_card(counts).lines[0] == "0 failed · 0 queued · 1 ticket created"
