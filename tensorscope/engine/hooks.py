"""PyTorch's own hooks the instrumentation sets while a run is observed: a forward pre-hook on each loss
module (`nn.MSELoss`, ...) a user's line calls, and the global optimizer step pre-hook; both removed at the
end of the run and while unobserved passes run. Also the events the checks get from them and from the mode
(operators, regression losses, optimizer steps)."""

from __future__ import annotations

import sys
import threading
import types
from typing import Any

import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook

from tensorscope.engine.handlers import call_each
from tensorscope.engine.static import static_value
from tensorscope.engine.values import is_a

LOSS_MODULES: dict[type, str] = {
    torch.nn.MSELoss: "mse_loss", torch.nn.L1Loss: "l1_loss", torch.nn.SmoothL1Loss: "smooth_l1_loss",
    torch.nn.HuberLoss: "huber_loss",
}


class HookedCalls:
    """The instrumentation's hooks and the events they feed (mixed into `instrument.Instrument`, whose
    `__init__` sets the handler lists, `_hooked`, `_step_hook`, `_ctx` and `_tid`)."""

    def _hook_steps(self) -> None:
        if self.step_handlers and self._step_hook is None:
            self._step_hook = register_optimizer_step_pre_hook(self._step)

    def _unhook_steps(self) -> None:
        hook, self._step_hook = self._step_hook, None
        if hook is not None:
            hook.remove()

    def _hook_losses(self, frame: types.FrameType, callees: list[str]) -> None:
        """Loss modules this line calls get a forward pre-hook of ours (the first run of a line decides
        which of its callees to keep looking at: those that were loss modules)."""
        keep = []
        for name in callees:
            try:
                value = static_value(name, frame.f_locals, frame.f_globals)
            except LookupError:
                continue
            if type(value) in LOSS_MODULES:
                keep.append(name)
                if id(value) not in self._hooked:
                    self._hooked[id(value)] = value.register_forward_pre_hook(self._module_pre)
        callees[:] = keep

    def _unhook_losses(self) -> None:
        for handle in self._hooked.values():
            handle.remove()
        self._hooked.clear()

    def op(self, symbol: str, a: torch.Tensor, b: torch.Tensor, out: Any, caller: types.FrameType) -> None:
        """Tell the operator subscribers about `a symbol b`."""
        ctx = self._ctx
        if ctx is None:
            return
        call_each(ctx, self.op_handlers, symbol, a, b, out, caller)

    def loss(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], caller: types.FrameType | None,
             direct: bool) -> None:
        """Tell the loss subscribers about a regression loss about to run."""
        ctx = self._ctx
        if ctx is None:
            return
        a = args[0] if args else kwargs.get("input")
        b = args[1] if len(args) > 1 else kwargs.get("target")
        if not (is_a(a, torch.Tensor) and is_a(b, torch.Tensor)) or a.ndim + b.ndim != 3:
            return
        if caller is None:
            return
        call_each(ctx, self.loss_handlers, name, a, b, caller, direct)

    def _module_pre(self, module: torch.nn.Module, args: tuple[Any, ...]) -> None:
        name = LOSS_MODULES.get(type(module))
        ctx = self._ctx
        if name is None or ctx is None or threading.get_ident() != self._tid or ctx.unobserved:
            return
        f: types.FrameType | None = sys._getframe(1)
        while f is not None and not ctx.is_user_code(f.f_code):
            f = f.f_back
        self.loss(name, args, {}, f, direct=False)

    def _step(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        ctx = self._ctx
        if ctx is None or threading.get_ident() != self._tid or ctx.unobserved:
            return
        call_each(ctx, self.step_handlers, optimizer)
