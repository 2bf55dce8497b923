"""The status bar: script, step, line, function, grad mode, devices and whether the script runs."""

from __future__ import annotations

from textual.content import Content
from textual.message import Message
from textual.widgets import Static

from tensorscope.model import Step
from tensorscope.tui.words import words

STATE_STYLE = {
    "paused": "bold $text-accent",
    "running": "bold $text-warning",
    "finished": "bold $text-success",
    "exception": "bold $text-error",
    "exit": "bold $text-warning",
    "stopped": "bold $text-warning",
    "max-steps": "bold $text-warning",
    "timeout": "bold $text-warning",
    "starting": "$text-muted",
}


def status_content(script: str, step: Step | None, state: str, *, lang: str = "en", simulated: bool = False,
                   position: int = 0, total: int = 0, exit_code: int | None = None,
                   width: int = 0, autoplay: float | None = None, autoplay_on: bool = False) -> Content:
    """One line: `tensorscope · linreg.py · ⏸ paused · step 37 · line 24 in <module> · grad mode ON · ...`
    (in Chinese `… · 第 37 步 · 第 24 行（<module>）· 梯度模式 开 · …`).

    `autoplay`: the pace in seconds when the app steps by itself; `autoplay_on`: whether it is stepping now.
    """
    w = words(lang)
    sep = (" · ", "$text-muted")
    parts: list[str | tuple[str, str]] = [("tensorscope", "bold $text-accent"), sep, (script, "bold"), sep]
    if total and position < total:
        parts.append((w["history"].format(pos=position, total=total), "bold $text-warning"))
    elif autoplay is None or state not in ("paused", "running"):  # (autoplay's own label says those)
        label = w.get(state, state).format(code=exit_code)
        parts.append((label, STATE_STYLE.get(state, "bold")))
    if autoplay is not None and not (total and position < total) and state in ("paused", "running"):
        text = w["autoplay"].format(seconds=f"{autoplay:g}") if autoplay_on else w["autoplay_paused"]
        parts.append((text, "bold $text-success" if autoplay_on else "bold $text-warning"))
    if step is not None:
        where = w["where"].format(step=step.index, line=step.line, function=step.function).split(" · ")
        parts += [sep, where[0], sep, where[1]]  # (zh: `第 26 步 · 第 34 行（<module>）`)
        grad = (w["grad_on"], "$text-success") if step.grad_enabled else (w["grad_off"], "bold $text-warning")
        parts += [sep, grad]
        devices = list(step.devices)
        if devices:
            parts += [sep, f"{w['devices']}{w['colon']}"]
            if len(devices) > 1:
                parts.append((f"{', '.join(devices)} ⚠", "bold $text-error"))
            else:
                parts.append(devices[0])
            if simulated and any(d.startswith("cuda") for d in devices):
                parts.append((f" ({w['simulated']})", "$text-muted"))
    content = Content.assemble(*parts)
    if width and content.cell_length > width:  # the name of the tool is the first thing to go
        parts = parts[2:]
        content = Content.assemble(*parts)
    if width and content.cell_length > width:  # then the separators' spaces
        content = Content.assemble(*[("·", "$text-muted") if p is sep else p for p in parts])
    return content


class StatusBar(Static):
    """Where the script is and what it is doing, in one line at the top."""

    DEFAULT_CSS = """
    StatusBar { height: 1; text-wrap: nowrap; text-overflow: ellipsis; background: $panel; padding: 0 1; }
    """

    class Resized(Message):
        """The terminal's width changed (the bar spans it): the status line and footer are laid out again."""

    def on_resize(self) -> None:
        self.post_message(self.Resized())
