"""The run's messages and the command queue: Steps in, commands out, keys pressed meanwhile kept in order."""

from __future__ import annotations

from collections.abc import Iterable

from textual import on

from tensorscope.engine import Command
from tensorscope.lessons import script_doc
from tensorscope.tui import longlived
from tensorscope.tui.app_view import END_STATES, ScreenView
from tensorscope.tui.runner import Runner
from tensorscope.tui.words import words

INTRO_SECONDS = 4.0
"""Under autoplay, how long the script's summary stays on screen before the first line runs."""


class RunControl(ScreenView):
    """Starts the run, shows what it sends back, and sends it the commands one pause at a time."""

    def _start_run(self) -> None:
        """Start a run of the script (TensorScopeApp's)."""
        raise NotImplementedError

    @on(Runner.StepReady)
    def _on_step(self, message: Runner.StepReady) -> None:
        if message.run != self._live or not self.is_running:  # (not running: the app is closing)
            return
        watch, self._watch = self._watch, None
        shown = self.history.index + self.history.dropped
        follow = self.history.at_end or (watch is not None and shown >= watch)
        self.history.append(message.step)
        if follow:
            self.history.go_last()
        self._frame = self._framed = self._watched_now = None  # a new pause: its own frame, its own watches
        event = message.step.event
        self.state = "exception" if event == "exception" else "finished" if event == "end" else "paused"
        if self.autoplaying and any(f.severity in ("warning", "error") for f in message.step.flags):
            self.autoplaying = False  # the teacher talks about the flag, then presses space
            if event == "line" or event == "return":
                self.notify(words(self.lang)["autoplay_flag"], timeout=5)
        self._pinned = None
        self._show_step()
        longlived.settle()
        if event in ("exception", "end"):
            self._queued.clear()
        elif self._queued:
            self._send(self._queued.popleft())

    @on(Runner.StepsRan)
    def _on_steps_ran(self, message: Runner.StepsRan) -> None:
        """Steps `finish`/`continue` ran through: kept for ←, the screen stays on the last pause."""
        if message.run != self._live or not self.is_running:
            return
        for step in message.steps:
            self.history.append(step)
        self._show_status()
        longlived.settle()

    @on(Runner.Ended)
    def _on_ended(self, message: Runner.Ended) -> None:
        if message.run != self._live or not self.is_running:  # (a run that ends as the app closes)
            return
        trace = message.trace
        self._ended_trace = trace
        self._frame = self._framed = None  # (the frames are gone)
        self.exit_code = trace.exit_code
        self._queued.clear()
        self.state = trace.end_reason
        self._check_stdin()
        self._show_internal_errors(message.internal_errors or getattr(trace, "internal_errors", ()))

    def _show_internal_errors(self, errors: Iterable[object]) -> None:
        """Errors inside tensorscope (a check's or the engine's own) are shown, never hidden."""
        errors = list(errors)
        if errors:
            shown = "\n".join(str(e).splitlines()[0] if str(e) else "?" for e in errors[:3])
            more = f"\n(+{len(errors) - 3} more)" if len(errors) > 3 else ""
            self.notify(f"{shown}{more}", title="tensorscope internal error", severity="error", timeout=30)

    def _send(self, cmd: Command) -> None:
        if len(self.history) and not self.history.at_end and not self._watching:
            self.history.go_last()
            self._pinned = None
            self._show_step()
            self._hint("back_live", 2)
            return
        if self.state == "paused":
            self._watch = self.history.index + self.history.dropped
            self.state = "running"
            self.runner.send(cmd)
        elif self.state in ("running", "starting"):
            self._queued.append(cmd)  # run in order, one per pause
        elif self.state in END_STATES:
            self._hint("is_over", 3)


    def _reread(self) -> None:
        """The script as it is on disk now: the new run steps through it, the Source pane shows it."""
        if not isinstance(self.runner, Runner):  # a recorded run has no script to read again
            return
        self.target = self.runner.target = self.target.reread()
        self.about = script_doc(self.target.source)
        self._sources = {self.target.display: list(self.target.lines)}
        self._show_source_only()


    def _autoplay_tick(self) -> None:
        """Autoplay's pace: run the next line when the script waits at the newest step (not once the app is
        closing: its panes may be gone already)."""
        if (self.is_running and self.autoplaying and self.state == "paused" and self.history.at_end
                and self.screen is self.screen_stack[0]):
            if len(self.history) == 1 and self.about:  # the summary stays up INTRO_SECONDS, however fast
                if self._intro_since is None:
                    self._intro_since = self.clock()
                if self.clock() - self._intro_since < INTRO_SECONDS:
                    return
            self._send("next")
