"""The Inspector pane: the selected tensor in full (values or stats, .grad, autograd), or a flag explained."""

from __future__ import annotations

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from tensorscope.explain.catalogue import flag_text
from tensorscope.model import GRAPH_MORE_CAP, ExceptionInfo, Flag, GraphNode, OptimizerView, Stats, TensorView
from tensorscope.optim_diff import Change, state_lines
from tensorscope.shapes import shape_text
from tensorscope.tui.optimizer_view import optimizer_content
from tensorscope.tui.words import words

SEVERITY_MARK = {"error": "✖", "warning": "⚠", "info": "ℹ"}
SEVERITY_STYLE = {"error": "bold $text-error", "warning": "bold $text-warning", "info": "bold $text-primary"}
LABEL = "bold $text-secondary"


def stats_text(s: Stats) -> str:
    """min/max/mean/std in one line, NaN and Inf counts when there are any."""
    text = f"min {s.min:.4g}  max {s.max:.4g}  mean {s.mean:.4g}  std {s.std:.4g}"
    if s.nan or s.inf:
        text += f"  · NaN {s.nan} · Inf {s.inf}"
    return text


def _label(text: str, width: int = 9) -> tuple[str, str]:
    """A row label padded to `width` cells (Chinese characters take two)."""
    return (text + " " * max(1, width - cell_len(text)), LABEL)


def tensor_content(t: TensorView, lang: str = "en", simulated: bool = False,
                   optimizers: tuple[OptimizerView, ...] = ()) -> Content:
    """Everything recorded about one tensor (and the state the optimizers keep for it)."""
    w = words(lang)
    kind = [t.kind] if t.kind != "tensor" else []
    kind.append(w["leaf"] if t.is_leaf else w["non_leaf"])
    if t.requires_grad:
        kind.append("requires_grad")
    device = f"{t.device} ({w['simulated']})" if simulated and t.device.startswith("cuda") else t.device
    parts: list[str | tuple[str, str]] = [
        (t.name, "bold $text-accent"), "  ", f"{t.shape_text} {t.dtype} {device}",
        (f" · {' · '.join(kind)} · {w['version']} {t.version}", "$text-muted"), "\n",
    ]
    if t.aliases:
        parts += [(f"{w['ov_also']}{w['colon']}{', '.join(t.aliases)}", "$text-muted"), "\n"]
    if t.preview is not None:
        parts += [_label(w["values"]), t.preview, "\n"]
    parts.append(_label(w["grad"]))
    if t.grad is not None:
        g = t.grad
        value = g.preview if g.preview is not None else f"{shape_text(g.shape)} {g.dtype}"
        parts.append(value)
        if g.norm is not None:
            parts.append((f"   {w['norm']} {g.norm:.4g}", "$text-muted"))
        parts.append("\n")
    elif t.requires_grad and t.is_leaf:
        parts += [(w["no_grad"], "$text-muted"), "\n"]
    elif t.requires_grad:
        parts += [(w["not_leaf"], "$text-muted"), "\n"]
    else:
        parts += [("—", "$text-muted"), "\n"]
    if t.stats is not None:
        parts += [_label(w["stats"]), stats_text(t.stats), "\n"]
    if t.preview is None and t.stats is None:
        parts += [_label(w["values"]), (w["not_summarised"], "$text-muted"), "\n"]
    for line in state_lines(t, optimizers, lang):
        parts += [line, "\n"]
    parts.append(_label(w["autograd"]))
    if t.grad_fn:
        parts += [f"{t.name} ← ", (t.grad_fn, "bold")]
        if t.graph:
            parts += [(f"   {w['graph_note']}", "$text-muted"), "\n", *graph_parts(t.graph, lang)]
    elif t.requires_grad:
        parts.append(f"{w['leaf']}{w['colon']}backward() → {t.name}.grad")
    else:
        parts.append(("—", "$text-muted"))
    return Content.assemble(*parts)


def graph_parts(nodes: tuple[GraphNode, ...], lang: str = "en") -> list[str | tuple[str, str]]:
    """The autograd graph below a tensor's grad_fn as a tree (the root is drawn by the caller)."""
    w = words(lang)
    parts: list[str | tuple[str, str]] = []
    open_levels: list[bool] = []  # per depth above this node: does a sibling still follow?
    indent = " " * 9
    hinted = False
    for i, node in enumerate(nodes[1:], start=1):
        depth = node.depth
        last = not any(n.depth == depth for n in _until_shallower(nodes, i + 1, depth))
        del open_levels[depth - 1:]
        rails = "".join("│  " if more else "   " for more in open_levels)
        open_levels.append(not last)
        parts.append(f"{indent}{rails}{'└─' if last else '├─'} ")
        if node.name == "…":
            more = f"{node.more}+" if node.more >= GRAPH_MORE_CAP else str(node.more)
            parts += [(w["graph_more"].format(n=more) if node.more else w["graph_cut"], "$text-muted"), "\n"]
        elif node.leaf is not None:
            parts += [("● ", "$text-accent"), (node.leaf, "bold $text-accent")]
            if not hinted:  # the first leaf says what leaves are
                parts.append((f"  {w['graph_leaf']}", "$text-muted"))
                hinted = True
            parts.append("\n")
        elif node.again:
            parts += [node.name, (f"  ({w['graph_again']})", "$text-muted"), "\n"]
        else:
            parts += [node.name, "\n"]
    if parts and parts[-1] == "\n":
        parts.pop()
    return parts


