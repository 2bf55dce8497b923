"""The help screen: every key, and what the marks in the panes mean."""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from tensorscope.tui.words import words
from tensorscope.tui.wrap import CellWrapped

KEYS: dict[str, list[tuple[str, str]]] = {
    "en": [
        ("n", "next: run the line, stepping over calls"),
        ("space", "next, as n; with --autoplay: pause / resume autoplay (it stops at new flags)"),
        ("s", "step into: stop at the first line inside a call to your code"),
        ("f", "finish: run until the current function returns"),
        ("c", "continue: run until a breakpoint, a new warning/error flag, or the end"),
        ("ctrl+c", "interrupt: pause the running script at its next line, as in pdb"),
        ("← →", "back / forward through the recorded steps; → at the newest one runs on"),
        ("b", "breakpoint on/off at the source cursor (↑/↓ in Source), or click a number"),
        ("m", "maximize the Source pane (m or esc: back); in Source, shift+← → or h l scroll sideways"),
        ("r", "restart the script from the top (breakpoints stay)"),
        ("p", "plot: the loss (what backward() was called on) and the selected parameter's gradient norm"),
        ("tab", "next pane; ↑/↓ pick a tensor or a flag, Enter explains a flag"),
        ("ctrl+p", "command palette: every action, themes, language"),
        ("?", "this help"),
        ("q", "quit, at once, even while the script runs"),
    ],
    "zh": [
        ("n", "下一行：执行这一行，不进入函数调用"),
        ("空格", "同 n；使用 --autoplay 时：暂停/继续自动播放（遇到新的问题会自动暂停）"),
        ("s", "步入：停在被调用的你的函数的第一行"),
        ("f", "完成：运行到当前函数返回"),
        ("c", "继续：运行到断点、新的警告/错误或结束"),
        ("ctrl+c", "中断：让正在运行的脚本停在它的下一行（同 pdb）"),
        ("← →", "在记录的步骤中后退/前进（在最新一步按 → 会运行下一行）"),
        ("b", "在源代码光标处设置/取消断点（源代码中按 ↑/↓，或点击行号）"),
        ("m", "放大源代码窗格到全宽（按 m 或 esc 还原）；在源代码中按 shift+← → 或 h l 左右滚动"),
        ("r", "从头重新运行脚本（断点保留）"),
        ("p", "曲线：损失（调用 backward() 的那个值）和所选参数的梯度范数"),
        ("tab", "在窗格间移动；↑/↓ 选择张量或问题，回车查看问题的解释"),
        ("ctrl+p", "命令面板：所有操作、主题、语言"),
        ("?", "本帮助"),
        ("q", "立即退出，即使脚本正在运行"),
    ],
}

MARKS: dict[str, list[tuple[str, str, str]]] = {
    "en": [
        ("▶", "$text-accent", "the next line to run"),
        ("✓", "$text-success", "the line just run"),
        ("✖", "$text-error", "where the script raised"),
        ("●", "$text-error", "a breakpoint"),
        ("▒", "$text-warning", "a flagged line (red: error, yellow: warning, blue: info)"),
        ("▒", "$text-warning", "Tensors: a cell that changed since the last pause here"),
    ],
    "zh": [
        ("▶", "$text-accent", "下一行要执行的代码"),
        ("✓", "$text-success", "刚执行完的一行"),
        ("✖", "$text-error", "脚本抛出异常的位置"),
        ("●", "$text-error", "断点"),
        ("▒", "$text-warning", "有问题的行（红：错误，黄：警告，蓝：提示）"),
        ("▒", "$text-warning", "张量表：自本函数上次暂停以来改变的单元格"),
    ],
}


def _right(text: str, cells: int) -> str:
    """`text` right-aligned in `cells` terminal cells (a CJK character takes two)."""
    return " " * max(0, cells - cell_len(text)) + text


def help_content(lang: str, about: str = "") -> Content:
    """Keys, marks, and `about` (the script's docstring) under its own heading."""
    parts: list[str | tuple[str, str]] = []
    for key, text in KEYS.get(lang, KEYS["en"]):
        parts += [(f"{_right(key, 9)}  ", "bold $text-accent"), text, "\n"]
    parts.append("\n")
    for mark, style, text in MARKS.get(lang, MARKS["en"]):
        parts += [(f"{_right(mark, 9)}  ", f"bold {style}"), text, "\n"]
    if about:
        parts += ["\n", (words(lang)["about"], "bold $text-accent"), "\n", about, "\n"]
    return Content.assemble(*parts)


class HelpScreen(ModalScreen[None]):
    """Keys and marks; any of escape, q or ? closes it."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 90; max-width: 100%; height: auto; max-height: 100%;
        border: thick $accent; background: $surface; padding: 1 2;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss", "Close"),
    ]

    def __init__(self, lang: str = "en", about: str = "") -> None:
        super().__init__()
        self.lang = lang
        self.about = about
        """The script's docstring: what to watch in this scenario."""
        close = words(lang)["k_close"]
        self._bindings.key_to_bindings = {
            key: [replace(b, description=close) for b in items]
            for key, items in self._bindings.key_to_bindings.items()
        }

    def compose(self) -> ComposeResult:
        with VerticalScroll() as scroll:
            scroll.border_title = words(self.lang)["help_title"]
            scroll.border_subtitle = words(self.lang)["help_close"]
            yield Static(CellWrapped(help_content(self.lang, self.about), hang=11))
