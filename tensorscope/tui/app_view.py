"""What the app shows: every pane drawn from the Step on screen, and the status line."""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from rich.cells import cell_len, chop_cells
from textual.app import App
from textual.content import Content
from textual.reactive import var

from tensorscope.engine import Command, ScriptTarget
from tensorscope.lessons import first_line, translated
from tensorscope.model import Evaluation, Flag, Step, Trace
from tensorscope.optim_diff import chosen_optimizer, last_change
from tensorscope.tui.evaluation import EvaluationPane
from tensorscope.tui.flags import FlagList
from tensorscope.tui.history import History
from tensorscope.tui.inspector import Inspector
from tensorscope.tui.narration import Narration
from tensorscope.tui.nextline import NextLine
from tensorscope.tui.output import OutputPane
from tensorscope.tui.panes import Pane
from tensorscope.tui.plot import PlotScreen
from tensorscope.tui.reasons import reason_text
from tensorscope.tui.replay import ReplayRunner
from tensorscope.tui.runner import Runner
from tensorscope.tui.source import SourceView
from tensorscope.tui.status import StatusBar, status_content
from tensorscope.tui.tensors import TensorTable
from tensorscope.tui.watches import WatchList
from tensorscope.tui.words import words

END_STATES = {"finished", "exception", "exit", "stopped", "max-steps", "timeout"}
"""The states a run ends in."""


