"""The Source pane: the script with the next line (▶), the line just run (✓), breakpoints and flags."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.segment import Segment
from textual import events
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.geometry import Size
from textual.highlight import highlight
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tensorscope.model import Step
from tensorscope.tui.keys import ROW_CURSOR_KEYS


def highlighted_lines(lines: list[str]) -> list[Content]:
    """Each source line as syntax-highlighted Content (theme-aware styles)."""
    if not lines:
        return []
    content = highlight("\n".join(lines), language="python")
    split = content.split("\n", allow_blank=True)
    if len(split) < len(lines):
        split.extend(Content("") for _ in range(len(lines) - len(split)))
    return split[: len(lines)]


class SourceView(ScrollView, can_focus=True):
    """One file of the user's code, marked with where the script is, what just ran and what was flagged."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "source--gutter",
        "source--cursor",
        "source--next",
        "source--done",
        "source--raised",
        "source--error",
        "source--warning",
        "source--info",
        "source--breakpoint",
        "source--marker-next",
        "source--marker-done",
        "source--marker-raised",
    }
    DEFAULT_CSS = """
    SourceView > .source--gutter { color: $foreground 45%; }
    SourceView > .source--cursor { color: $foreground; background: $foreground 15%; text-style: bold; }
    SourceView > .source--next { background: $primary 35%; }
    SourceView > .source--done { background: $success 10%; }
    SourceView > .source--raised { background: $error 35%; }
    SourceView > .source--error { background: $error 22%; }
    SourceView > .source--warning { background: $warning 22%; }
    SourceView > .source--info { background: $secondary 14%; }
    SourceView > .source--breakpoint { color: $error; text-style: bold; }
    SourceView > .source--marker-next { color: $accent; text-style: bold; }
    SourceView > .source--marker-done { color: $success; text-style: bold; }
    SourceView > .source--marker-raised { color: $error; text-style: bold; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        *ROW_CURSOR_KEYS,
        Binding("home", "cursor_to(1)", "First line", show=False),
        Binding("end", "cursor_to(-1)", "Last line", show=False),
        Binding("shift+left,h", "pan(-1)", "Scroll left", show=False),
        Binding("shift+right,l", "pan(1)", "Scroll right", show=False),
    ]
    PAN = 8
    """Columns the code moves sideways per key press (the gutter stays put)."""

    @dataclass
    class BreakpointClicked(Message):
        """A line number was clicked: toggle the breakpoint there."""

        file: str
        line: int

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.file = ""
        self.lines: list[str] = []
        self._highlighted: dict[str, list[Content]] = {}
        self._highlighted_text: dict[str, list[str]] = {}
        self._given: list[str] | None = None
        """The list of lines last shown (the app passes the same list for each Step of a file)."""
        self._code: list[Content] = []
        self.next_line: int | None = None
        """The line about to run (▶)."""
        self.done_line: int | None = None
        """The line just run (✓)."""
        self.raised_line: int | None = None
        """Where the script raised (✖)."""
        self.breakpoints: set[int] = set()
        self.conditions: dict[tuple[str, int], str] = {}
        """(file, line) -> a conditional breakpoint's condition: marked ◆, the condition after the code."""
        self.flag_lines: dict[int, str] = {}
        """Line → worst severity of the flags raised there so far."""
        self.cursor_line = 1
        """Where `b` sets a breakpoint; follows ▶ on every step, moved with ↑/↓ or a click."""
        self._number_width = 3
        self._strips: dict[tuple[object, ...], Strip] = {}

    # --- what to show -----------------------------------------------------------------------------

    def show(
        self,
        file: str,
        lines: list[str],
        *,
        next_line: int | None,
        done_line: int | None,
        raised_line: int | None,
        breakpoints: set[int],
        flag_lines: dict[int, str],
    ) -> None:
        """Show `file` with its markers and bring the current line into view."""
        if file != self.file or lines is not self._given:
            expanded = [line.expandtabs(8) for line in lines]
            if expanded != self._highlighted_text.get(file):  # new, or edited since (a restart rereads it)
                self._highlighted[file] = highlighted_lines(expanded)
                self._highlighted_text[file] = expanded
                self._strips.clear()
            self.file = file
            self._given = lines
            self.lines = expanded
            self._code = self._highlighted[file]
            self._number_width = max(3, len(str(len(self.lines))))
            width = self.gutter_width + max((Content(line).cell_length for line in self.lines), default=0)
            self.virtual_size = Size(width, len(self.lines))
        self.next_line, self.done_line, self.raised_line = next_line, done_line, raised_line
        self.breakpoints = breakpoints
        self.flag_lines = flag_lines
        focus = raised_line or next_line or done_line
        if focus:
            self.cursor_line = focus
            self._keep_visible(focus)
        self.refresh()

    def show_step(self, step: Step, lines: list[str], *, breakpoints: set[int], flag_lines: dict[int, str],
                  title: str = "Source") -> None:
        """Show the file `step` is in, marked where it stands, with the call stack in the border."""
        running = step.event in ("line", "return")
        done = step.prev_line if step.prev_file in (None, step.file) else None
        if step.event == "end":
            done = step.line
        self.show(step.file, lines, next_line=step.line if running else None, done_line=done,
                  raised_line=step.line if step.event == "exception" else None,
                  breakpoints=breakpoints, flag_lines=flag_lines)
        shown = f"{title} · {step.file}"
        if self.border_title != shown:  # (setting it redraws the whole pane, even to the same words)
            self.border_title = shown
        calls = " › ".join(f"{fr.function}:{fr.line}" for fr in step.stack)
        self.border_subtitle = calls if len(step.stack) > 1 else ""

    def set_breakpoints(self, breakpoints: set[int]) -> None:
        self.breakpoints = breakpoints
        self.refresh()

    def set_conditions(self, conditions: dict[tuple[str, int], str]) -> None:
        """The conditional breakpoints' conditions, by (file, line)."""
        if conditions != self.conditions:
            self.conditions = conditions
            self.refresh()

    @property
    def gutter_width(self) -> int:
        """`●` + line number + marker, with spaces: what stays put when the code scrolls sideways."""
        return 1 + self._number_width + 3

    def _keep_visible(self, line: int) -> None:
        height = self.scrollable_content_region.height or self.size.height
        top = int(self.scroll_y)
        if height <= 0:
            return
        margin = min(2, height // 4)
        if line - 1 < top + margin or line - 1 > top + height - 1 - margin:
            self.scroll_to(y=max(0, line - 1 - height // 3), animate=False, immediate=True)

    # --- cursor and mouse -------------------------------------------------------------------------

    def action_cursor(self, delta: int) -> None:
        self._move_cursor(self.cursor_line + delta)

    def action_pan(self, direction: int) -> None:
        """Scroll the code sideways (shift+←/→ or h/l: ← → are the app's, for the history)."""
        self.scroll_to(x=max(0, int(self.scroll_x) + direction * self.PAN), animate=False, immediate=True)

    def on_resize(self) -> None:
        """A new size (the terminal, or the pane maximized): ▶ (or the cursor) stays in view."""
        line = self.raised_line or self.next_line or self.done_line or self.cursor_line
        if line:
            self.call_after_refresh(self._keep_visible, line)

    def action_page(self, direction: int) -> None:
        height = max(1, self.scrollable_content_region.height - 1)
        self._move_cursor(self.cursor_line + direction * height)

    def action_cursor_to(self, line: int) -> None:
        self._move_cursor(len(self.lines) if line < 0 else line)

    def _move_cursor(self, line: int) -> None:
        if not self.lines:
            return
        self.cursor_line = max(1, min(len(self.lines), line))
        self._keep_visible(self.cursor_line)
        self.refresh()

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or not self.lines:
            return
        line = int(self.scroll_y) + offset.y + 1
        if not 1 <= line <= len(self.lines):
            return
        self.cursor_line = line
        self.refresh()
        if offset.x < self.gutter_width:
            self.post_message(self.BreakpointClicked(self.file, line))

    # --- drawing ----------------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        self._strips.clear()  # the theme changed
        super().notify_style_update()

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        n = scroll_y + y + 1
        width = self.scrollable_content_region.width
        if n > len(self.lines) or width <= 0:
            return Strip.blank(width, self.get_visual_style().rich_style)
        key = (self.file, n, scroll_x, width, self._line_kind(n), n in self.breakpoints, self._mark(n),
               self.conditions.get((self.file, n)),
               n == self.cursor_line and (self.has_focus or n != self.next_line))
        strip = self._strips.get(key)
        if strip is None:
            if len(self._strips) > 2048:
                self._strips.clear()
            strip = self._strips[key] = self._render(n, scroll_x, width)
        return strip

    def _line_kind(self, n: int) -> str:
        """Which background a line gets: where it raised, the next line, a flag, or the line just run."""
        if n == self.raised_line:
            return "raised"
        if n == self.next_line:
            return "next"
        severity = self.flag_lines.get(n)
        if severity is not None:
            return severity
        if n == self.done_line:
            return "done"
        return ""

    def _mark(self, n: int) -> str:
        if n == self.raised_line:
            return "✖"
        if n == self.next_line:
            return "▶"
        if n == self.done_line:
            return "✓"
        return ""

    def _render(self, n: int, scroll_x: int, width: int) -> Strip:
        kind = self._line_kind(n)
        style = self.get_visual_style(f"source--{kind}") if kind else self.get_visual_style()
        rich = style.rich_style

        def part(text: str, component: str) -> Segment:
            return Segment(text, (style + self.get_visual_style(component, partial=True)).rich_style)

        condition = self.conditions.get((self.file, n)) if n in self.breakpoints else None
        dot = "◆" if condition else "●"
        bp = part(dot, "source--breakpoint") if n in self.breakpoints else Segment(" ", rich)
        on_cursor = n == self.cursor_line and (self.has_focus or n != self.next_line)
        number = part(f"{n:>{self._number_width}}", "source--cursor" if on_cursor else "source--gutter")
        marker = self._mark(n)
        component = {"✖": "source--marker-raised", "▶": "source--marker-next", "✓": "source--marker-done"}
        mark = part(f" {marker} ", component[marker]) if marker else Segment("   ", rich)
        gutter = Strip([bp, number, mark])
        parse = self.app.stylesheet.parse_style
        code = self._code[n - 1] if n - 1 < len(self._code) else Content(self.lines[n - 1])
        segments = [Segment(text, s.rich_style) for text, s in code.render(style, end="", parse_style=parse)]
        code_width = max(0, width - self.gutter_width)
        label = Strip([part(f" ◆ {condition} ", "source--gutter")]) if condition else None
        room = code_width - min(label.cell_length, code_width // 2) if label is not None else code_width
        body = Strip(segments).crop_extend(scroll_x, scroll_x + room, rich)
        if label is not None:  # the condition, at the right of the line, always in view
            body = Strip.join([body, label.crop_extend(0, code_width - room, rich)])
        return Strip.join([gutter, body]).simplify()

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()
