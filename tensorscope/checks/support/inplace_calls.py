"""Calls that change their first argument in place, found in a line's source.

`F.relu(h, inplace=True)`, `torch.relu_(h)` and a module built with `inplace=True`
(`act = nn.ReLU(inplace=True)`; `h = act(h)`) change `h` although the line assigns nothing into it;
`inplace-saved-tensor` watches their first argument like the target of `h *= 2`. Read without running
the script's code (instance dicts only).
"""

from __future__ import annotations

import ast
import types

import torch

from tensorscope.checks.support.resolve import instance_dict, lookup
from tensorscope.checks.support.source import dotted
from tensorscope.engine.values import is_a

Candidate = tuple[str, str, bool]
"""(callee as written, first argument as written, whether the source alone says it is in place)."""


def candidates(code: str) -> tuple[Candidate, ...]:
    """The calls in `code` whose first argument is a (dotted) name, with what the source says of them."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return ()
    found: list[Candidate] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        arg, callee = dotted(node.args[0]), dotted(node.func)
        if arg is None or callee is None:
            continue
        said = any(k.arg == "inplace" and isinstance(k.value, ast.Constant) and k.value.value is True
                   for k in node.keywords)
        last = callee.rsplit(".", 1)[-1]
        said = said or (last.endswith("_") and not last.endswith("__") and "." in callee)
        found.append((callee, arg, said))
    return tuple(found)


def changed_args(frame: types.FrameType, found: tuple[Candidate, ...]) -> tuple[str, ...]:
    """The first arguments of the calls that change them in place: said so in the source, or a module whose
    own `inplace` attribute is True."""
    out: list[str] = []
    for callee, arg, said in found:
        if not said:
            module = lookup(frame, callee)
            if not is_a(module, torch.nn.Module):
                continue
            own = instance_dict(module)
            if own is None or own.get("inplace") is not True:
                continue
        out.append(arg)
    return tuple(out)
