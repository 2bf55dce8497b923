"""The debugger's prompt and stack: `:` evaluates in the selected frame, watches, `u`/`d` move along the
paused stack (post-mortem too), and the session is saved with what was evaluated (`ctrl+s`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path

from textual import on
from textual.app import SystemCommand
from textual.screen import Screen

from tensorscope.model import Evaluation, Trace
from tensorscope.tui.app_run import RunControl
from tensorscope.tui.evaluation import EvaluationPane
from tensorscope.tui.panes import Pane
from tensorscope.tui.prompt import EvalPrompt, common_prefix, word_before
from tensorscope.tui.replay import ReplayRunner
from tensorscope.tui.runner import Runner
from tensorscope.tui.watches import WatchList
from tensorscope.tui.words import words

PROMPT_COMMANDS = ("watch", "unwatch", "save")
"""Words that start a prompt command rather than Python (`watch EXPR`, `unwatch N`, `save PATH`; and
`watches` alone): none of them followed by more text is valid Python."""


class EvalActions(RunControl):
    """The prompt, the watches, the stack and saving the session."""

    allow_eval: bool
    _evaluations: list[Evaluation]
    _waiting: list[str]

    prompt = Pane("#prompt", EvalPrompt)
    evaluation = Pane("#evaluation", EvaluationPane)
    watch_list = Pane("#watches", WatchList)

    # --- keys -------------------------------------------------------------------------------------

    def action_evaluate(self, text: str = "") -> None:
        """Open the prompt: evaluate an expression or run a statement in the selected frame."""
        w = words(self.lang)
        if not self.allow_eval:
            self.notify(w["eval_off"], title=w["eval_off_title"], severity="warning", timeout=8)
            return
        if isinstance(self.runner, ReplayRunner):  # nothing runs: the recorded evaluations are shown
            self.query_one("#right").toggle_class("-prompting")
            self._hint("eval_replay", 4)
            return
        self.prompt.open(text, placeholder=w["prompt_placeholder"])
        self.query_one("#right").add_class("-prompting")
        self._show_prompt_label()
        self._show_evaluations()

    def action_watch(self) -> None:
        """Open the prompt with `watch ` typed: pin an expression, shown at every pause."""
        self.action_evaluate("watch ")

    def action_frame_up(self) -> None:
        """Show the caller's frame (one up the paused stack)."""
        self._move_frame(-1)

    def action_frame_down(self) -> None:
        """Show the called frame (one down the paused stack, towards where the script stands)."""
        self._move_frame(1)

    def action_save_trace(self) -> None:
        """Save this session (its Steps and evaluations) as a trace `tensorscope replay` opens."""
        self._save(self._default_save_path())

    def action_save_trace_as(self) -> None:
        """The palette's "Save trace…": the prompt, with `save PATH` typed (edit the path, press Enter)."""
        if self.allow_eval and not isinstance(self.runner, ReplayRunner):
            self.prompt.open(f"save {self._default_save_path()}")
            self.query_one("#right").add_class("-prompting")
            self._show_prompt_label()
        else:
            self.action_save_trace()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        w = words(self.lang)
        for name, action in (("evaluate", self.action_evaluate), ("watch", self.action_watch),
                             ("frame_up", self.action_frame_up), ("frame_down", self.action_frame_down),
                             ("save", self.action_save_trace_as)):
            yield SystemCommand(w[f"p_{name}"], w[f"p_{name}_help"], action)

    # --- the prompt -------------------------------------------------------------------------------

    @on(EvalPrompt.Closed)
    def _on_prompt_closed(self) -> None:
        self.query_one("#right").remove_class("-prompting")
        self.tensors.focus()

    @on(EvalPrompt.Submitted)
    def _on_prompt_submitted(self, message: EvalPrompt.Submitted) -> None:
        text = message.text.lstrip(":").strip()
        command, _, rest = text.partition(" ")
        rest = rest.strip()
        if command in PROMPT_COMMANDS and rest:
            if command == "watch":
                self._set_watches([*self._watch_exprs(), rest])
            elif command == "unwatch":
                self._unwatch(rest)
            else:
                self._save(Path(rest).expanduser())
        elif text == "watches":
            self._list_watches()
        elif text:
            self._evaluate(text)

    def _evaluate(self, source: str) -> None:
        if not isinstance(self.runner, Runner) or not self.runner.alive:
            self._hint("eval_over", 4)
            return
        self._waiting.append(source)
        self.runner.evaluate(source, self._frame)
        self._show_evaluations()

    @on(Runner.Evaluated)
    def _on_evaluated(self, message: Runner.Evaluated) -> None:
        if message.run != self._live or not self.is_running:
            return
        ev = message.evaluation
        if ev.source in self._waiting:
            self._waiting.remove(ev.source)
        elif self._waiting:
            self._waiting.pop(0)
        self._evaluations.append(ev)
        self._show_evaluations()
        if ev.kind == "statement" and ev.step == getattr(self.history.current, "index", None):
            self._refresh_frame()

    @on(EvalPrompt.Complete)
    def _on_complete(self, message: EvalPrompt.Complete) -> None:
        if message.prefix and isinstance(self.runner, Runner) and self.runner.alive:
            self.runner.complete(message.prefix, self._frame)

    @on(Runner.Completed)
    def _on_completed(self, message: Runner.Completed) -> None:
        prompt = self.prompt
        field = prompt.input
        before = field.value[:field.cursor_position]
        if message.run != self._live or not prompt.is_open or word_before(before) != message.prefix:
            return
        prefix = message.prefix
        head = prefix.rpartition(".")[0]
        names = tuple(n if not head or n.startswith(f"{head}.") else f"{head}.{n}" for n in message.names)
        names = tuple(n for n in names if n.startswith(prefix))
        if not names:
            self._hint("complete_none", 2)
            return
        done = names[0] if len(names) == 1 else common_prefix(names)
        if len(done) > len(prefix):
            start = len(before) - len(prefix)
            field.value = before[:start] + done + field.value[field.cursor_position:]
            field.cursor_position = start + len(done)
        if len(names) > 1:
            shown = "  ".join(n.rpartition(".")[2] if head else n for n in names[:40])
            self.notify(shown + ("  …" if len(names) > 40 else ""), timeout=5)

    def _show_prompt_label(self) -> None:
        waits = self.state in ("running", "starting")
        self.prompt.set_label(words(self.lang)["prompt_waits"] if waits else ":")

    def watch_state(self) -> None:
        """The status line for the new state (and the prompt says whether it waits for a pause)."""
        super().watch_state()
        if self._drawn and self.prompt.is_open:
            self._show_prompt_label()

    # --- watches ----------------------------------------------------------------------------------

    def _watch_exprs(self) -> list[str]:
        return list(self.runner.watches) if isinstance(self.runner, Runner) else []

    def _set_watches(self, exprs: list[str]) -> None:
        if isinstance(self.runner, Runner):
            self.runner.set_watches(exprs)
        self._watched_now = None
        self._show_watches()

    def _unwatch(self, which: str) -> None:
        exprs = self._watch_exprs()
        if which.isdigit() and 1 <= int(which) <= len(exprs):
            del exprs[int(which) - 1]
            self._set_watches(exprs)
        elif which in exprs:
            exprs.remove(which)
            self._set_watches(exprs)
        else:
            w = words(self.lang)
            self.notify(w["unwatch_bad"].format(which=which, n=len(exprs)), severity="warning", timeout=4)

    def _list_watches(self) -> None:
        exprs = self._watch_exprs()
        w = words(self.lang)
        listed = "\n".join(f"{n} {e}" for n, e in enumerate(exprs, start=1)) or w["watches_none"]
        self.notify(listed, title=w["watches"], timeout=6)

    @on(Runner.Watched)
    def _on_watched(self, message: Runner.Watched) -> None:
        step = self.history.current
        if message.run != self._live or not self.is_running or step is None:
            return
        self._watched_now = (step.index, message.evaluations)
        self._show_watches()

    # --- the stack --------------------------------------------------------------------------------

    def _move_frame(self, delta: int) -> None:
        step = self.history.current
        if step is None or not isinstance(self.runner, Runner):
            self._hint("frame_live", 3)
            return
        if not self.history.at_end or not self.runner.alive or self.state not in ("paused", "exception"):
            self._hint("frame_paused", 3)
            return
        innermost = len(step.stack) - 1
        current = innermost if self._frame is None else self._frame
        new = current + delta
        if new < 0 or new > innermost:
            self._hint("frame_top" if new < 0 else "frame_bottom", 2)
            return
        self._frame = None if new == innermost else new
        self._framed = None
        if self._frame is None:
            self._show_step()
        else:
            self.runner.select_frame(new)
            self._show_status()

    def _refresh_frame(self) -> None:
        """Ask again for the selected frame's Step: a statement may have changed what the panes show."""
        if isinstance(self.runner, Runner) and self.runner.alive and self.history.at_end:
            self.runner.select_frame(self._frame_index())

    def _frame_index(self) -> int:
        """The selected frame's index in the paused Step's stack."""
        step = self.history.current
        innermost = len(step.stack) - 1 if step is not None else 0
        return innermost if self._frame is None else self._frame

    @on(Runner.Framed)
    def _on_framed(self, message: Runner.Framed) -> None:
        if message.run != self._live or not self.is_running or message.index != self._frame_index():
            return
        if message.step is None:
            self._frame = None
            self._hint("frame_paused", 3)
        self._framed = message.step
        self._show_step()

    # --- saving -----------------------------------------------------------------------------------

    def _default_save_path(self) -> Path:
        return Path(f"{Path(self.target.display).stem}.tensorscope.json")

    def session_trace(self) -> Trace:
        """This session as a Trace: the Steps kept in the history and what was evaluated."""
        base = self.runner.trace if isinstance(self.runner, ReplayRunner) else self._ended_trace
        if base is None:  # the run goes on: what it did so far
            lines = tuple(self._source_lines(self.target.display))
            base = Trace(script=self.target.display, argv=tuple(self.target.argv[1:]),
                         sources={self.target.display: lines}, completed=False, end_reason="stopped",
                         simulated_cuda=self.simulated)
        sources = dict(base.sources)
        for step in self.history.steps:
            if step.file not in sources:
                sources[step.file] = tuple(self._source_lines(step.file))
        evaluations = (base.evaluations if isinstance(self.runner, ReplayRunner)
                       else tuple(self._evaluations))
        return dataclasses.replace(base, steps=tuple(self.history.steps), sources=sources,
                                   evaluations=evaluations)

    def _save(self, path: Path) -> None:
        w = words(self.lang)
        try:
            path.write_text(self.session_trace().to_json(), encoding="utf-8")
        except OSError as exc:
            self.notify(w["save_failed"].format(path=path, error=exc.strerror or exc), severity="error",
                        timeout=8)
            return
        self.notify(w["saved"].format(path=path), timeout=5)
