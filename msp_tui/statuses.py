"""The statuses of a reconciliation line and their titles.

A module of its own, importing nothing, so that the CLI's parser can offer them (`msp-tui
reconcile list --status`) without importing the store; msp_tui.reconcile uses and re-exports
them.
"""

from __future__ import annotations

from typing import Literal

Status = Literal["new_revenue", "reconcile", "no_change", "no_vendor_data", "unmapped", "stale"]
STATUS_TITLES = {
    "new_revenue": "New revenue",
    "reconcile": "Reconcile",
    "no_change": "No change",
    "no_vendor_data": "No vendor data",
    "unmapped": "Unmapped",
    "stale": "Stale",
}
