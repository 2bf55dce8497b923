"""The keys (and the command palette's commands): what each action does."""

from __future__ import annotations

from collections.abc import Iterable

from textual import on
from textual.app import SystemCommand
from textual.command import CommandPalette
from textual.screen import Screen
from textual.widgets import Input

from tensorscope.lessons import reflow, translated
from tensorscope.tui.app_run import RunControl
from tensorscope.tui.app_view import END_STATES
from tensorscope.tui.flags import FlagList
from tensorscope.tui.help import HelpScreen
from tensorscope.tui.plot import PlotScreen
from tensorscope.tui.source import SourceView
from tensorscope.tui.tensors import TensorTable
from tensorscope.tui.words import LANGS, SYSTEM_COMMANDS, words


class KeyActions(RunControl):
    """The actions the keys and the palette run."""

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
        elif self.state in END_STATES:
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

    def action_toggle_language(self) -> None:
        """Switch the explanations and labels to the next language of `LANGS` (English after the last)."""
        self.lang = LANGS[(LANGS.index(self.lang) + 1) % len(LANGS)] if self.lang in LANGS else "en"
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
            return self.screen is self.screen_stack[0] and not isinstance(self.focused, Input)
        return True

    def action_command_palette(self) -> None:
        """Textual's command palette, its search field's placeholder in the chosen language."""
        if self.use_command_palette and not CommandPalette.is_open(self):
            self.push_screen(CommandPalette(placeholder=words(self.lang)["palette_placeholder"],
                                            id="--command-palette"))

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
