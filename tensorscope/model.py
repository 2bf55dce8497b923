"""The data that flows from the engine to every consumer: plain, frozen records with a JSON round-trip.

Nothing else in the package is needed to read a trace: this module and `records_json` (reading JSON back)
import only the standard library.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from tensorscope.records_json import TraceFormatError, read_record

__all__ = ["TraceFormatError"]

SCHEMA = 1
"""Version of the trace format; bumped when a field changes meaning. Readers accept older versions."""



Severity = Literal["error", "warning", "info"]
StepEvent = Literal["line", "return", "exception", "end"]
EvalKind = Literal["value", "tensor", "statement", "error", "timeout", "refused"]
"""What evaluating gave: a value (its repr in `text`), a tensor (`tensor`), a statement that ran, an exception
(`text`: `Type: message`), an evaluation stopped at its time limit, or one refused (evaluation is off)."""
PauseKind = Literal["breakpoint", "condition-error", "cursor", "breakpoint-call", "changed", "grad", "nan",
                    "flag", "raised", "post-mortem"]
"""Why a run paused where stepping alone would not have: a breakpoint (its condition true), a condition that
raised, run-to-cursor, the script's `breakpoint()`, a data breakpoint (a tensor changed, its `.grad` was
written, a tensor became NaN/Inf, a flag), an exception raised (caught or not), or the run's post-mortem."""
SEVERITIES: tuple[str, ...] = ("error", "warning", "info")


@dataclass(frozen=True)
class Stats:
    """Summary statistics of a tensor's values (floating point and integer tensors only)."""

    min: float
    max: float
    mean: float
    std: float
    nan: int = 0
    """How many elements are NaN."""
    inf: int = 0
    """How many elements are +Inf or -Inf."""


@dataclass(frozen=True)
class GradView:
    """The `.grad` of a tensor at one step."""

    shape: tuple[int, ...]
    dtype: str
    device: str
    norm: float | None = None
    """L2 norm of the gradient (None when it could not be computed, e.g. integer dtype)."""
    preview: str | None = None
    """The values, formatted, for small gradients only."""


@dataclass(frozen=True)
class GraphNode:
    """One node of a tensor's autograd graph, in depth-first order (the tree the Inspector draws)."""

    depth: int
    """0 for the tensor's own `grad_fn`, 1 for its inputs, and so on down to the leaves."""
    name: str
    """The node's class: `MulBackward0`, `AccumulateGrad` (a leaf), or `…` where the tree was cut."""
    leaf: str | None = None
    """For a leaf: the user's name for it (`w`, `model.0.weight`) or its shape and dtype."""
    again: bool = False
    """True when this node was already drawn higher up (graphs share nodes); its inputs are not repeated."""
    more: int = 0
    """For a cut (`…`): how many nodes it hides, counted up to GRAPH_MORE_CAP (`100+`); 0: not counted."""


GRAPH_MORE_CAP = 100
"""A graph cut's count of the nodes it hides stops here."""


@dataclass(frozen=True)
class TensorView:
    """One tensor in scope at one step: metadata always, values only when small."""

    name: str
    """How the user reaches it: `w`, `model.0.weight`, `batch[0]`, `state["h"]`."""
    shape: tuple[int, ...]
    dtype: str
    """Short dtype name: `float32`, `int64`, `bool`."""
    device: str
    """`cpu`, `cuda:0`, ..."""
    requires_grad: bool
    is_leaf: bool
    grad_fn: str | None
    """Name of the autograd node that made it (`AddBackward0`), None for leaves."""
    version: int
    """The tensor's `_version`: bumped by every in-place change."""
    numel: int
    kind: str = "tensor"
    """`tensor`, `parameter` (of an nn.Module) or `buffer`."""
    preview: str | None = None
    """The values, formatted, for small tensors only."""
    stats: Stats | None = None
    """min/max/mean/std and NaN/Inf counts, for tensors small enough to summarise cheaply."""
    grad: GradView | None = None
    """Its `.grad` (read only for leaves and tensors that retain grad)."""
    graph: tuple[GraphNode, ...] = ()
    """Its autograd graph, `grad_fn` first, down to the leaves (empty for leaves and plain tensors)."""
    aliases: tuple[str, ...] = ()
    """Other names that reach the same tensor at this step (`net.fc1.weight` beside `model.fc1.weight`)."""

    @property
    def shape_text(self) -> str:
        """Shape as people write it (tensorscope/shapes.py): `4×1`, `3`, `()` for a scalar."""
        from tensorscope.shapes import shape_text  # (standard library only)

        return shape_text(self.shape)


