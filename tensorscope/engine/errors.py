"""Errors inside tensorscope itself, gathered for the whole process, and how an exception's type is named
(torch-free: the TUI reads it too)."""

from __future__ import annotations

INTERNAL_ERRORS: list[str] = []
"""Every internal error recorded in this process: by a Session here, or reported by an engine child
(the test suite fails on any)."""


def exception_type(exc: BaseException) -> str:
    """An exception's type as Python's traceback prints it (`RuntimeError`, `numpy.linalg.LinAlgError`)."""
    cls = type(exc)
    if cls.__module__ in ("__main__", "builtins"):
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"