def _until_shallower(nodes: tuple[GraphNode, ...], start: int, depth: int) -> list[GraphNode]:
    """The nodes after `start` up to the first one shallower than `depth`."""
    out: list[GraphNode] = []
    for n in nodes[start:]:
        if n.depth < depth:
            break
        out.append(n)
    return out


def flag_content(flag: Flag, lang: str = "en") -> Content:
    """A flag with its full explanation from the catalogue, in `lang`."""
    w = words(lang)
    text = flag_text(flag, lang)
    message, fix = text.message, text.fix
    where = w["flag_at"].format(line=flag.line, function=flag.function)
    if flag.file:
        where = f"{flag.file} · {where}"
    severity = w.get(f"sev_{flag.severity}", flag.severity)
    parts: list[str | tuple[str, str]] = [
        (f"{SEVERITY_MARK.get(flag.severity, '!')} {severity} · {flag.code}",
         SEVERITY_STYLE.get(flag.severity, "bold")),
        (f"  {where}\n", "$text-muted"),
    ]
    if text.title and text.title != flag.code:
        parts += [(text.title, "bold"), "\n"]
    parts += [message, "\n"]
    if text.cause:
        parts += [_label(w["why"], 5), text.cause, "\n"]
    if fix:
        parts += [_label(w["fix"], 5), (fix, "$text-success"), "\n"]
    if flag.tensors:
        parts += [(f"{w['tensors']}{w['colon']}" + ", ".join(flag.tensors), "$text-muted"), "\n"]
    return Content.assemble(*parts)


def exception_content(exc: ExceptionInfo, flags: tuple[Flag, ...], lang: str = "en",
                      note: str = "") -> Content:
    """The script's exception, its traceback (user frames only) and the flags that explain it."""
    w = words(lang)
    parts: list[str | tuple[str, str] | Content] = []
    if note:
        parts += [(note, "$text-warning"), "\n"]
    for flag in flags:
        parts += [flag_content(flag, lang), "\n"]
    parts += [(f"✖ {exc.type}", "bold $text-error"), f": {exc.message}\n" if exc.message else "\n"]
    if exc.traceback:
        parts += [(w["traceback"], LABEL), "\n"]
        for fr in exc.traceback:
            parts += [(f"  {fr.file}:{fr.line} in {fr.function}", "$text-muted"), "\n"]
            if fr.code:
                parts += [f"    {fr.code}\n"]
    return Content.assemble(*parts)


class Inspector(VerticalScroll):
    """Details of whatever is selected: a tensor, a flag, or the exception the script raised."""

    DEFAULT_CSS = """
    Inspector > Static { width: 1fr; min-height: 100%; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.showing: str = ""
        """What is on display: `tensor:NAME`, `optimizer:NAME`, `flag:CODE`, `exception` or empty."""
        self._height = -1

    def compose(self) -> ComposeResult:
        yield Static(id="inspector-body")

    @property
    def body(self) -> Static:
        return self.query_one("#inspector-body", Static)

    def show_tensor(self, t: TensorView | None, lang: str, simulated: bool = False,
                    optimizers: tuple[OptimizerView, ...] = ()) -> None:
        if t is None:
            self._show("", Content.styled(words(lang)["no_tensor"], "$text-muted"))
        else:
            self._show(f"tensor:{t.name}", tensor_content(t, lang, simulated, optimizers))

    def show_optimizer(self, opt: OptimizerView, change: Change | None, lang: str) -> None:
        self._show(f"optimizer:{opt.name}", optimizer_content(opt, change, lang))

    def show_flag(self, flag: Flag, lang: str) -> None:
        self._show(f"flag:{flag.code}", flag_content(flag, lang))

    def show_exception(self, exc: ExceptionInfo, flags: tuple[Flag, ...], lang: str, note: str = "") -> None:
        self._show("exception", exception_content(exc, flags, lang, note))

    def _show(self, what: str, content: Content) -> None:
        if what != self.showing:
            self.scroll_home(animate=False)
        self.showing = what
        body = self.body
        width = body.content_size.width or self.scrollable_content_region.width
        height = content.get_height(body.styles, width) if width else -1
        if height >= 0:  # the body fills the pane at least (min-height): its size is that or the text's
            height = max(height, self.scrollable_content_region.height)
        body.update(content, layout=height != self._height)  # a layout pass only when its size changes
        self._height = height
