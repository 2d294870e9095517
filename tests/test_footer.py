"""The key bar rebuilds its keys only when the keys it shows change (screens/footer.py)."""

from __future__ import annotations

from pilot_tools import wait_until
from textual.app import App, ComposeResult
from textual.widgets import Input, Static
from textual.widgets._footer import FooterKey

from screens.footer import Footer


class CountedFooter(Footer):
    asked = 0  # recompose calls, skipped or not

    async def recompose(self) -> None:
        self.asked += 1
        await super().recompose()


class Approvable(Static, can_focus=True):
    BINDINGS = [("x", "approve", "Approve")]


class FooterApp(App[None]):
    BINDINGS = [("f5", "bell", "Refresh")]  # not a printable key: an Input would hide it

    def compose(self) -> ComposeResult:
        yield Input(id="first")
        yield Input(id="second")
        yield Approvable("line", id="line")
        yield CountedFooter()


def shown_keys(app: App) -> list[str]:
    return [key.description for key in app.screen.query(FooterKey)]


async def test_a_focus_change_keeps_the_same_keys_and_a_new_binding_shows():
    app = FooterApp()
    async with app.run_test(size=(80, 24)) as pilot:
        footer = app.screen.query_one(CountedFooter)
        app.screen.query_one("#first", Input).focus()
        await wait_until(pilot, lambda: "Refresh" in shown_keys(app))
        keys = list(app.screen.query(FooterKey))

        asked = footer.asked
        app.screen.query_one("#second", Input).focus()  # the same bindings shown
        await wait_until(pilot, lambda: footer.asked > asked)
        assert list(app.screen.query(FooterKey)) == keys  # the very same widgets, not rebuilt

        app.screen.query_one("#line", Approvable).focus()  # a binding of its own
        await wait_until(pilot, lambda: "Approve" in shown_keys(app))
        assert "Refresh" in shown_keys(app)

        app.screen.query_one("#first", Input).focus()  # and gone again with the focus
        await wait_until(pilot, lambda: "Approve" not in shown_keys(app))
        assert "Refresh" in shown_keys(app)
