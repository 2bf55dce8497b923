"""`tensorscope serve`: the step-debugger in a browser tab (textual-serve), one fresh run per tab.

Each browser session starts `python -m tensorscope run ...` (or `replay ...`) with this interpreter; the web
server only relays the terminal. It listens on 127.0.0.1 unless a host is given.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def is_trace_file(spec: str) -> bool:
    """Whether SCRIPT|TRACE names a recorded trace (a .json file) rather than a script."""
    return spec.endswith(".json") and Path(spec).is_file()


def app_command(spec: str, args: Iterable[str] = (), *, lang: str = "en", autoplay: float | None = None,
                simulate_cuda: bool = False, trace_modules: Iterable[str] = (),
                breaks: Iterable[int | str] = (), stop_on: Iterable[str] = (),
                allow_eval: bool = False) -> list[str]:
    """The command line each browser session runs: `tensorscope run` on a script, `replay` on a trace.
    Without `allow_eval` it carries `--no-eval`: the browser cannot evaluate, watch or set conditions."""
    replay = is_trace_file(spec)
    cmd = [sys.executable, "-m", "tensorscope", "replay" if replay else "run", spec, "--lang", lang]
    if autoplay is not None:
        cmd += ["--autoplay", f"{autoplay:g}"]
    for line in breaks:
        cmd += ["--break", str(line)]
    for stop in stop_on:
        cmd += ["--stop-on", stop]
    if not allow_eval:
        cmd.append("--no-eval")
    if not replay:
        if simulate_cuda:
            cmd.append("--simulate-cuda")
        for module in trace_modules:
            cmd += ["--trace", module]
        args = list(args)
        if args:
            cmd += ["--", *args]
    return cmd


def eval_notice(host: str, port: int, allow_eval: bool) -> str:
    """What `serve` says at start-up about running code: a plain warning when every browser on the
    network can run code here (--allow-eval on a non-loopback address); empty when nothing needs saying."""
    from tensorscope.cli_options import is_loopback

    if not allow_eval:
        if is_loopback(host):
            return ""
        return (f"tensorscope: serving on {host}:{port} to every machine that can reach it; evaluation, "
                "watches and conditions are off (--allow-eval would let every browser run code here).")
    if is_loopback(host):
        return ("tensorscope: --allow-eval: a browser on this machine can run Python code here, as "
                "the user running tensorscope.")
    return (f"tensorscope: WARNING: --allow-eval on {host}:{port}: every browser that connects can run "
            "any Python code on this machine, as the user running tensorscope (read and delete files, "
            "start programs). Serve on 127.0.0.1, or leave out --allow-eval, unless you trust every "
            "machine that can reach this address.")


def make_server(command: list[str], host: str, port: int, title: str) -> Any:
    """A textual-serve Server for `command`; pages point back at whatever address the browser used."""
    from aiohttp import web
    from textual_serve.server import Server

    class TensorScopeServer(Server):
        """textual-serve's Server, with the websocket URL taken from each request (so a classroom can
        reach the teacher's machine by its address when it listens on 0.0.0.0)."""

        async def handle_index(self, request: web.Request) -> Any:
            self.public_url = f"{request.scheme}://{request.host}"
            return await super().handle_index(request)

    return TensorScopeServer(shlex.join(command), host=host, port=port, title=title)
