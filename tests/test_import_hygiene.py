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


def test_the_terminal_ui_never_imports_torch() -> None:
    """The app runs a script to its end (torch and all) in its engine process; torch stays out of the UI's."""
    code = (
        "import asyncio, os, sys, tempfile\n"
        "from tensorscope.tui.app import TensorScopeApp\n"
        "path = os.path.join(tempfile.mkdtemp(), 's.py')\n"
        "open(path, 'w').write('import torch\\nx = torch.ones(2)\\nprint(x.sum().item())\\n')\n"
        "app = TensorScopeApp(path)\n"
        "async def main():\n"
        "    async with app.run_test(size=(120, 40)) as pilot:\n"
        "        while app.state != 'paused':\n"
        "            await pilot.pause(0.02)\n"
        "        await pilot.press('c')\n"
        "        while app.state != 'finished':\n"
        "            await pilot.pause(0.02)\n"
        "        print(app.output.text.strip(), 'torch' in sys.modules, file=sys.stderr)\n"
        "asyncio.run(main())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stderr.split() == ["2.0", "False"], out.stderr


def test_one_definition_of_the_commands():
    """The package, the Session and the TUI share one torch-free list of commands."""
    import tensorscope.engine as engine
    from tensorscope.engine import commands, session

    assert engine.COMMANDS is session.COMMANDS is commands.COMMANDS
    assert engine.Command is session.Command is commands.Command
