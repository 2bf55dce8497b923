"""What the Inspector shows about optimizers: one in full (picked as `optimizer:NAME` in the Tensors table),
what its last change was, and the state it keeps for a parameter the Inspector shows."""

from __future__ import annotations

from rich.cells import cell_len
from textual.content import Content

from tensorscope.model import OptimizerView
from tensorscope.optim_diff import Change, entry_text, param_label
from tensorscope.tui.words import words

CHANGE_LINES = 8
"""How many lines the Inspector gives to what the last change did."""
_IMPLEMENTATION = {"foreach": "None", "fused": "None", "capturable": "False", "differentiable": "False",
                   "maximize": "False"}
"""Switches that change how (or which way) a step is computed, shown only when not at their default."""
LABEL = "bold $text-secondary"
_ADAM = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
_GLOSSED = {"Adam": _ADAM, "AdamW": _ADAM, "SGD": ("momentum_buffer",)}
"""The state entries explained, by optimizer (the words' `ov_gloss_KEY`; tests/test_claims.py runs them)."""


def _label(text: str, width: int = 9) -> tuple[str, str]:
    return (text + " " * max(1, width - cell_len(text)), LABEL)


def optimizer_content(opt: OptimizerView, change: Change | None, lang: str = "en") -> Content:
    """An optimizer in full: type, hyper-parameters per group, step count, state per tensor, last change."""
    w = words(lang)
    parts: list[str | tuple[str, str]] = [
        (opt.name, "bold $text-accent"), "  ", (opt.type, "bold"),
        (f" · {w['ov_optimizer']} · {w['ov_tensors'].format(n=opt.param_count)}", "$text-muted"), "\n",
        _label(w["ov_step"]),
        str(opt.step) if opt.step is not None else (w["ov_no_step"].format(type=opt.type), "$text-muted"),
        "\n",
    ]
    for gi, g in enumerate(opt.groups):
        shown = [f"{h.name} {h.value}" for h in g.hyper if _IMPLEMENTATION.get(h.name) != h.value]
        label = w["ov_group"].format(i=gi) if len(opt.groups) > 1 else w["ov_hyper"]
        parts += [_label(label), "  ".join(shown) or "—"]
        if len(opt.groups) > 1:
            parts.append((f"   ({w['ov_tensors'].format(n=g.params)})", "$text-muted"))
        parts.append("\n")
    parts += [(w["ov_state"], LABEL), "\n"]
    keys: dict[str, None] = {}
    for i, p in enumerate(opt.params):
        name = param_label(p, i, lang)
        shape = "×".join(map(str, p.shape)) or "()"
        parts += ["  ", (name, "bold"), (f" {shape}", "$text-muted"), "  "]
        if p.state:
            parts.append(",  ".join(f"{e.key}{' ‖·‖' if e.norm is not None else ''} {entry_text(e)}"
                                    for e in p.state))
            keys.update((e.key, None) for e in p.state)
        else:
            parts.append((w["ov_no_state"], "$text-muted"))
        if p.step is not None and p.step != opt.step:
            parts.append((f"  ({w['ov_step']} {p.step})", "$text-muted"))
        parts.append("\n")
    if opt.more:
        parts += [(f"  {w['ov_more'].format(n=opt.more)}", "$text-muted"), "\n"]
    glosses = [(key, w[f"ov_gloss_{key}"]) for key in keys if key in _GLOSSED.get(opt.type, ())]
    for key, gloss in glosses:
        parts += [(f"  {key}: {gloss}", "$text-muted"), "\n"]
    if glosses:
        parts += [(f"  {w['ov_gloss_g']}", "$text-muted"), "\n"]
    parts.append(_label(w["ov_changed"]))
    if change is None:
        parts.append((w["ov_unchanged"], "$text-muted"))
    else:
        when = w["ov_by_line"].format(line=change.line if change.line is not None else "?")
        if change.steps_ago:
            when += "  " + (w["ov_step_ago"] if change.steps_ago == 1 else
                            w["ov_steps_ago"].format(n=change.steps_ago))
        parts.append((when, "$text-muted"))
        for line in change.lines[:CHANGE_LINES]:
            parts += ["\n", f"  {line}"]
        if len(change.lines) > CHANGE_LINES:
            parts += ["\n", (f"  {w['ov_more_changes'].format(n=len(change.lines) - CHANGE_LINES)}",
                             "$text-muted")]
    return Content.assemble(*parts)
