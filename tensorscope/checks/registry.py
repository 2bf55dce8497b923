"""The list of checks. Adding a check: one new file in this folder and one line here."""

from __future__ import annotations

from tensorscope.checks.backward_twice import BackwardTwice
from tensorscope.checks.base import Check
from tensorscope.checks.broadcast_expand import BroadcastExpand
from tensorscope.checks.cuda_unavailable import CudaUnavailable
from tensorscope.checks.device_mismatch import DeviceMismatch
from tensorscope.checks.dtype_mismatch import DtypeMismatch
from tensorscope.checks.grad_accumulation import GradAccumulation
from tensorscope.checks.graph_retained import GraphRetained
from tensorscope.checks.inplace_leaf import InplaceLeaf
from tensorscope.checks.inplace_saved_tensor import InplaceSavedTensor
from tensorscope.checks.nan_inf import NanInf
from tensorscope.checks.no_grad_graph import NoGradGraph
from tensorscope.checks.non_leaf_grad import NonLeafGrad
from tensorscope.checks.nonscalar_backward import NonscalarBackward
from tensorscope.checks.script_error import ScriptErrorCheck
from tensorscope.checks.shape_mismatch import ShapeMismatch

CHECKS: list[type[Check]] = [
    DeviceMismatch,
    CudaUnavailable,
    NonscalarBackward,
    BackwardTwice,
    NoGradGraph,
    DtypeMismatch,
    ShapeMismatch,
    InplaceLeaf,
    GradAccumulation,
    InplaceSavedTensor,
    BroadcastExpand,
    GraphRetained,
    NanInf,
    NonLeafGrad,
    # the fallback for every exception no check above explained: keep it LAST
    ScriptErrorCheck,
]
"""Every check class, in the order they see events; `script-error` (the fallback) stays last."""


def default_checks() -> list[Check]:
    """Fresh instances of every check, for one run."""
    return [cls() for cls in CHECKS]


def codes() -> list[str]:
    """Every flag code, in registry order."""
    return [cls.code for cls in CHECKS]
