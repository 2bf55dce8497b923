"""`tensorscope serve`: the step-debugger in a browser tab, tested end to end in headless Chromium.

Needs Playwright (the `test` extra) and a Chromium on the PATH (`apt-get install chromium`; `.ci/run`
installs it); skipped with the reason when either is missing.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tensorscope.serve import app_command

CHROMIUM = (os.environ.get("TENSORSCOPE_CHROMIUM") or shutil.which("chromium")
            or shutil.which("chromium-browser"))

HOOK = """
Object.defineProperty(Object.prototype, "webglAddon", {
  configurable: true,
  set(value) {
    window.__textual = this;
    Object.defineProperty(this, "webglAddon", {value, writable: true, configurable: true, enumerable: true});
  },
});
"""
"""Keeps a handle on textual-serve's terminal (the page draws text on a canvas, so the DOM has none)."""

SCREEN = """() => {
  const term = window.__textual && window.__textual.terminal;
  if (!term) return "";
  const buffer = term.buffer.active, rows = [];
  for (let i = 0; i < term.rows; i++) {
    const line = buffer.getLine(buffer.viewportY + i);
    rows.push(line ? line.translateToString(true) : "");
  }
  return rows.join("\\n");
}"""
"""The terminal's text, row by row, as the student sees it."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[str], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"tensorscope serve exited with {proc.returncode}: {proc.stdout.read()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"tensorscope serve did not listen on port {port} within {timeout:.0f} s")


def serve(*args: str, cwd: Path) -> tuple[subprocess.Popen[str], int]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tensorscope", "serve", *args, "--port", str(port)],
                            cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wait_for_port(port, proc)
    return proc, port


def stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    playwright = pytest.importorskip("playwright.sync_api",
                                     reason="Playwright is not installed (the test extra)")
    pytest.importorskip("textual_serve", reason="textual-serve is not installed (the serve extra)")
    if CHROMIUM is None:
        pytest.skip("no Chromium on the PATH (apt-get install chromium)")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM)
        yield b
        b.close()


def screen_text(page: Any) -> str:
    return str(page.evaluate(SCREEN))


def wait_for_screen(page: Any, pattern: str, timeout: float = 60.0) -> str:
    """The terminal's text once `pattern` shows in it."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = screen_text(page)
        if re.search(pattern, text):
            return text
        time.sleep(0.2)
    raise AssertionError(f"{pattern!r} never appeared in the browser; the terminal showed:\n{text}")


def open_app(browser: Any, port: int) -> Any:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.add_init_script(HOOK)
    page.goto(f"http://127.0.0.1:{port}/")
    wait_for_screen(page, r"⏸ paused · step 0")
    page.locator(".textual-terminal").click()
    return page


def step_until_x_appears(page: Any) -> str:
    """Press n (a real key press in the page) until `x` is a row of the Tensors pane."""
    for n in range(1, 7):
        page.keyboard.press("n")
        text = wait_for_screen(page, rf"⏸ paused · step {n} ")
        if re.search(r"│ x\s+4×1\s+float32\s+cpu", text):
            return text
    raise AssertionError(f"x never appeared in the Tensors pane:\n{text}")


@pytest.mark.browser
@pytest.mark.xdist_group("browser")  # one worker launches Chromium (the module's browser)
def test_run_in_a_browser_tab(browser, tmp_path):
    """The page loads the app on linreg; pressing n steps, and the Tensors pane fills in."""
    proc, port = serve("linreg", cwd=tmp_path)
    try:
        page = open_app(browser, port)
        first = screen_text(page)
        assert "Source · scenarios/linreg.py" in first and "Tensors · 0" in first
        text = step_until_x_appears(page)
        assert re.search(r"Tensors · [1-9]", text)
        page.close()
    finally:
        stop(proc)


@pytest.mark.browser
@pytest.mark.xdist_group("browser")  # one worker launches Chromium (the module's browser)
def test_replay_a_recorded_lesson_in_a_browser_tab(browser, tmp_path):
    """A trace recorded with `tensorscope trace -o` is served with `replay`: same screens, no script run."""
    record = subprocess.run([sys.executable, "-m", "tensorscope", "trace", "linreg", "-o", "lesson.json"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert record.returncode == 0, record.stderr
    proc, port = serve("lesson.json", "--lang", "zh", cwd=tmp_path)
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.add_init_script(HOOK)
        page.goto(f"http://127.0.0.1:{port}/")
        wait_for_screen(page, r"已暂停 · 第 0 步")
        page.locator(".textual-terminal").click()
        for n in range(1, 5):
            page.keyboard.press("n")
            text = wait_for_screen(page, rf"已暂停 · 第 {n} 步 ")
        assert re.search(r"│ x\s+4×1\s+float32\s+cpu", text)
        assert "张量 · 1" in text
        page.close()
    finally:
        stop(proc)


def listening_addresses(port: int) -> set[str]:
    """The IPv4 addresses a socket listens on at `port`, from the kernel's table (Linux)."""
    found = set()
    for row in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = row.split()[1], row.split()[3]
        address, hex_port = local.split(":")
        if int(hex_port, 16) == port and state == "0A":  # LISTEN
            found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


def test_serves_on_loopback_only_unless_told(tmp_path):
    """By default the server listens on 127.0.0.1 only, not on the machine's network addresses."""
    pytest.importorskip("textual_serve", reason="textual-serve is not installed (the serve extra)")
    if not Path("/proc/net/tcp").exists():
        pytest.skip("no /proc/net/tcp to read the listening sockets from")
    proc, port = serve("linreg", cwd=tmp_path)
    try:
        assert listening_addresses(port) == {"127.0.0.1"}
    finally:
        stop(proc)


def test_each_tab_runs_the_same_tensorscope():
    """Every browser session runs this interpreter's tensorscope: run on a script, replay on a trace."""
    cmd = app_command("linreg", ["--epochs", "2"], lang="zh", autoplay=1.5, breaks=[28])
    assert cmd[:5] == [sys.executable, "-m", "tensorscope", "run", "linreg"]
    assert cmd[5:] == ["--lang", "zh", "--autoplay", "1.5", "--break", "28", "--no-eval",
                       "--", "--epochs", "2"]
