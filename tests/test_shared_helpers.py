"""The helpers that replaced repeated blocks: a key that moves the Tensors cursor picks the row
(`LineTable.cursor_keyed`), the closable modal screens' base, `Pane`, and reading `.grad` statically."""

from __future__ import annotations

import warnings

import pytest
import torch
from pilot_support import wait_until
from textual.app import App, ComposeResult

from tensorscope.engine.static import static_grad, stored_grad
from tensorscope.model import Step, TensorView
from tensorscope.tui.closable import ClosableScreen
from tensorscope.tui.condition import ConditionScreen
from tensorscope.tui.databreak import DataBreakScreen
from tensorscope.tui.help import HelpScreen
from tensorscope.tui.panes import Pane
from tensorscope.tui.tensors import TensorTable
from tensorscope.tui.words import key_words


def _tensor(name: str) -> TensorView:
    return TensorView(name, (2,), "float32", "cpu", False, True, None, 0, 2, preview="[1, 2]")


class Host(App[None]):
    """A Tensors pane alone, recording what it picks."""

    table = Pane("#tensors", TensorTable)

    def __init__(self) -> None:
        super().__init__()
        self.picked: list[str] = []

    def compose(self) -> ComposeResult:
        yield TensorTable(id="tensors")

    def on_tensor_table_picked(self, message: TensorTable.Picked) -> None:
        self.picked.append(message.name)


NAMES = [f"t{i}" for i in range(8)]


@pytest.mark.parametrize(("start", "key"), [
    (3, "up"), (3, "down"), (0, "pagedown"), (7, "pageup"), (5, "ctrl+home"), (2, "ctrl+end"),
])
async def test_a_cursor_key_picks_the_row_it_moves_to(start: int, key: str) -> None:
    app = Host()
    async with app.run_test(size=(80, 40)) as pilot:
        table = app.table
        table.show(Step(0, "s.py", 1, "<module>", 0, tensors=tuple(_tensor(n) for n in NAMES)), None)
        table.focus()
        await wait_until(pilot, lambda: table.row_count == len(NAMES) and table.size.height > len(NAMES),
                         "the rows, laid out")
        table.move_cursor(row=start)
        assert app.picked == []  # (moving the cursor from code picks nothing)
        await pilot.press(key)
        assert table.cursor_row != start
        assert app.picked == [NAMES[table.cursor_row]]


def test_pane_reads_the_widget_by_its_id_and_is_itself_on_the_class() -> None:
    assert isinstance(Host.table, Pane) and Host.table.selector == "#tensors"
    assert Host.table.cls is TensorTable


@pytest.mark.parametrize("make", [
    lambda: HelpScreen("zh"), lambda: ConditionScreen(3, "zh"), lambda: DataBreakScreen("w", "zh"),
])
def test_the_modal_screens_share_the_closable_base(make: object) -> None:
    screen = make()  # type: ignore[operator]
    assert isinstance(screen, ClosableScreen) and screen.lang == "zh"


async def test_a_closable_screen_names_its_dismiss_key_in_its_language() -> None:
    class Shown(App[None]):
        def on_mount(self) -> None:
            self.push_screen(HelpScreen("zh"))

    app = Shown()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help screen")
        described = {a.binding.description for a in app.screen.active_bindings.values()
                     if a.binding.action == "dismiss"}
        assert described == {key_words("zh")["dismiss"]}


def test_stored_grad_reads_a_leafs_grad_and_never_a_non_leafs() -> None:
    w = torch.ones(2, requires_grad=True)
    assert stored_grad(w) is None
    (w * 2).sum().backward()
    assert stored_grad(w) is w.grad
    y = w * 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # reading a non-leaf's .grad would warn
        assert stored_grad(y) is None
    y.retain_grad()
    y.sum().backward()
    assert stored_grad(y) is y.grad


def test_static_grad_needs_a_name_that_reaches_a_tensor() -> None:
    w = torch.ones(2, requires_grad=True)
    w.sum().backward()
    assert static_grad("w", {"w": w}, {}) is w.grad
    assert static_grad("v", {}, {"v": torch.ones(1)}) is None
    with pytest.raises(LookupError):
        static_grad("n", {"n": 3}, {})
    with pytest.raises(LookupError):
        static_grad("missing", {}, {})
