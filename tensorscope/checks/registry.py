"""The list of checks. Adding a check: one new file in this folder and one line here."""

from __future__ import annotations

from tensorscope.checks.base import Check

CHECKS: list[type[Check]] = [
]
"""Every check class, in the order they see events; `script-error` (the fallback) stays last."""


def default_checks() -> list[Check]:
    """Fresh instances of every check, for one run."""
    return [cls() for cls in CHECKS]


def codes() -> list[str]:
    """Every flag code, in registry order."""
    return [cls.code for cls in CHECKS]
