"""One status for an integration or the PSA, worked out in one place and shown the same way on
Home's cards, the integration screen, the wizard and `msp-tui integrations list`.

The stored `status` column is what the vendor (or the check) last said; what an operator needs is
whether the thing works and, when it does not, what to do. In order of precedence:

- disconnected: the vendor turned the integration off, or the PSA is not connected;
- failed: the latest sync failed or was cut off (until a sync succeeds), or the vendor reports
  an error;
- waiting: a push vendor has sent nothing yet, a pulled vendor or the PSA was never synced;
- unfinished: setup is missing a piece (no account or service mapped, no board for alerts);
- active.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

KEYS = ("disconnected", "failed", "waiting", "unfinished", "active")


@dataclass(frozen=True)
class Health:
    key: str  # one of KEYS; also the CSS class of a card (-failed ...)
    title: str  # "Last sync failed"
    detail: str = ""  # when and why, what is missing
    next_step: str = ""  # in the app: the key to press
    next_command: str = ""  # in the shell

    @property
    def ok(self) -> bool:
        return self.key == "active"

    def line(self) -> str:
        """The title and the detail, one line: "Setup unfinished: map one service"."""
        return f"{self.title}: {self.detail}" if self.detail else self.title


ACTIVE = Health("active", "Active")


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _last_sync_failed(
    state: str | None, started_at: datetime | None, error: str | None, step: str, command: str
) -> Health | None:
    """The latest sync run failed or was cut off: when and why, until a sync succeeds."""
    if state not in ("failed", "interrupted") or started_at is None:
        return None
    why = error if state == "failed" else "its process ended before it finished"
    return Health("failed", "Last sync failed", f"{_when(started_at)}: {why}", step, command)


@dataclass(frozen=True)
class IntegrationFacts:
    """What the health of one integration is worked out from (read by msp_tui.overview)."""

    name: str
    vendor_title: str
    kind: str  # pull | push
    status: str  # the stored vendor status
    status_reason: str | None
    modules: str
    ever_synced: bool
    run_state: str | None  # the latest sync run's: ok, failed, running, interrupted
    run_started_at: datetime | None
    run_error: str | None
    accounts_mapped: int
    services_mapped: int
    has_alert_route: bool


def integration_health(f: IntegrationFacts) -> Health:
    vendor = f.vendor_title
    if f.status in ("inactive", "disabled"):
        return Health("disconnected", "Disconnected", f"{vendor} set it {f.status}",
                      f"turn it back on in the {vendor} console",
                      f"turn it back on in the {vendor} console")  # fmt: skip
    if failed := _last_sync_failed(f.run_state, f.run_started_at, f.run_error,
                                   "press s to sync again; the last good data is kept",
                                   f"msp-tui sync {f.name}"):  # fmt: skip
        return failed
    if f.status == "error":
        return Health("failed", "Vendor reports an error", f.status_reason or "",
                      f"look in the {vendor} console", f"look in the {vendor} console")  # fmt: skip
    if f.kind == "push" and f.status in ("not_connected", "pending"):
        detail = (f"{vendor} has called; no counts yet (Update Counts sends them)"
                  if f.status == "pending" else f"nothing received from {vendor} yet")  # fmt: skip
        step = f"in the {vendor} console: paste the partner key, Enable, Update Counts"
        return Health("waiting", "Waiting for the vendor", detail,
                      step + " (k makes a new key)", step)  # fmt: skip
    if f.kind == "pull" and not f.ever_synced and f.run_state != "running":
        return Health("waiting", "Waiting for the first sync", "", "press s to sync",
                      f"msp-tui sync {f.name}")  # fmt: skip
    modules = f.modules.split(",")
    missing, keys = [], []
    if "billing" in modules and not f.accounts_mapped:
        missing.append("map one account")
        keys.append("m")
    if "billing" in modules and not f.services_mapped:
        missing.append("map one service")
        keys.append("v")
    if "alerts" in modules and not f.has_alert_route:
        missing.append("choose the board for alert tickets")
        keys.append("l")
    if missing:
        said = ", ".join(missing[:-1]) + " and " + missing[-1] if len(missing) > 1 else missing[0]
        return Health("unfinished", "Setup unfinished", said,
                      f"press enter, then {' / '.join(keys)}",
                      "finish it in the app (msp-tui, then enter on its card)")  # fmt: skip
    return ACTIVE


def psa_health(
    connected: bool, status: str, ever_synced: bool, run_state: str | None,
    run_started_at: datetime | None, run_error: str | None,
) -> Health:  # fmt: skip
    if not connected:
        return Health("disconnected", "Not connected", "", "press enter to connect it (start here)",
                      "msp-tui psa set --help")  # fmt: skip
    if failed := _last_sync_failed(run_state, run_started_at, run_error,
                                   "press s to sync again, enter to check the settings",
                                   "msp-tui sync psa"):  # fmt: skip
        return failed
    if not ever_synced and run_state != "running":
        detail = "saved without a check" if status == "not_connected" else ""
        return Health("waiting", "Waiting for the first sync", detail, "press s to sync",
                      "msp-tui sync psa")  # fmt: skip
    return ACTIVE
