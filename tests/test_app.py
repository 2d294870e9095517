from __future__ import annotations

from msp_tui.app import MspTuiApp
from msp_tui.context import Context
from msp_tui.store.models import Integration, VendorAccount
from screens.home import EmptyState, IntegrationTable


async def test_home_shows_the_empty_state_at_80x24_and_q_quits(ctx: Context) -> None:
    app = MspTuiApp(ctx)
    async with app.run_test(size=(80, 24)) as pilot:
        empty = app.screen.query_one(EmptyState)
        assert empty.display
        assert "No integrations yet." in str(empty.content)
        assert empty.region.width <= 80 and empty.region.height > 0
        assert not app.screen.query_one(IntegrationTable).display
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running
    assert app.return_code == 0


async def test_home_lists_integrations_with_counts(ctx: Context) -> None:
    spamtitan = Integration.create(
        name="spamtitan", vendor="spamtitan", kind="pull", status="active"
    )
    for n in range(3):
        VendorAccount.create(integration=spamtitan, external_id=str(n), name=f"Customer {n}")
    app = MspTuiApp(ctx)
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.screen.query_one(IntegrationTable)
        assert table.display and table.row_count == 1
        assert table.get_row("spamtitan")[1:3] == ["SpamTitan", "Active"]
        assert table.get_row("spamtitan")[4:] == ["3", "0", "3"]
        await pilot.press("question_mark")
        assert app.screen.query("HelpPanel")
        await pilot.press("f1")
        assert not app.screen.query("HelpPanel")


def test_every_binding_we_declare_has_an_id() -> None:
    """Ids make keys remappable and let the footer and help explain themselves."""
    import importlib
    import pkgutil

    from textual.binding import Binding
    from textual.dom import DOMNode

    import screens

    for info in pkgutil.walk_packages(screens.__path__, "screens."):
        importlib.import_module(info.name)
    classes = [MspTuiApp]
    pending = list(DOMNode.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.startswith(("screens.", "msp_tui.")):
            classes.append(cls)
    declared = [(cls.__name__, b) for cls in classes for b in cls.__dict__.get("BINDINGS", [])]
    assert declared
    missing = [(name, b) for name, b in declared if not (isinstance(b, Binding) and b.id)]
    assert missing == []
