"""The tensorscope step-debugger: panes that read Steps, keys that send commands to the engine."""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer

from tensorscope.engine import Command, ScriptTarget
from tensorscope.lessons import first_line, reflow, script_doc, translated
from tensorscope.model import Flag, Step, Trace
from tensorscope.optim_diff import chosen_optimizer, last_change
from tensorscope.tui.flags import FlagList
from tensorscope.tui.help import HelpScreen
from tensorscope.tui.history import History
from tensorscope.tui.inspector import Inspector
from tensorscope.tui.narration import Narration
from tensorscope.tui.nextline import NextLine
from tensorscope.tui.output import OutputPane
from tensorscope.tui.plot import PlotScreen
from tensorscope.tui.replay import ReplayRunner, replay_target
from tensorscope.tui.runner import Runner
from tensorscope.tui.source import SourceView
from tensorscope.tui.status import StatusBar, status_content
from tensorscope.tui.tensors import TensorTable
from tensorscope.tui.words import LANGS, SYSTEM_COMMANDS, words

NARROW_FOOTER = 100
"""Below this many columns the footer shows only n, s, c, ? and q (and the palette)."""
_NARROW_HIDDEN = {"back", "forward", "finish", "breakpoint", "restart", "plot"}
INTRO_SECONDS = 4.0
"""Under autoplay, how long the script's summary stays on screen before the first line runs."""
_END_STATES = {"finished", "exception", "exit", "stopped", "max-steps", "timeout"}
_KEY_WORDS = {"next": "k_next", "step": "k_step", "finish": "k_finish", "continue": "k_continue",
              "back": "k_back", "forward": "k_forward", "breakpoint": "k_breakpoint", "restart": "k_restart",
              "help": "k_help", "quit": "k_quit", "plot": "k_plot", "space": "k_autoplay",
              "command_palette": "k_palette"}
"""Action → the words key of its Footer description."""