@dataclass(frozen=True)
class HyperParam:
    """One hyper-parameter of a parameter group (`lr`, `betas`, `weight_decay`), its value formatted."""

    name: str
    value: str


@dataclass(frozen=True)
class OptimizerGroup:
    """One of an optimizer's `param_groups`: how many tensors it holds and its other keys."""

    params: int
    hyper: tuple[HyperParam, ...] = ()
    """The group's keys other than `params` whose values are simple (numbers, flags, tuples of numbers)."""


@dataclass(frozen=True)
class StateEntry:
    """One entry of an optimizer's state for one parameter (`exp_avg`, `momentum_buffer`)."""

    key: str
    norm: float | None = None
    """L2 norm, for a tensor entry (None when not computed: not floating point, or not a tensor)."""
    value: str | None = None
    """The value, formatted, for a number or a one-element tensor."""


@dataclass(frozen=True)
class OptimizerParam:
    """One tensor an optimizer updates, with its state."""

    name: str
    """Its name in scope (`model.0.weight`); empty when no name in scope reaches it."""
    group: int
    """Index of its parameter group."""
    shape: tuple[int, ...]
    step: int | None = None
    """Its `step` entry in the optimizer's state (Adam counts per parameter); None when there is none."""
    state: tuple[StateEntry, ...] = ()
    """Its other state entries, in the optimizer's order (empty before the first `step()`)."""


@dataclass(frozen=True)
class OptimizerView:
    """An optimizer in scope: its groups' hyper-parameters, its step count and its state per parameter."""

    name: str
    type: str
    """Class name: `SGD`, `Adam`."""
    lr: float | None
    """The first group's learning rate."""
    param_count: int
    """How many tensors it updates."""
    groups: tuple[OptimizerGroup, ...] = ()
    step: int | None = None
    """The largest `step` entry in its state; None when it keeps none (SGD) or before the first step."""
    params: tuple[OptimizerParam, ...] = ()
    """Its tensors, in group order, up to a cap (`more` says how many were left out)."""
    more: int = 0


@dataclass(frozen=True)
class Flag:
    """A pitfall detected at one line. `code` is a public, stable identifier."""

    code: str
    severity: Severity
    line: int
    function: str
    message: str
    """One sentence naming the user's variables."""
    hint: str
    """How to fix it."""
    tensors: tuple[str, ...] = ()
    """Names of the tensors involved."""
    file: str = ""
    """Display path of the file the line is in (empty: the main script)."""
    data: dict[str, str] = field(default_factory=dict, hash=False)
    """Named values the explanation catalogue fills in (variable names, values, shapes)."""


@dataclass(frozen=True)
class FrameInfo:
    """One frame of a call stack or traceback, in user code."""

    file: str
    line: int
    function: str
    code: str = ""
    """The source line, stripped."""


@dataclass(frozen=True)
class RaisedAt:
    """An exception and where the user's code raised it (the base of ExceptionInfo and RaisedInfo)."""

    type: str
    message: str
    line: int
    function: str = "<module>"
    file: str = ""


