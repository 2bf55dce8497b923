"""Errors inside tensorscope itself, gathered for the whole process (torch-free: the TUI reads it too)."""

from __future__ import annotations

INTERNAL_ERRORS: list[str] = []
"""Every internal error recorded in this process: by a Session here, or reported by an engine child
(the test suite fails on any)."""