class ScreenView(App[None]):
    """The app's state and its drawing (the run's messages and the keys are in the subclasses)."""

    lang: var[str] = var("en", init=False)
    """The language of the labels and explanations (its watcher redraws the status line and the keys)."""
    state: var[str] = var("starting", init=False, always_update=True)
    """`starting`, `paused`, `running`, or how the run ended (`finished`, `exception`, `exit`, ...); every
    assignment redraws the status line."""
    autoplaying: var[bool] = var(False, init=False)
    """Whether autoplay is stepping now (space pauses it; so does a new warning or error flag)."""
    _drawn = False
    """Whether the panes are there to draw on (the watchers wait for the app's mount)."""
    runner: Runner | ReplayRunner
    target: ScriptTarget
    simulated: bool
    autoplay: float | None
    clock: Callable[[], float]
    about: str
    history: History
    exit_code: int | None
    _intro_since: float | None
    _live: int
    _pinned: Flag | str | None
    _chosen: str | None
    _stdin_seen: int
    _watch: int | None
    _queued: deque[Command]
    _hinted: dict[str, float]
    _sources: dict[str, list[str]]
    _frame: int | None
    """The frame chosen with u/d: an index into the paused Step's stack (None: the innermost)."""
    _framed: Step | None
    """The paused Step re-made for that frame (None until the engine sends it)."""
    _watched_now: tuple[int, tuple[Evaluation, ...]] | None
    """The watches evaluated again after they changed: (Step.index, values)."""
    _evaluations: list[Evaluation]
    _waiting: list[str]
    _ended_trace: Trace | None

    def watch_lang(self) -> None:
        """The status line and the footer's keys in the new language."""
        if self._drawn:
            self.refresh_bindings()
            self._show_status()

    def watch_state(self) -> None:
        """The status line for the new state."""
        if self._drawn:
            self._show_status()

    def watch_autoplaying(self) -> None:
        """The status line says whether autoplay steps or is paused."""
        if self._drawn:
            self._show_status()

    source = Pane("#source", SourceView)
    tensors = Pane("#tensors", TensorTable)
    inspector = Pane("#inspector", Inspector)
    flags = Pane("#flags", FlagList)
    output = Pane("#output", OutputPane)

    @property
    def current_step(self) -> Step | None:
        """The Step on screen."""
        return self.history.current

    def _show_plot(self) -> None:
        """Draw the plot screen, when it is open, from the Steps up to the one on screen."""
        screen = self.screen
        if not isinstance(screen, PlotScreen) or not screen.is_mounted:
            return
        name, loss = self.history.loss_series()
        param = self._chosen or self.tensors.selected_name
        grad = self.history.grad_norm_series(param) if param else []
        screen.show(name, loss, param, grad)


    def _source_lines(self, file: str) -> list[str]:
        lines = self._sources.get(file)
        if lines is None:
            try:
                lines = Path(file).read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError:
                lines = []
            self._sources[file] = lines
        return lines

    def _show_source_only(self) -> None:
        file = self.target.display
        self.source.show(file, self._source_lines(file), next_line=None, done_line=None, raised_line=None,
                         breakpoints={ln for f, ln in self.runner.breakpoints if f == file}, flag_lines={})
        self.query_one(NextLine).show_step(None, "")

    def _shown_step(self) -> Step | None:
        """The Step on screen as the chosen frame sees it (u/d), at the live pause; else `history.current`."""
        step = self.history.current
        framed = self._framed
        if step is None or framed is None or not self.history.at_end or framed.index != step.index:
            return step
        index = framed.selected
        if index is None or not 0 <= index < len(framed.stack) - 1:
            return framed
        frame = framed.stack[index]  # the caller's line: where it waits for the call to return
        return dataclasses.replace(framed, file=frame.file, line=frame.line, function=frame.function,
                                   event="line", prev_line=None, prev_file=None)

    def _show_step(self) -> None:
        """Every pane from the Step on screen."""
        step = self._shown_step()
        if step is None:
            self._show_status()
            return
        framed = step is not self.history.current
        self._show_source(step)
        lines = self._source_lines(step.file)
        code = lines[step.line - 1] if 0 < step.line <= len(lines) else ""
        self.query_one(NextLine).show_step(step, code, self.lang)
        self.tensors.show(step, None if framed else self.history.baseline(), simulated=self.simulated)
        flags = self.history.flags()
        self.flags.show(flags, self.lang)
        w = words(self.lang)
        self.tensors.set_title(f"{w['tensors']} · {len(step.tensors)}")
        title = f"{w['flags']} · {len(flags)}" if flags else w["flags"]
        if self.flags.border_title != title:  # (setting it redraws the pane, even to the same words)
            self.flags.border_title = title
        self.output.show(self.history.output())
        self._show_plot()
        self._show_narration(step)
        self._show_inspector()
        self._show_watches()
        self._show_evaluations()
        self._check_stdin()
        self._show_status()

    def _show_watches(self) -> None:
        """The watch rows, as evaluated at the pause on screen."""
        if not self._drawn:
            return
        step = self._shown_step()
        values = step.watches if step is not None else ()
        now = self._watched_now if step is self.history.current else None
        if now is not None and step is not None and now[0] == step.index and self.history.at_end:
            values = now[1]
        exprs = list(self.runner.watches) if isinstance(self.runner, Runner) else [ev.source for ev in values]
        pane = self.query_one("#watches", WatchList)
        pane.show(exprs, values, self.lang, self.simulated)
        pane.border_title = words(self.lang)["watches"]

    def _show_evaluations(self) -> None:
        """The Evaluation pane: this run's evaluations (a replay: those recorded up to the Step on screen)."""
        if not self._drawn:
            return
        if isinstance(self.runner, ReplayRunner):
            step = self.history.current
            at = step.index if step is not None else -1
            shown = [ev for ev in self.runner.trace.evaluations if ev.step <= at]
        else:
            shown = self._evaluations
        pane = self.query_one("#evaluation", EvaluationPane)
        pane.show(shown, self._waiting, self.lang, self.simulated)
        pane.border_title = words(self.lang)["evaluation"]
        self.query_one("#right").set_class(bool(shown or self._waiting), "-evals")

    def _show_source(self, step: Step) -> None:
        file = step.file
        self.source.show_step(step, self._source_lines(file),
                              breakpoints={ln for f, ln in self.runner.breakpoints if f == file},
                              flag_lines=self.history.flag_lines(file, self.target.display),
                              title=words(self.lang)["source"])

    def _show_narration(self, step: Step) -> None:
        lines = self._source_lines(step.prev_file or step.file)
        ran = lines[step.prev_line - 1] if step.prev_line and step.prev_line <= len(lines) else ""
        about = first_line(translated(self.about, self.lang))
        self.query_one(Narration).show_step(self.history, ran, self.lang, about)

    def _show_inspector(self) -> None:
        self._pick_inspector()
        # a flag or an error explained: on a short screen the Tensors table gives the Inspector its rows
        explaining = self.inspector.showing.startswith(("flag:", "exception"))
        self.query_one("#right").set_class(explaining, "-explaining")

    def _pick_inspector(self) -> None:
        step = self._shown_step()
        inspector = self.inspector
        if step is None:
            return
        pinned = self._pinned
        if isinstance(pinned, Flag):
            inspector.show_flag(pinned, self.lang)
            return
        if pinned is None and step.exception is not None:
            eof = step.exception.type == "EOFError" and self._stdin_reads()
            note = words(self.lang)["stdin"] if eof else ""
            inspector.show_exception(step.exception, step.flags, self.lang, note)
            return
        serious = [f for f in step.flags if f.severity != "info"]
        if pinned is None and serious:
            inspector.show_flag(serious[-1], self.lang)
            return
        tensors = self.tensors
        if isinstance(pinned, str):
            self._chosen = pinned
        opt = chosen_optimizer(step, self._chosen)
        if opt is not None:
            change = last_change(self.history.steps, self.history.index, opt.name, self.lang)
            inspector.show_optimizer(opt, change, self.lang)
            return
        name = self._chosen if self._chosen and step.tensor(self._chosen) else None
        if name is None and tensors.changed:
            name = tensors.changed[0]  # follow what just changed until the user picks a tensor
            tensors.select(name)
        if name is None:
            name = tensors.selected_name
        tensor = step.tensor(name) if name else None
        if tensor is None and step.tensors:
            tensor = step.tensors[0]
        inspector.show_tensor(tensor, self.lang, self.simulated, step.optimizers)

    @property
    def _watching(self) -> bool:
        """The script runs on from the Step on screen (what it runs through is appended after it)."""
        return (self.state in ("running", "starting") and self._watch is not None
                and self.history.index + self.history.dropped == self._watch)

    def _show_status(self) -> None:
        total = len(self.history)
        lead = self._status_lead()
        most = max(20, (self.size.width - 2) // 2)  # the lead leaves the line's other half to where it is
        if cell_len(lead) > most:
            lead = chop_cells(lead, most - 1)[0] + "…"
        room = cell_len(lead) + 3 if lead else 0
        status = status_content(
            self.target.display, self._shown_step(), self.state, lang=self.lang, simulated=self.simulated,
            position=total if self._watching else self.history.index + 1, total=total,
            exit_code=self.exit_code,
            width=max(1, self.size.width - 2 - room),
            autoplay=None if self.state in END_STATES else self.autoplay, autoplay_on=self.autoplaying,
        )
        if lead:
            status = Content.assemble((lead, "bold $text-warning"), (" · ", "$text-muted"), status)
        self.query_one(StatusBar).update(status, layout=False)  # one line, always

    def _status_lead(self) -> str:
        """What the status line says first: the frame chosen with u/d and why the run paused here."""
        step = self.history.current
        if step is None:
            return ""
        parts = []
        if self._frame is not None and self.history.at_end and len(step.stack) > 1:
            frame = step.stack[self._frame] if self._frame < len(step.stack) else None
            number = len(step.stack) - self._frame
            parts.append(words(self.lang)["frame_at"].format(
                n=number, total=len(step.stack), function=frame.function if frame else "?"))
        plain = step.reason is not None and step.reason.kind == "breakpoint" and not step.reason.subject
        reason = "" if plain else reason_text(step.reason, step, self.lang)  # (a plain one: the ● says it)
        if reason:
            parts.append(reason)
        return " · ".join(parts)

    def _hint(self, key: str, timeout: float) -> None:
        """A short notice, shown once however fast the key that causes it repeats."""
        now = time.monotonic()
        if now - self._hinted.get(key, -timeout) < timeout:
            return
        self._hinted[key] = now
        self.notify(words(self.lang)[key], timeout=timeout)

    def _stdin_reads(self) -> int:
        """How many times the running script read its stdin (empty while it is debugged)."""
        session = getattr(self.runner, "session", None)
        return getattr(session, "stdin_reads", 0)

    def _check_stdin(self) -> None:
        reads = self._stdin_reads()
        if reads > self._stdin_seen:
            self._stdin_seen = reads
            w = words(self.lang)
            self.notify(w["stdin"], title=w["stdin_title"], severity="warning", timeout=10)