@dataclass(frozen=True)
class ExceptionInfo(RaisedAt):
    """An exception raised by the script, with the traceback cut to the user's frames."""

    traceback: tuple[FrameInfo, ...] = ()

    @property
    def text(self) -> str:
        """The traceback as Python prints it, user frames only."""
        out = ["Traceback (most recent call last):"]
        for fr in self.traceback:
            out.append(f'  File "{fr.file}", line {fr.line}, in {fr.function}')
            if fr.code:
                out.append(f"    {fr.code}")
        out.append(f"{self.type}: {self.message}" if self.message else self.type)
        return "\n".join(out)


@dataclass(frozen=True)
class RaisedInfo(RaisedAt):
    """An exception raised in the user's code, caught or not: where, and where a handler caught it."""

    caught_line: int | None = None
    """The line of the handler that caught it (in the frame it reached); None while uncaught."""


@dataclass(frozen=True)
class Evaluation:
    """An expression evaluated (or a statement run) in a paused frame: at the prompt, as a watch, or as a
    breakpoint's condition."""

    source: str
    """What was evaluated, as typed."""
    kind: EvalKind
    text: str = ""
    """The value's repr (cut), the exception as `Type: message`, or why it was stopped or refused."""
    tensor: TensorView | None = None
    """The result when it is a tensor (named as typed), with its values, stats and graph."""
    output: str = ""
    """What the evaluation printed (stdout and stderr), shown with it rather than as the script's output."""
    step: int = 0
    """The index of the Step it was evaluated at."""
    frame: int = 0
    """The frame it was evaluated in: an index into that Step's `stack` (0: the outermost)."""


@dataclass(frozen=True)
class PauseReason:
    """Why the run paused here (a breakpoint, a data breakpoint, an exception), when stepping did not."""

    kind: PauseKind
    subject: str = ""
    """The condition, the tensor's name, the flag code or the exception's type."""
    detail: str = ""
    """What changed (`value`, `shape 3 → 4`), why a condition could not be evaluated, the exception's text."""


@dataclass(frozen=True)
class Step:
    """The state at one pause: about to run `line`, having just run `prev_line`."""

    index: int
    file: str
    """Display path of the file being executed."""
    line: int
    """The next line to run (for `return`/`exception`/`end` steps: the line where that happened)."""
    function: str
    depth: int
    """How many of the user's frames are below this one (0 at module level)."""
    event: StepEvent = "line"
    prev_line: int | None = None
    """The line executed just before this pause (None at the first step)."""
    prev_file: str | None = None
    tensors: tuple[TensorView, ...] = ()
    optimizers: tuple[OptimizerView, ...] = ()
    flags: tuple[Flag, ...] = ()
    """Flags raised since the previous pause."""
    stdout: str = ""
    """What the script printed to stdout since the previous pause."""
    stderr: str = ""
    exception: ExceptionInfo | None = None
    raised: RaisedInfo | None = None
    """The last exception the user's code raised since the previous Step (even when it was caught)."""
    grad_enabled: bool = True
    """False inside `torch.no_grad()`."""
    stack: tuple[FrameInfo, ...] = ()
    """The user's frames, outermost first; the last is this step's frame."""
    more: tuple[tuple[str, int], ...] = ()
    """Containers (list, tuple, dict) whose tensors were not all listed: (its name, how many left out)."""
    inference_mode: bool = False
    """True inside `torch.inference_mode()` (grad_enabled is then False too)."""
    loss: float | None = None
    """The value of the scalar tensor `backward()` was last called on since the previous pause, if any."""
    loss_name: str | None = None
    """The name in scope of that tensor (None when it had none, e.g. `(a + b).backward()`)."""
    watches: tuple[Evaluation, ...] = ()
    """The watched expressions, evaluated in this step's frame at this pause (`trace --watch`, the TUI)."""
    reason: PauseReason | None = None
    """Why the run paused here, when a breakpoint, a data breakpoint or an exception made it pause."""
    selected: int | None = None
    """Set on a Step re-made for a frame up the stack (`u`/`d`): the index in `stack` of the frame whose
    values `tensors` holds. None: the innermost (this step's own frame)."""

    def tensor(self, name: str) -> TensorView | None:
        """The tensor called `name` (or reached under that name too: an alias) at this step, if in scope."""
        for t in self.tensors:
            if t.name == name:
                return t
        for t in self.tensors:
            if name in t.aliases:
                return t
        return None

    @property
    def devices(self) -> tuple[str, ...]:
        """Devices of the tensors in scope, in first-seen order."""
        seen: dict[str, None] = {}
        for t in self.tensors:
            seen.setdefault(t.device, None)
        return tuple(seen)


