"""The headless core never imports the UI libraries, and `check`/`trace` do not load the TUI."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEADLESS = [
    "tensorscope.model",
    "tensorscope.engine",
    "tensorscope.checks",
    "tensorscope.explain.catalogue",
    "tensorscope.diff",
    "tensorscope.report",
    "tensorscope.cli",
]


@pytest.mark.parametrize("module", HEADLESS)
def test_headless_module_leaves_textual_and_rich_out(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_model_needs_only_the_standard_library() -> None:
    code = "import sys, tensorscope.model\nprint('torch' in sys.modules)\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
