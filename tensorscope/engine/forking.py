"""The fork server engine children come from: it has imported torch and the checks already (`ENGINE_MODULES`),
and its children skip multiprocessing's re-run of the parent's `__main__` (they run the user's script)."""

from __future__ import annotations

import multiprocessing
import sys
import types
from typing import Any

from tensorscope.engine.protocol import CHILD_NAME, ENGINE_MODULES


def _no_main_in_engine_children() -> None:
    """Children of the fork server would first re-run the parent's `__main__` (multiprocessing's rule for
    its own workers); an engine child runs the user's script instead, so for it that step is left out."""
    from multiprocessing import spawn

    original = spawn.get_preparation_data
    if getattr(original, "_tensorscope", False):
        return

    def get_preparation_data(name: str) -> dict[str, Any]:
        """multiprocessing's preparation data, without the parent's main module for engine children."""
        if name != CHILD_NAME:
            return original(name)
        saved = sys.modules.get("__main__")
        sys.modules["__main__"] = types.ModuleType("__main__")  # nothing to re-run, nothing to check
        try:
            data = original(name)
        finally:
            if saved is not None:
                sys.modules["__main__"] = saved
        data.pop("init_main_from_path", None)
        data.pop("init_main_from_name", None)
        return data

    get_preparation_data._tensorscope = True  # type: ignore[attr-defined]
    spawn.get_preparation_data = get_preparation_data


def forkserver_context() -> multiprocessing.context.BaseContext:
    """The fork server's context, its preload set to the engine (the server imports torch, not us)."""
    _no_main_in_engine_children()
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(ENGINE_MODULES))
    return context