@dataclass(frozen=True)
class Trace:
    """A whole run of a script: its source, every recorded step and how it ended."""

    script: str
    """Display path of the script."""
    argv: tuple[str, ...] = ()
    sources: dict[str, tuple[str, ...]] = field(default_factory=dict, hash=False)
    """Source lines of every traced file, keyed by display path."""
    steps: tuple[Step, ...] = ()
    completed: bool = False
    """True when the script ran to its end (or exited with status 0)."""
    end_reason: str = "finished"
    """`finished`, `exception`, `exit` (SystemExit), `max-steps`, `stopped` or `timeout`."""
    exception: ExceptionInfo | None = None
    exit_code: int | None = None
    """The status of a SystemExit, None when the script did not call exit."""
    stdout: str = ""
    stderr: str = ""
    flags: tuple[Flag, ...] = ()
    """Every flag raised during the run, in order."""
    simulated_cuda: bool = False
    internal_errors: tuple[str, ...] = ()
    """Errors inside tensorscope during the run (a check's or the engine's), with their tracebacks."""
    evaluations: tuple[Evaluation, ...] = ()
    """What the user evaluated at the prompt during the run, in order (each names its Step)."""
    schema: int = SCHEMA

    @property
    def source(self) -> tuple[str, ...]:
        """The main script's source lines."""
        return self.sources.get(self.script, ())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return _to_json(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Trace:
        """Rebuild a Trace from `to_dict` output; raises TraceFormatError (a ValueError) if it is not one."""
        if not isinstance(data, dict) or "script" not in data:
            raise TraceFormatError("not a tensorscope trace (no 'script' field)")
        schema = data.get("schema", SCHEMA)
        if not isinstance(schema, int) or isinstance(schema, bool) or schema > SCHEMA:
            raise TraceFormatError(f"trace schema {schema!r} is newer than this tensorscope ({SCHEMA})")
        try:
            return _from_json(cls, data, "trace")
        except TraceFormatError:
            raise
        except (TypeError, KeyError, AttributeError, ValueError) as exc:
            raise TraceFormatError(f"malformed trace: {exc}") from exc

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> Trace:
        """Read a trace written by `to_json`; raises TraceFormatError (a ValueError) saying what is wrong."""
        if isinstance(text, bytes) and text[:1] == b"\x80":
            raise TraceFormatError("not a tensorscope trace: this looks like a pickle; traces are JSON, "
                                   "and tensorscope never unpickles files")
        try:
            data = json.loads(text)
        except (ValueError, TypeError) as exc:  # JSONDecodeError, or bytes that are not text
            raise TraceFormatError(f"not a tensorscope trace: not JSON ({exc})") from exc
        return cls.from_dict(data)


# --- JSON round-trip (reading back: tensorscope/records_json.py, driven by the type hints) -------------

def _to_json(obj: Any) -> Any:
    """A record (or a value inside one) as plain JSON values: records to dicts, tuples to lists."""
    if hasattr(obj, "__dataclass_fields__"):
        return {f.name: _to_json(getattr(obj, f.name)) for f in fields(obj)}
    if isinstance(obj, tuple | list):
        return [_to_json(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _to_json(v) for k, v in obj.items()}
    return obj


def _from_json(cls: type, data: Any, where: str = "") -> Any:
    """Build record `cls` from what JSON gave, every field checked against its type hint; a
    TraceFormatError names the first field that does not fit (`trace.steps[3].tensors[0].shape`)."""
    return read_record(cls, data, where)