class TensorScopeApp(App[None]):
    """Step through a PyTorch script and watch every tensor, with the classic mistakes explained."""

    CSS_PATH = "app.tcss"
    TITLE = "tensorscope"
    AUTO_FOCUS = "#tensors"
    """Focus starts in the Tensors table: ↑/↓ pick a tensor for the Inspector at once."""
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]] | None] = [(0, "-narrow"), (110, "-wide")]
    VERTICAL_BREAKPOINTS: ClassVar[list[tuple[int, str]] | None] = [(0, "-short"), (34, "-tall")]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "next", "next"),
        Binding("space", "space", "autoplay", show=False),
        Binding("s", "step", "step in"),
        Binding("f", "finish", "finish"),
        Binding("c", "continue", "continue"),
        Binding("left", "back", "back", priority=True),
        Binding("right", "forward", "forward", priority=True),
        Binding("b", "breakpoint", "breakpoint"),
        Binding("r", "restart", "restart"),
        Binding("p", "plot", "plot"),
        Binding("question_mark", "help", "help"),
        Binding("q", "quit", "quit"),
        Binding("ctrl+c", "interrupt", "interrupt", show=False, priority=True),
        Binding("m", "maximize_source", "maximize source", show=False),
    ]

    def __init__(
        self,
        script: str | ScriptTarget | Trace,
        *,
        simulate_cuda: bool = False,
        lang: str = "en",
        breakpoints: Iterable[int | tuple[str, int]] = (),
        trace_modules: Iterable[str] = (),
        autoplay: float | None = None,
    ) -> None:
        super().__init__()
        self.lang = lang
        self.runner: Runner | ReplayRunner
        if isinstance(script, Trace):  # a recorded run: replayed, not run
            self.target = replay_target(script)
            self.simulated = script.simulated_cuda
            self.runner = ReplayRunner(script, self)
        else:
            self.target = script if isinstance(script, ScriptTarget) else ScriptTarget.load(script)
            self.simulated = simulate_cuda
            self.runner = Runner(self.target, self, trace_modules=trace_modules, simulate_cuda=self.simulated)
        self.autoplay = autoplay
        """Seconds between the lines the app runs by itself (None: only on key presses)."""
        self.autoplaying = autoplay is not None
        """Whether autoplay is stepping now (space pauses it; so does a new warning or error flag)."""
        self.clock: Callable[[], float] = time.monotonic
        self._intro_since: float | None = None
        """When the script's summary came on screen before its first line (autoplay lets it be read)."""
        self.about = script_doc(self.target.source)
        """The script's docstring: what to watch (help screen; its first line before the first step)."""
        for bp in breakpoints:
            self.runner.breakpoints.add((self.target.display, bp) if isinstance(bp, int) else bp)
        self.history = History()
        self.state = "starting"
        """`starting`, `paused`, `running`, or how the run ended (`finished`, `exception`, `exit`, ...)."""
        self.exit_code: int | None = None
        self._live = 0
        """The run whose messages are shown (0 while a restart waits for the old run to end)."""
        self._pinned: Flag | str | None = None
        """What the user chose to inspect at this step (a flag or a tensor name); None: automatic."""
        self._chosen: str | None = None
        """The tensor the user picked last: the Inspector stays on it while it is in scope."""
        self._stdin_seen = 0
        self._watch: int | None = None
        """Which Step (counted from the run's first) was on screen when the script went on: the next pause
        is shown if it still is (the Steps run through in between are appended after it)."""
        self._queued: deque[Command] = deque()
        """Commands pressed while the script runs: sent in order, one per pause (none is dropped)."""
        self._hinted: dict[str, float] = {}
        """When each short notice was last shown (repeated key presses do not stack them)."""
        self._sources: dict[str, list[str]] = {self.target.display: list(self.target.lines)}
        if isinstance(script, Trace):
            self._sources.update({file: list(lines) for file, lines in script.sources.items()})
        self._apply_key_words()

    @classmethod
    def from_trace(cls, trace: Trace, *, lang: str = "en", breakpoints: Iterable[int | tuple[str, int]] = (),
                   autoplay: float | None = None) -> TensorScopeApp:
        """The app on a recorded run (`tensorscope trace SCRIPT -o lesson.json`), without the script."""
        return cls(trace, lang=lang, breakpoints=breakpoints, autoplay=autoplay)

    def _apply_key_words(self) -> None:
        """Footer descriptions in the chosen language; `space` is shown when it drives autoplay; below
        NARROW_FOOTER columns the keys the help lists anyway leave the footer, so `?` and `q` stay in it."""
        w = words(self.lang)
        self._narrow_footer = narrow = 0 < self.size.width < NARROW_FOOTER
        if not hasattr(self, "_base_bindings"):
            self._base_bindings = dict(self._bindings.key_to_bindings)
        self._bindings.key_to_bindings = {
            key: [dataclasses.replace(b, description=w[_KEY_WORDS[b.action]],
                                      show=self.autoplay is not None if b.action == "space"
                                      else b.show and not (narrow and b.action in _NARROW_HIDDEN))
                  if b.action in _KEY_WORDS else b for b in items]
            for key, items in self._base_bindings.items()
        }

    # --- layout -----------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        w = words(self.lang)
        yield StatusBar(id="status")
        yield NextLine(id="nextline")
        yield Narration(id="narration")
        with Horizontal(id="main"):
            source = SourceView(id="source")
            source.border_title = w["source"]
            yield source
            with Vertical(id="right"):
                tensors = TensorTable(id="tensors", lang=self.lang)
                tensors.border_title = w["tensors"]
                yield tensors
                inspector = Inspector(id="inspector")
                inspector.border_title = w["inspector"]
                yield inspector
        with Horizontal(id="bottom"):
            flags = FlagList(id="flags")
            flags.border_title = w["flags"]
            yield flags
            output = OutputPane(id="output")
            output.border_title = w["output"]
            yield output
        yield Footer()

    @property
    def source(self) -> SourceView:
        return self.query_one("#source", SourceView)

    @property
    def tensors(self) -> TensorTable:
        return self.query_one("#tensors", TensorTable)

    @property
    def inspector(self) -> Inspector:
        return self.query_one("#inspector", Inspector)

    @property
    def flags(self) -> FlagList:
        return self.query_one("#flags", FlagList)

    @property
    def output(self) -> OutputPane:
        return self.query_one("#output", OutputPane)

    @property
    def current_step(self) -> Step | None:
        """The Step on screen."""
        return self.history.current

    # --- the run ----------------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.query_one(Narration).show([words(self.lang)["starting"]], self.lang)
        self.flags.show([], self.lang)
        self._show_source_only()
        self._show_status()
        self._start_run()
        if self.autoplay is not None:
            self.set_interval(self.autoplay, self._autoplay_tick)

    def on_status_bar_resized(self) -> None:
        """(The app gets no Resize of its own: the full-width status bar tells it.)"""
        if (0 < self.size.width < NARROW_FOOTER) != self._narrow_footer:
            self._apply_key_words()
            self.refresh_bindings()
        self._show_status()

    def on_unmount(self) -> None:
        self.runner.stop()

    def _start_run(self) -> None:
        if self._live:
            return
        self.history = History()
        self._intro_since = None
        self.state = "starting"
        self.exit_code = None
        self._stdin_seen = 0
        self._queued.clear()
        self._watch = None
        try:
            self._live = self.runner.start()
        except Exception as exc:  # e.g. --simulate-cuda on a machine that has CUDA
            self.state = "stopped"
            self.notify(str(exc), title="tensorscope", severity="error", timeout=30)
            self._show_status()

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
        event = message.step.event
        self.state = "exception" if event == "exception" else "finished" if event == "end" else "paused"
        if self.autoplaying and any(f.severity in ("warning", "error") for f in message.step.flags):
            self.autoplaying = False  # the teacher talks about the flag, then presses space
            if event == "line" or event == "return":
                self.notify(words(self.lang)["autoplay_flag"], timeout=5)
        self._pinned = None
        self._show_step()
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

    @on(Runner.Ended)
    def _on_ended(self, message: Runner.Ended) -> None:
        if message.run != self._live or not self.is_running:  # (a run that ends as the app closes)
            return
        trace = message.trace
        self.state = trace.end_reason
        self.exit_code = trace.exit_code
        self._queued.clear()
        self._check_stdin()
        self._show_status()
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
            self.state = "running"
            self._watch = self.history.index + self.history.dropped
            self.runner.send(cmd)
            self._show_status()
        elif self.state in ("running", "starting"):
            self._queued.append(cmd)  # run in order, one per pause
        elif self.state in _END_STATES:
            self._hint("is_over", 3)

    # --- actions ----------------------------------------------------------------------------------

    def action_next(self) -> None:
        """Run the next line, stepping over calls."""
        self._send("next")

    def action_step(self) -> None:
        """Run the next line, stopping inside calls to the user's code."""
        self._send("step")

    def action_finish(self) -> None:
        """Run until the current function returns."""
        self._send("finish")

    def action_continue(self) -> None:
        """Run until a breakpoint, a new warning or error flag, or the end."""
        self._send("continue")

    def action_back(self) -> None:
        """Show the previous recorded Step."""
        if self.history.back():
            self._pinned = None
            self._show_step()
        elif len(self.history):
            self._hint("at_start", 2)

    def action_forward(self) -> None:
        """Show the next recorded Step; at the newest one, run the next line."""
        if self.history.forward():
            self._pinned = None
            self._show_step()
        elif self.state in ("paused", "running", "starting"):
            self._send("next")
        elif self.state in _END_STATES:
            self._hint("is_over", 3)

    def action_breakpoint(self) -> None:
        """Set or clear a breakpoint at the source cursor."""
        self._toggle_breakpoint(self.source.file, self.source.cursor_line)

    def action_restart(self) -> None:
        """Run the script again from the top (breakpoints stay)."""
        self.notify(words(self.lang)["restarting"].format(script=self.target.display), timeout=2)
        self.runner.stop()  # the old run's engine process is killed; its late messages are ignored
        self._live = 0
        self._reread()
        self._start_run()

    def _reread(self) -> None:
        """The script as it is on disk now: the new run steps through it, the Source pane shows it."""
        if not isinstance(self.runner, Runner):  # a recorded run has no script to read again
            return
        self.target = self.runner.target = self.target.reread()
        self.about = script_doc(self.target.source)
        self._sources = {self.target.display: list(self.target.lines)}
        self._show_source_only()

    def action_interrupt(self) -> None:
        """Pause the running script at its next line (as Ctrl+C in pdb); q quits."""
        self._queued.clear()
        if self.state in ("running", "starting"):
            interrupt = getattr(self.runner, "interrupt", None)
            if interrupt is not None:
                interrupt()
        else:
            self.action_help_quit()

    def action_maximize_source(self) -> None:
        """Show the Source pane alone, full width (again: back to all the panes; esc too)."""
        screen = self.screen
        if screen is not self.screen_stack[0]:
            return
        if screen.maximized is not None:
            screen.minimize()
            return
        if screen.maximize(self.source, container=False):
            self.source.focus()
            self.notify(words(self.lang)["max_source"], timeout=2)

    def action_help(self) -> None:
        """Show every key and what the marks mean, and what the script is about."""
        self.push_screen(HelpScreen(self.lang, reflow(translated(self.about, self.lang))))

    def action_plot(self) -> None:
        """Open the plot of the loss and of the selected parameter's gradient norm (p closes it)."""
        if isinstance(self.screen, PlotScreen):  # (from the palette, over the plot)
            self.screen.dismiss()
            return
        self.push_screen(PlotScreen(self.lang))
        self.call_after_refresh(self._show_plot)

    def action_plot_pick(self) -> None:
        """Plot the one-element tensor selected in Tensors as the loss (when backward() gives none)."""
        w = words(self.lang)
        step, name = self.history.current, self.tensors.selected_name
        tensor = step.tensor(name) if step is not None and name else None
        if tensor is None or name is None:
            self.notify(w["plot_pick_none"], severity="warning", timeout=3)
        elif tensor.numel != 1:
            self.notify(w["plot_pick_bad"].format(name=name), severity="warning", timeout=4)
        else:
            self.history.loss_pick = name
            self.notify(w["plot_picked"].format(name=name), timeout=3)
            self._show_plot()

    def _show_plot(self) -> None:
        """Draw the plot screen, when it is open, from the Steps up to the one on screen."""
        screen = self.screen
        if not isinstance(screen, PlotScreen) or not screen.is_mounted:
            return
        name, loss = self.history.loss_series()
        param = self._chosen or self.tensors.selected_name
        grad = self.history.grad_norm_series(param) if param else []
        screen.show(name, loss, param, grad)

    def action_space(self) -> None:
        """Pause or resume autoplay (with --autoplay); otherwise run the next line, as n does."""
        if self.autoplay is None:
            self.action_next()
        else:
            self.action_toggle_autoplay()

    def action_toggle_autoplay(self) -> None:
        """Pause or resume stepping by itself."""
        if self.autoplay is None:
            return
        self.autoplaying = not self.autoplaying
        w = words(self.lang)
        on = w["autoplay_on"].format(seconds=f"{self.autoplay:g}")
        self.notify(on if self.autoplaying else w["autoplay_off"], timeout=2)
        self._show_status()

    def _autoplay_tick(self) -> None:
        """Autoplay's pace: run the next line when the script waits at the newest step."""
        if (self.autoplaying and self.state == "paused" and self.history.at_end
                and self.screen is self.screen_stack[0]):
            if len(self.history) == 1 and self.about:  # the summary stays up INTRO_SECONDS, however fast
                if self._intro_since is None:
                    self._intro_since = self.clock()
                if self.clock() - self._intro_since < INTRO_SECONDS:
                    return
            self._send("next")

    def action_toggle_language(self) -> None:
        """Switch the explanations and labels to the next language of `LANGS` (English after the last)."""
        self.lang = LANGS[(LANGS.index(self.lang) + 1) % len(LANGS)] if self.lang in LANGS else "en"
        self._apply_key_words()
        self.refresh_bindings()
        w = words(self.lang)
        for pane in ("source", "tensors", "inspector", "flags", "output"):
            self.query_one(f"#{pane}").border_title = w[pane]
        self.tensors.set_lang(self.lang)
        self.flags.show(self.history.flags(), self.lang)
        self._show_step()

    async def action_quit(self) -> None:
        """Quit at once (the script is stopped, even mid-call)."""
        self.runner.stop()
        self.exit()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("back", "forward", "plot"):  # ← → belong to text inputs in other screens
            return self.screen is self.screen_stack[0]
        return True

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        own = SYSTEM_COMMANDS.get(self.lang, {})
        for command in super().get_system_commands(screen):
            title, help_text = own.get(command.title, (command.title, command.help))
            yield command._replace(title=title, help=help_text)
        w = words(self.lang)
        actions = [("next", self.action_next), ("step", self.action_step), ("finish", self.action_finish),
                   ("continue", self.action_continue), ("back", self.action_back),
                   ("forward", self.action_forward), ("breakpoint", self.action_breakpoint),
                   ("restart", self.action_restart), ("help", self.action_help),
                   ("plot", self.action_plot), ("plot_pick", self.action_plot_pick),
                   ("lang", self.action_toggle_language)]
        if self.autoplay is not None:
            actions.append(("autoplay", self.action_toggle_autoplay))
        for name, action in actions:
            yield SystemCommand(w[f"p_{name}"], w[f"p_{name}_help"], action)

    # --- events from the panes --------------------------------------------------------------------

    @on(SourceView.BreakpointClicked)
    def _on_breakpoint_clicked(self, message: SourceView.BreakpointClicked) -> None:
        self._toggle_breakpoint(message.file, message.line)

    @on(TensorTable.Picked)
    def _on_tensor_picked(self, message: TensorTable.Picked) -> None:
        self._pinned = message.name
        self._show_inspector()

    @on(FlagList.Chosen)
    def _on_flag_chosen(self, message: FlagList.Chosen) -> None:
        self._pinned = message.flag
        self._show_inspector()

    def _toggle_breakpoint(self, file: str, line: int) -> None:
        w = words(self.lang)
        lines = self._source_lines(file)
        text = lines[line - 1].strip() if 0 < line <= len(lines) else ""
        if not text or text.startswith("#"):
            self.notify(w["bp_blank"].format(line=line), severity="warning", timeout=3)
            return
        on = self.runner.toggle_breakpoint(file, line)
        self.source.set_breakpoints({ln for f, ln in self.runner.breakpoints if f == file})
        self.notify(w["bp_set" if on else "bp_cleared"].format(line=line), timeout=2)

    # --- drawing ----------------------------------------------------------------------------------

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

    def _show_step(self) -> None:
        """Every pane from the Step on screen."""
        step = self.history.current
        if step is None:
            self._show_status()
            return
        self._show_source(step)
        lines = self._source_lines(step.file)
        code = lines[step.line - 1] if 0 < step.line <= len(lines) else ""
        self.query_one(NextLine).show_step(step, code, self.lang)
        self.tensors.show(step, self.history.baseline(), simulated=self.simulated)
        flags = self.history.flags()
        self.flags.show(flags, self.lang)
        w = words(self.lang)
        self.tensors.border_title = f"{w['tensors']} · {len(step.tensors)}"
        self.flags.border_title = f"{w['flags']} · {len(flags)}" if flags else w["flags"]
        self.output.show(self.history.output())
        self._show_plot()
        self._show_narration(step)
        self._show_inspector()
        self._check_stdin()
        self._show_status()

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
        step = self.history.current
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
        status = status_content(
            self.target.display, self.history.current, self.state, lang=self.lang, simulated=self.simulated,
            position=total if self._watching else self.history.index + 1, total=total,
            exit_code=self.exit_code,
            width=self.size.width - 2,
            autoplay=None if self.state in _END_STATES else self.autoplay, autoplay_on=self.autoplaying,
        )
        self.query_one(StatusBar).update(status, layout=False)  # one line, always

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
