"""Running the script to its end: on the calling thread (the engine's main thread) or a worker, with a
timeout watchdog, then the Trace of the run.

Mixed into `tensorscope.engine.session.Session` (its state is set up in `Session.__init__`).
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path

from tensorscope.engine.fastpath import LibraryCalls, untraced_library_calls
from tensorscope.engine.pausing import StopScript
from tensorscope.engine.tracer import make_tracer
from tensorscope.model import ExceptionInfo, Trace


class Running:
    """How a Session runs its script once, and what it reports at the end."""

    def _headless(self, timeout: float | None) -> Trace:
        """Run to the end on the calling thread (a worker thread only when a timeout could not otherwise
        interrupt a script stuck in a long call: off the main thread, signals cannot reach it)."""
        if timeout is not None and threading.current_thread() is not threading.main_thread():
            return self._run_to_end(timeout)
        return self._run_here(timeout)

    def _claim(self) -> None:
        if self._launched:
            raise RuntimeError("a Session runs its script once; make a new Session to restart")
        self._launched = True

    def _run_here(self, timeout: float | None) -> Trace:
        self._claim()
        self._resolve_trace_modules()
        self._capture.install(script_threads=(threading.get_ident(),))  # this thread's I/O is the script's
        done = threading.Event()
        watchdog = None
        if timeout is not None:
            watchdog = threading.Thread(target=self._watchdog, args=(timeout, done),
                                        name="tensorscope-timeout", daemon=True)
        try:
            try:
                if watchdog is not None:
                    watchdog.start()
                self._execute()
            finally:
                done.set()
                if watchdog is not None:
                    watchdog.join()
        except KeyboardInterrupt:  # the watchdog's SIGINT landed just after the script had ended
            if not self._kicked:
                raise
        if self.trace is None:
            self.trace = self._make_trace(False, "timeout", None, None)
        return self.trace

    def _watchdog(self, timeout: float, done: threading.Event) -> None:
        """At the deadline, end the script at its next line; if it is stuck in a long call (a sleep, a
        blocking read), interrupt that call with SIGINT as Ctrl+C would."""
        if done.wait(timeout):
            return
        self.stop("timeout")
        if done.wait(0.5):
            return
        with self._lock:
            ident = self._script_ident
            if (self._running and ident == threading.main_thread().ident
                    and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
                self._kicked = True
                signal.pthread_kill(ident, signal.SIGINT)

    def _run_to_end(self, timeout: float | None) -> Trace:
        self._launch()
        deadline = None if timeout is None else time.monotonic() + timeout
        assert self._thread is not None
        try:
            while self._thread.is_alive():
                self._thread.join(0.1)
                if deadline is not None and time.monotonic() > deadline:
                    self.stop("timeout")
                    self._thread.join(2.0)
                    break
        except KeyboardInterrupt:
            self.stop("stopped")
            self._thread.join(2.0)
        if self.trace is None:  # the script is stuck inside a call that never returns to its code
            self.trace = self._make_trace(False, self._stop_reason, None, None)
        return self.trace

    def _launch(self) -> None:
        self._claim()
        self._resolve_trace_modules()
        self._capture.install()
        self._thread = threading.Thread(target=self._execute, name="tensorscope-script", daemon=True)
        self._thread.start()

    def _resolve_trace_modules(self) -> None:
        import importlib.util

        for name in self.trace_modules:
            try:
                spec = importlib.util.find_spec(name)
            except (ImportError, ValueError):
                spec = None
            if spec is None:
                script_dir = self.target.path.parent
                candidate = script_dir / (name.replace(".", "/") + ".py")
                files = [candidate] if candidate.exists() else []
            elif spec.submodule_search_locations:
                files = [p for d in spec.submodule_search_locations for p in Path(d).rglob("*.py")]
            elif spec.origin:
                files = [Path(spec.origin)]
            else:
                files = []
            for f in files:
                path = str(f.absolute())
                self._user_files.add(path)
                try:
                    text = f.read_text(encoding="utf-8", errors="replace")
                except OSError:
                    text = ""
                self._sources[self._display_of(path)] = tuple(text.splitlines())

    def _execute(self) -> None:
        """Run the script on this thread to its end, then publish the Trace."""
        completed, reason = False, "finished"
        exc_info: ExceptionInfo | None = None
        exit_code: int | None = None
        target = self.target
        assert target.code is not None
        with ExitStack() as stack:
            with target.as_main() as namespace:
                self._namespace = namespace
                if self._sim is not None:  # first, so the monitors see devices as the script does
                    stack.enter_context(self._sim.activate())
                for m in self.monitors:
                    cm = m.activate(self)
                    if cm is not None:
                        stack.enter_context(cm)
                if sys.version_info < (3, 12):  # 3.12+ pays nothing for library code anyway
                    library = LibraryCalls(self._user_files, self.trace_modules)
                    stack.enter_context(untraced_library_calls(library))  # after the monitors' patches
                with self._lock:
                    self._script_ident = threading.get_ident()
                    self._running = True
                tracer = self.tracer = make_tracer(self)
                tracer.start()
                try:
                    exec(target.code, namespace)
                    completed = True
                except StopScript:
                    reason = self._stop_reason
                except SystemExit as exc:
                    tracer.stop()
                    exit_code = self._exit_status(exc)
                    completed, reason = exit_code == 0, "exit"
                except KeyboardInterrupt as exc:
                    tracer.stop()
                    if self._kicked:  # the timeout interrupted a long call
                        reason = self._stop_reason
                    elif not self._interactive and _from_signal(exc):  # Ctrl+C on `trace`/`check`
                        reason = "stopped"  # keep what was recorded
                    else:
                        reason = "exception"
                        exc_info = self._on_script_exception(exc)
                except BaseException as exc:  # the script's own error: becomes a Step
                    tracer.stop()
                    reason = "exception"
                    exc_info = self._on_script_exception(exc)
                finally:
                    tracer.stop()
                    with self._lock:
                        self._running = False
                    self._cur_frame = None
                self._tell(self.monitors, "on_finish")
                if reason in ("finished", "exit") and (self._record or self._interactive):
                    self._end_step(namespace)
        self._capture.uninstall()
        self.trace = self._make_trace(completed, reason, exc_info, exit_code)
        self._events.put(self.trace)
        if self.on_end is not None:
            self.on_end(self.trace)

    def _exit_status(self, exc: SystemExit) -> int:
        code = exc.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        # plain python prints a non-int exit argument to stderr and exits 1
        sys.stderr.write(f"{code}\n")
        return 1

    def _make_trace(
        self, completed: bool, reason: str, exc: ExceptionInfo | None, exit_code: int | None
    ) -> Trace:
        return Trace(
            script=self.target.display,
            argv=tuple(self.target.argv[1:]),
            sources=dict(self._sources),
            steps=tuple(self.steps),
            completed=completed,
            end_reason=reason,
            exception=exc,
            exit_code=exit_code,
            stdout=self._capture.total("stdout"),
            stderr=self._capture.total("stderr"),
            flags=tuple(self.flags),
            simulated_cuda=self._sim is not None,
            internal_errors=tuple(self.internal_errors),
            evaluations=tuple(self.evaluations),
        )


def _from_signal(exc: BaseException) -> bool:
    """Whether a KeyboardInterrupt came from SIGINT (Ctrl+C), not from a `raise` in the code."""
    import dis

    tb = exc.__traceback__
    if tb is None:
        return True
    while tb.tb_next is not None:
        tb = tb.tb_next
    code = tb.tb_frame.f_code.co_code
    op = code[tb.tb_lasti] if 0 <= tb.tb_lasti < len(code) else 0
    return dis.opname[op] not in ("RAISE_VARARGS", "RERAISE")
