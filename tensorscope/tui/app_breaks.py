"""Conditional breakpoints (`b`), run to the cursor (`g`) and data breakpoints (`w` on a Tensors row, and the
palette's "stop on NaN/Inf" and "stop on flag CODE"): the keys, and what they send to the engine.

The conditions and the data breakpoints are kept on the runner (`conditions`, `stop_on`), so a restart keeps
them: a live run gets them at its first pause, through `EngineRun.call`; a replay checks them on the
recording itself (tui/replay.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from textual import on
from textual.app import SystemCommand
from textual.screen import Screen

from tensorscope.cli_options import flag_codes, parse_stop_on
from tensorscope.engine import stopon
from tensorscope.tui.app_actions import KeyActions
from tensorscope.tui.app_view import END_STATES
from tensorscope.tui.condition import ConditionScreen
from tensorscope.tui.databreak import DataBreakScreen
from tensorscope.tui.replay import ReplayRunner
from tensorscope.tui.runner import Runner
from tensorscope.tui.words import words

Conditions = Mapping[int | tuple[str, int], str]
"""`{line: condition}` (a line of the main script) or `{(file, line): condition}`."""


class BreakActions(KeyActions):
    """`b` with a condition, `g`, `w`, and the palette's data breakpoints."""

    _armed = 0
    """The last live run that was given the conditions and data breakpoints."""

    def _init_breaks(self, conditions: Conditions | None, stop_on: Iterable[str]) -> None:
        """Keep the conditions and data breakpoints (TensorScopeApp's `conditions=` and `stop_on=`) on the
        runner; each is also a breakpoint. `stop_on`: `stopon` specs (ValueError on a bad one)."""
        runner = self.runner
        kept: dict[tuple[str, int], str] = {}
        for where, condition in (conditions or {}).items():
            key = (self.target.display, where) if isinstance(where, int) else where
            kept[key] = condition
            runner.breakpoints.add(key)
        specs = parse_stop_on(stop_on)
        if isinstance(runner, ReplayRunner):
            runner.allow_eval = self._eval_allowed()
            runner.conditions.update(kept)
            runner.set_stop_on(specs)
        else:
            runner.conditions = kept  # type: ignore[attr-defined]
            runner.stop_on = specs  # type: ignore[attr-defined]

    # --- what is set ------------------------------------------------------------------------------

    @property
    def conditions(self) -> dict[tuple[str, int], str]:
        """(file, line) -> condition, for the breakpoints that have one."""
        found: dict[tuple[str, int], str] | None = getattr(self.runner, "conditions", None)
        if found is None:
            found = {}
            self.runner.conditions = found  # type: ignore[union-attr]
        for key in [k for k in found if k not in self.runner.breakpoints]:  # (cleared by a click)
            del found[key]
        return found

    @property
    def stop_specs(self) -> tuple[str, ...]:
        """The data breakpoints, as `stopon` specs (`grad:w`, `nan`, `flag:CODE`)."""
        runner = self.runner
        if isinstance(runner, ReplayRunner):
            return tuple(str(s) for s in runner.stop_on)
        return tuple(getattr(runner, "stop_on", ()))

    def _eval_allowed(self) -> bool:
        """Whether conditions may be evaluated (not under `serve` without --allow-eval)."""
        return bool(self.allow_eval)  # type: ignore[attr-defined]

    def _engine_call(self, method: str, *args: object) -> None:
        """Call `method` of the live run's engine (EngineRun.call), or the replay's own."""
        runner = self.runner
        if isinstance(runner, ReplayRunner):
            getattr(runner, method)(*args)
        elif runner.session is not None:
            runner.session.call(method, *args)

    @on(Runner.StepReady)
    def _arm_run(self, message: Runner.StepReady) -> None:
        """At a live run's first pause: send it the conditions and data breakpoints (kept across restarts).
        (Runs before the app's own StepReady handler, so they reach the engine before any command.)"""
        runner = self.runner
        if isinstance(runner, ReplayRunner) or message.run != self._live or self._armed == message.run:
            return
        self._armed = message.run
        for (file, line), condition in self.conditions.items():
            self._engine_call("set_breakpoint", file, line, True, condition)
        if self.stop_specs:
            self._engine_call("set_stop_on", self.stop_specs)
        self._show_breaks()

    def _show_breaks(self) -> None:
        """The Source pane's conditions and the Tensors pane's list of data breakpoints."""
        self.source.set_conditions(dict(self.conditions))
        specs = self.stop_specs
        self.tensors.border_subtitle = (words(self.lang)["db_list"].format(specs=" · ".join(specs))
                                        if specs else "")

    def on_mount(self) -> None:
        self._show_breaks()

    # --- b: a breakpoint with an optional condition ------------------------------------------------

    def action_breakpoint(self) -> None:
        """A breakpoint at the source cursor, with an optional condition (asked for); on one: clear it."""
        file, line = self.source.file, self.source.cursor_line
        if (file, line) in self.runner.breakpoints or not self._has_code(file, line):
            self._toggle_breakpoint(file, line)  # clears it (or says there is no code to stop at)
            self._show_breaks()
            return
        if not self._eval_allowed():
            self._toggle_breakpoint(file, line)
            self.notify(words(self.lang)["cond_off"], timeout=4)
            return

        def chosen(condition: str | None) -> None:
            if condition is not None:
                self._set_breakpoint(file, line, condition or None)

        self.push_screen(ConditionScreen(line, self.lang), chosen)

    def _has_code(self, file: str, line: int) -> bool:
        lines = self._source_lines(file)
        text = lines[line - 1].strip() if 0 < line <= len(lines) else ""
        return bool(text) and not text.startswith("#")

    def _set_breakpoint(self, file: str, line: int, condition: str | None) -> None:
        """Set the breakpoint at (file, line), with `condition` (None: always pause)."""
        self.runner.breakpoints.add((file, line))
        if condition is None:
            self.conditions.pop((file, line), None)
        else:
            self.conditions[(file, line)] = condition
        self._engine_call("set_breakpoint", file, line, True, condition)
        self.source.set_breakpoints({ln for f, ln in self.runner.breakpoints if f == file})
        self._show_breaks()
        w = words(self.lang)
        text = w["bp_set"] if condition is None else w["bp_cond_set"]
        self.notify(text.format(line=line, condition=condition), timeout=3)

    # --- g: run to the cursor ---------------------------------------------------------------------

    def action_run_to(self) -> None:
        """Run to the line under the Source cursor (or to an earlier breakpoint, flag or the end)."""
        file, line = self.source.file, self.source.cursor_line
        w = words(self.lang)
        if not self._has_code(file, line):
            self.notify(w["bp_blank"].format(line=line), severity="warning", timeout=3)
            return
        if self.state in END_STATES:
            self._hint("is_over", 3)
            return
        if self.state != "paused":
            self._hint("goto_wait", 3)
            return
        if len(self.history) and not self.history.at_end:  # (as the other commands: back to the newest)
            self.history.go_last()
            self._pinned = None
            self._show_step()
            self._hint("back_live", 2)
            return
        self._watch = self.history.index + self.history.dropped
        self.state = "running"
        self.notify(w["goto_line"].format(line=line), timeout=2)
        self._engine_call("run_to", file, line)

    # --- w: data breakpoints on the selected tensor ------------------------------------------------

    def action_data_breakpoint(self) -> None:
        """Open the data-breakpoint menu for the tensor selected in Tensors."""
        w = words(self.lang)
        name = self.tensors.selected_name
        if name is None or name.startswith("optimizer:"):
            self.notify(w["db_none"], severity="warning", timeout=4)
            return
        try:
            stopon.parse(f"grad:{name}")
        except ValueError:
            self.notify(w["db_bad_name"].format(name=name), severity="warning", timeout=5)
            return
        active = tuple(kind for kind in ("change", "grad") if f"{kind}:{name}" in self.stop_specs)

        def chosen(kind: str | None) -> None:
            if kind == "remove":
                self._set_stops([s for s in self.stop_specs if s not in (f"change:{name}", f"grad:{name}")])
                self.notify(w["db_removed"].format(name=name), timeout=3)
            elif kind is not None:
                self._set_stops([*self.stop_specs, f"{kind}:{name}"])
                self.notify(w[f"db_set_{kind}"].format(name=name), timeout=3)

        self.push_screen(DataBreakScreen(name, self.lang, active), chosen)

    def _set_stops(self, specs: Iterable[str]) -> None:
        """Replace the data breakpoints (each once, in order) and tell the run."""
        kept = tuple(dict.fromkeys(specs))
        runner = self.runner
        if isinstance(runner, ReplayRunner):
            runner.set_stop_on(kept)
        else:
            runner.stop_on = kept  # type: ignore[attr-defined]
            self._engine_call("set_stop_on", kept)
        self._show_breaks()

    def action_toggle_stop(self, spec: str) -> None:
        """Stop on `spec` (`nan`, `flag:CODE`), or no longer when it is set."""
        w = words(self.lang)
        specs = self.stop_specs
        kind, _, code = spec.partition(":")
        if spec in specs:
            self._set_stops([s for s in specs if s != spec])
            self.notify(w[f"db_{kind}_off"].format(code=code), timeout=3)
        else:
            self._set_stops([*specs, spec])
            self.notify(w[f"db_set_{kind}"].format(code=code), timeout=3)

    def action_list_breaks(self) -> None:
        """Say which breakpoints (with their conditions) and data breakpoints are set."""
        w = words(self.lang)
        lines = []
        for file, line in sorted(self.runner.breakpoints):
            condition = self.conditions.get((file, line))
            where = f"{file}:{line}"
            lines.append(w["breaks_if"].format(where=where, condition=condition) if condition else where)
        lines.extend(self.stop_specs)
        self.notify("\n".join(lines) if lines else w["breaks_none"], title=w["p_breaks"], timeout=8,
                    markup=False)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        w = words(self.lang)
        specs = self.stop_specs
        yield SystemCommand(w["p_goto"], w["p_goto_help"], self.action_run_to)
        yield SystemCommand(w["p_databreak"], w["p_databreak_help"], self.action_data_breakpoint)
        on_off = w["p_on"] if "nan" in specs else ""
        yield SystemCommand(w["p_nan"] + on_off, w["p_nan_help"], lambda: self.action_toggle_stop("nan"))
        for code in flag_codes():
            spec = f"flag:{code}"
            on_off = w["p_on"] if spec in specs else ""
            yield SystemCommand(w["p_flag"].format(code=code) + on_off, w["p_flag_help"].format(code=code),
                                lambda spec=spec: self.action_toggle_stop(spec))  # type: ignore[misc]
        yield SystemCommand(w["p_breaks"], w["p_breaks_help"], self.action_list_breaks)
