"""The tensorscope step-debugger: panes that read Steps, keys that send commands to the engine."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer

from tensorscope.engine import Command, ScriptTarget
from tensorscope.lessons import script_doc
from tensorscope.model import Flag, Trace
from tensorscope.tui import longlived
from tensorscope.tui.app_actions import KeyActions
from tensorscope.tui.app_breaks import BreakActions, Conditions
from tensorscope.tui.app_eval import EvalActions
from tensorscope.tui.app_run import INTRO_SECONDS
from tensorscope.tui.app_view import END_STATES
from tensorscope.tui.evaluation import EvaluationPane
from tensorscope.tui.flags import FlagList
from tensorscope.tui.history import History
from tensorscope.tui.inspector import Inspector
from tensorscope.tui.keys import NARROW_FOOTER, MainScreen, footer_binding
from tensorscope.tui.narration import Narration
from tensorscope.tui.nextline import NextLine
from tensorscope.tui.output import OutputPane
from tensorscope.tui.prompt import EvalPrompt
from tensorscope.tui.replay import ReplayRunner, replay_target
from tensorscope.tui.runner import Runner
from tensorscope.tui.source import SourceView
from tensorscope.tui.status import StatusBar
from tensorscope.tui.tensors import TensorTable
from tensorscope.tui.watches import WatchList
from tensorscope.tui.words import key_words, words

__all__ = ["END_STATES", "INTRO_SECONDS", "NARROW_FOOTER", "TensorScopeApp"]


class TensorScopeApp(BreakActions, EvalActions, KeyActions):
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
        Binding("g", "run_to", "run to cursor", show=False),
        Binding("w", "data_breakpoint", "data breakpoint", show=False),
        Binding("colon", "evaluate", "evaluate", show=False),
        Binding("W", "watch", "watch", show=False),
        Binding("u", "frame_up", "up the stack", show=False),
        Binding("d", "frame_down", "down the stack", show=False),
        Binding("ctrl+s", "save_trace", "save trace", show=False),
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
        allow_eval: bool = True,
        conditions: Conditions | None = None,
        stop_on: Iterable[str] = (),
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
            self.runner = Runner(self.target, self, trace_modules=trace_modules, simulate_cuda=self.simulated,
                                 allow_eval=allow_eval)
        self.allow_eval = allow_eval
        """False: the prompt, watches and statements are off (`serve` without --allow-eval)."""
        self._init_breaks(conditions, stop_on)  # (app_breaks: conditions and data breakpoints)
        self.autoplay = autoplay
        """Seconds between the lines the app runs by itself (None: only on key presses)."""
        self.autoplaying = autoplay is not None
        self.clock: Callable[[], float] = time.monotonic
        self._intro_since: float | None = None
        """When the script's summary came on screen before its first line (autoplay lets it be read)."""
        self.about = script_doc(self.target.source)
        """The script's docstring: what to watch (help screen; its first line before the first step)."""
        for bp in breakpoints:
            self.runner.breakpoints.add((self.target.display, bp) if isinstance(bp, int) else bp)
        self.history = History()
        self.state = "starting"
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
        self._narrow_footer = False
        self._frame: int | None = None
        self._framed = None
        self._watched_now = None
        self._evaluations = []
        self._waiting = []
        self._ended_trace = None
        """Whether the footer leaves out the keys the help lists (below NARROW_FOOTER columns)."""

    @classmethod
    def from_trace(cls, trace: Trace, *, lang: str = "en", breakpoints: Iterable[int | tuple[str, int]] = (),
                   autoplay: float | None = None) -> TensorScopeApp:
        """The app on a recorded run (`tensorscope trace SCRIPT -o lesson.json`), without the script."""
        return cls(trace, lang=lang, breakpoints=breakpoints, autoplay=autoplay)

    def get_default_screen(self) -> Screen:
        """The main screen: its Footer shows the keys in the app's language."""
        return MainScreen(id="_default")

    def footer_binding(self, binding: Binding) -> Binding:
        """A binding as the Footer shows it (description in `lang`; see `keys.footer_binding`)."""
        return footer_binding(binding, key_words(self.lang), narrow=self._narrow_footer,
                              autoplay=self.autoplay is not None)

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
                yield WatchList(id="watches")
                yield EvaluationPane(id="evaluation")
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
        yield EvalPrompt(id="prompt")
        yield Footer()

    # --- the run ----------------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.query_one(Narration).show([words(self.lang)["starting"]], self.lang)
        self.flags.show([], self.lang)
        self._show_source_only()
        self._drawn = True
        self._show_status()
        self._start_run()
        if self.autoplay is not None:
            self.set_interval(self.autoplay, self._autoplay_tick)

    def on_status_bar_resized(self) -> None:
        """(The app gets no Resize of its own: the full-width status bar tells it.)"""
        if (0 < self.size.width < NARROW_FOOTER) != self._narrow_footer:
            self._narrow_footer = not self._narrow_footer
            self.refresh_bindings()
        self._show_status()

    def on_unmount(self) -> None:
        self.runner.stop()
        longlived.release()

    def _start_run(self) -> None:
        if self._live:
            return
        self.history = History()
        longlived.release()
        self._intro_since = None
        self.state = "starting"
        self.exit_code = None
        self._stdin_seen = 0
        self._queued.clear()
        self._watch = None
        self._frame = self._framed = self._watched_now = self._ended_trace = None
        self._evaluations = []
        self._waiting = []
        if self._drawn:
            self._show_watches()
            self._show_evaluations()
        try:
            self._live = self.runner.start()
        except Exception as exc:  # e.g. --simulate-cuda on a machine that has CUDA
            self.state = "stopped"
            self.notify(str(exc), title="tensorscope", severity="error", timeout=30)
