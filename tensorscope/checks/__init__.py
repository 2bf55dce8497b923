"""Pitfall checks: one per file, each a Check with a stable flag code (see registry.py); what they share is
in support/."""

from tensorscope.checks.base import Check
from tensorscope.checks.registry import CHECKS, codes, default_checks

__all__ = ["CHECKS", "Check", "codes", "default_checks"]
