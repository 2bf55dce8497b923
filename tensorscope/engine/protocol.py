"""The engine process's protocol: the script runs in a child process of its own, as `python script.py`
would run it.

The terminal UI (and `serve`) never imports torch: it starts the engine in a child forked from a fork
server that has already imported torch and the checks, so a run starts (and restarts) in milliseconds; the
next child is forked ahead of time. `trace` and `check` fork the same child straight from the CLI process
(which has imported torch anyway). In the child the script is the process's own: `os._exit`, signals,
`torch.set_default_device`, DataLoader workers and pickle behave natively. A child that dies (a segfault,
`os._exit`, SIGKILL, out of memory) ends the run with its exit status; the parent stays up. After the
script's last line (or its uncaught exception, or `sys.exit`) the child does what python does at exit:
it waits for the script's non-daemon threads, then runs the `atexit` handlers (the script's, and those
torch and the standard library registered on import, as under python; tensorscope's own is removed);
what they print is the script's output, on its last Step.

Protocol: one duplex pipe (a multiprocessing Connection) per run carries pickled tuples. Both ends are
tensorscope's own code in two processes of one user; nothing from a file is ever unpickled. Pickle is
the faster: on a Step with 50 tensors (8x8, stats and previews) it measured 0.42-0.44 ms to pickle and
unpickle against 6.0-6.6 ms through the JSON model (`_to_json`, `json.dumps`/`loads`, `_from_json`),
6.9 KB against 18.3 KB (Python 3.11, a loaded 2-core machine; `benchmarks/encoding.py`).

parent → child
  ("run", RunSpec)             the first message: what to run and how (a spare child waits for it)
  ("cmd", name)                step | next | finish | continue | interrupt
  ("stop", reason)             end the script at its next line (`stopped`, `timeout`)
  ("break", file, line, on, condition)
                               add (on=True) or remove a breakpoint (file: a display path); `condition`:
                               an expression (pause only when true), or None
  ("until", file, line)        continue to that line (run to the cursor), or an earlier pause
  ("eval", id, source, frame)  evaluate an expression or run a statement in the paused frame `frame` (an
                               index into the paused Step's stack; None: the innermost) -> ("evaled", ...)
  ("complete", id, prefix, frame)
                               the names in scope of that frame starting with `prefix` -> ("completed", ...)
  ("watches", exprs)           the watched expressions, evaluated at every pause (and now, when paused:
                               -> ("watched", ...))
  ("frame", id, index)         the paused Step re-made for frame `index` of its stack -> ("framed", ...)
  ("stopon", specs)            the data breakpoints (`stopon.parse` syntax: grad:w, change:w, nan, flag:CODE)
  EOF                          the parent is gone or let the child go: the child exits at once
child → parent
  ("out", stream, text)        the script wrote `text` to `stdout` or `stderr` (kept if the child dies)
  ("stdin", reads)             the script has read its empty stdin `reads` times so far
  ("step", Step)               a pause (interactive) or a recorded line (`record`)
  ("steps", [Step, ...])       interactive: lines `finish`/`continue` ran through without pausing, in
                               batches (up to BATCH_STEPS, or BATCH_SECONDS old), always before the pause
  ("end", Trace, errors)       the run is over; Trace.steps is empty (the Steps came one by one);
                               `errors`: tensorscope's internal errors, as text
  ("error", message)           the script could not be loaded (missing, not Python, ...)
  ("evaled", id, Evaluation)   what an "eval" gave (a statement's effects are the script's from then on)
  ("completed", id, names)     what a "complete" found, sorted
  ("watched", evaluations)     the watches, evaluated again at the current pause
  ("framed", id, Step | None)  the paused Step with the values of the frame asked for (None: not paused)
When the pipe closes with no "end", the child died: the parent makes the end from its exit status
(`exit_code` is the status, or minus the number of the signal that killed it).

The parent's side is `process.py` (EngineProcess, the spare child, headless runs), the child's `child.py`,
the fork server's set-up `forking.py`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from tensorscope.model import Trace

Mode = Literal["interactive", "record", "run"]
ENGINE_MODULES = ("tensorscope.engine.session", "tensorscope.checks")
"""What the fork server imports once (torch with them), so each child starts with it loaded."""
CHILD_NAME = "tensorscope-engine"
"""The name of an engine child process (multiprocessing's `Process.name`)."""
STOP_GRACE = 2.0
"""Seconds a child gets to stop at its next line before it is killed."""
BATCH_STEPS = 256
"""Steps run through (finish, continue) sent to the UI together, at most this many per message."""
BATCH_SECONDS = 0.1
"""... or as soon as the oldest waiting one is this old, so a long `continue` shows its progress."""


@dataclass(frozen=True)
class RunSpec:
    """What a child runs: the script (read again by the child), its arguments and the engine's options."""

    path: str
    """Absolute path of the script."""
    display: str
    argv: tuple[str, ...]
    """`sys.argv` as the script sees it (argv[0] included)."""
    mode: Mode = "interactive"
    trace_modules: tuple[str, ...] = ()
    breakpoints: tuple[tuple[str, int], ...] = ()
    """(display file, line) pairs."""
    conditions: tuple[tuple[str, int, str], ...] = ()
    """(display file, line, condition): breakpoints that pause only when the condition is true."""
    watches: tuple[str, ...] = ()
    """Expressions evaluated at every pause (interactive) or every recorded step (`record`: trace --watch)."""
    stop_on: tuple[str, ...] = ()
    """Data breakpoints (`stopon.parse`): grad:NAME, change:NAME, nan, flag:CODE."""
    allow_eval: bool = True
    """False: the child refuses evaluation, watches and conditions (`serve` without --allow-eval)."""
    max_steps: int | None = None
    stop_on_flags: bool = False
    simulate_cuda: bool = False
    every_pass: bool = False
    """`run` mode: observe every pass of every loop (else, after a loop's first passes, one in a few)."""
    checks: str = "tensorscope.checks:default_checks"
    """`module:function` the child calls for the checks to run ("" for none)."""


@dataclass
class RunResult:
    """How a run ended, seen from the parent."""

    trace: Trace
    internal_errors: list[str] = field(default_factory=list)
    killed: bool = False
    """True when the parent killed the child (it did not end by itself)."""
    error: str | None = None
    """Why the run could not start (the script cannot be loaded, --simulate-cuda on a GPU machine)."""


def spec_for(target: Any, mode: Mode, *, trace_modules: Iterable[str] = (),
             breakpoints: Iterable[tuple[str, int]] = (), max_steps: int | None = None,
             stop_on_flags: bool = False, simulate_cuda: bool = False, every_pass: bool = False,
             checks: str = RunSpec.checks, conditions: Iterable[tuple[str, int, str]] = (),
             watches: Iterable[str] = (), stop_on: Iterable[str] = (), allow_eval: bool = True) -> RunSpec:
    """The RunSpec of a ScriptTarget."""
    return RunSpec(path=str(target.path), display=target.display, argv=tuple(target.argv), mode=mode,
                   trace_modules=tuple(trace_modules), breakpoints=tuple(breakpoints), max_steps=max_steps,
                   stop_on_flags=stop_on_flags, simulate_cuda=simulate_cuda, every_pass=every_pass,
                   checks=checks, conditions=tuple(conditions), watches=tuple(watches),
                   stop_on=tuple(stop_on), allow_eval=allow_eval)
