"""The script's side of the process, per thread: its stdout/stderr captured, an empty stdin, and
`signal.signal` accepted although the script runs in a worker thread. Nobody else's output, input or
signals are touched. `os._exit` is the real one: the engine runs the script in a process of its own
(engine/process.py), whose exit status ends the run.

In the engine process every thread is the script's (`whole_process`): there sys.stdout and sys.stderr
are real `io.TextIOWrapper`s, line-buffered as on a terminal, so that one `print` from a thread is one
piece of output as under python (its text and its newline are never split by another thread's print)."""

from __future__ import annotations

import codecs
import io
import os
import signal
import sys
import threading
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any, TextIO


class _ThreadRoutedStream:
    """Stands in for sys.stdout/sys.stderr: the script's threads write to a buffer, others pass through."""

    def __init__(self, owner: OutputCapture, original: TextIO, which: str) -> None:
        self._owner = owner
        self._original = original
        self._which = which

    def _captured(self) -> bool:
        return self._owner.is_script_thread()

    def write(self, text: str) -> int:
        if not self._captured():
            return self._original.write(text)
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        self._owner.append(self._which, text)
        echo = self._owner.echo
        if echo is not None:
            echo.write(text)
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if not self._captured():
            self._original.flush()
        elif self._owner.echo is not None:
            self._owner.echo.flush()

    def isatty(self) -> bool:
        return False if self._captured() else self._original.isatty()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._original, name)


class _ScriptRaw(io.RawIOBase):
    """The bytes under a whole-process stream: decoded and kept as the script's output."""

    def __init__(self, owner: OutputCapture, original: TextIO, which: str) -> None:
        super().__init__()
        self._owner = owner
        self._original = original
        self._which = which
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        raw = bytes(data)
        text = self._decoder.decode(raw)
        if text and not self._owner._active:  # a forked worker's, or after the run: as python would
            self._original.write(text)
            self._original.flush()
        elif text:
            self._owner.append(self._which, text)
            echo = self._owner.echo
            if echo is not None:
                echo.write(text)
        return len(raw)

    def fileno(self) -> int:
        return self._original.fileno()

    def isatty(self) -> bool:
        return False


def _script_stream(owner: OutputCapture, original: TextIO, which: str) -> io.TextIOWrapper:
    """A text stream as python's own sys.stdout/stderr (encoded in C, line-buffered), into `owner`."""
    errors = "backslashreplace" if which == "stderr" else "strict"
    buffer = io.BufferedWriter(_ScriptRaw(owner, original, which))
    return io.TextIOWrapper(buffer, encoding="utf-8", errors=errors, line_buffering=True)


class _EmptyStdin:
    """Stands in for sys.stdin: the script's threads read end-of-file, others keep the real stdin.

    Plain python with an empty stdin behaves the same (`input()` raises EOFError), so a script that asks
    for input never hangs `trace`, `check` or the terminal UI (which owns the keyboard).
    """

    def __init__(self, owner: OutputCapture, original: TextIO) -> None:
        self._owner = owner
        self._original = original

    def _scripted(self) -> bool:
        return self._owner.is_script_thread()

    def readline(self, size: int = -1) -> str:
        if self._scripted():
            self._owner.stdin_reads += 1
            return ""
        return self._original.readline(size)

    def read(self, size: int = -1) -> str:
        if self._scripted():
            self._owner.stdin_reads += 1
            return ""
        return self._original.read(size)

    def readlines(self, hint: int = -1) -> list[str]:
        if self._scripted():
            self._owner.stdin_reads += 1
            return []
        return self._original.readlines(hint)

    def __iter__(self) -> _EmptyStdin:
        return self

    def __next__(self) -> str:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def fileno(self) -> int:
        if self._scripted():  # input() would otherwise read the terminal directly
            raise io.UnsupportedOperation("the script's stdin is empty while tensorscope runs it")
        return self._original.fileno()

    def isatty(self) -> bool:
        return False if self._scripted() else bool(self._original and self._original.isatty())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._original, name)


class _Kept:
    """Text kept within a bound: the first `head` characters, then the most recent ones up to `limit`;
    the middle is counted, not stored."""

    def __init__(self, limit: int, head: int) -> None:
        self.limit = limit
        self.head_limit = head
        self.head: list[str] = []
        self.head_size = 0
        self.tail: deque[str] = deque()
        self.tail_size = 0
        self.dropped = 0

    def add(self, text: str) -> None:
        room = self.head_limit - self.head_size
        if room > 0:
            part = text[:room]
            self.head.append(part)
            self.head_size += len(part)
            text = text[room:]
            if not text:
                return
        tail = self.tail
        tail.append(text)
        self.tail_size += len(text)
        bound = self.limit - self.head_limit
        while self.tail_size > bound:
            extra = self.tail_size - bound
            first = tail[0]
            if len(first) <= extra:
                tail.popleft()
                self.tail_size -= len(first)
                self.dropped += len(first)
            else:
                tail[0] = first[extra:]
                self.tail_size -= extra
                self.dropped += extra

    def text(self) -> str:
        head, tail = "".join(self.head), "".join(self.tail)
        if self.dropped:
            return f"{head}\n[tensorscope: {self.dropped} characters not kept]\n{tail}"
        return head + tail


_INSTALLED: weakref.WeakSet[OutputCapture] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    """A forked child (a DataLoader worker) is a process of its own: it writes, reads and exits for real."""
    for capture in list(_INSTALLED):
        capture._active = False


_FORK_HOOK: list[bool] = []
"""Whether `_after_fork_in_child` is registered (once, when the first capture is installed)."""


def _watch_forks() -> None:
    if not _FORK_HOOK and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)
        _FORK_HOOK.append(True)


class _Diverted:
    """`OutputCapture.divert()`: output written meanwhile, kept apart from the script's."""

    def __init__(self, owner: OutputCapture) -> None:
        self._owner = owner
        self._parts: list[str] = []
        self.text = ""

    def __enter__(self) -> _Diverted:
        owner = self._owner
        owner._flush()  # (the script's own unfinished line stays the script's)
        with owner._lock:
            owner._diverted = self._parts
        return self

    def __exit__(self, *exc: object) -> None:
        owner = self._owner
        owner._flush()
        with owner._lock:
            owner._diverted = None
        self.text = "".join(self._parts)


class OutputCapture:
    """Routes the I/O of threads that did not exist before `install()` (the script's): their writes go
    into buffers, their reads see an empty stdin, and their `signal.signal` is remembered instead of
    refused.
    """

    def __init__(self, echo: TextIO | None = None, limit: int = 2_000_000) -> None:
        self.whole_process = False
        """Every thread of this process is the script's (the engine process): writes are not routed per
        thread but go through line-buffered text streams, as python's own."""
        self.hold = False
        """`uninstall()` leaves the streams in place until `release()` (the engine process: after the last
        line, the script's threads and exit handlers still write as the script)."""
        self.echo = echo
        """Where to copy the script's output live (None: keep it only)."""
        self.limit = limit
        """Characters kept per stream for the whole run (the first and the last half) and per step (the
        last ones); the rest is counted, not stored."""
        self.host_threads: set[int] = set()
        self.stdin_reads = 0
        """How many times the script tried to read its (empty) stdin."""
        self._lock = threading.Lock()
        self._pending = {"stdout": self._step_buffer(), "stderr": self._step_buffer()}
        self._total = {"stdout": _Kept(limit, limit // 2), "stderr": _Kept(limit, limit // 2)}
        self._active = False
        self._pid = 0
        self._saved: tuple[TextIO, TextIO, TextIO] | None = None
        self._streams: tuple[TextIO, TextIO, _EmptyStdin] | None = None
        self._saved_signal: Any = None
        self._signal_hook: Any = None
        self.tap: Callable[[str, str], None] | None = None
        self._diverted: list[str] | None = None
        """Called with (stream, text) for every write kept (the engine process forwards them)."""
        self.signal_handlers: dict[int, Any] = {}
        """Handlers the script asked for: kept, not installed (tensorscope owns the signals, Ctrl+C
        stops the script)."""

    def _step_buffer(self) -> _Kept:
        return _Kept(self.limit, 0)

    @property
    def dropped(self) -> dict[str, int]:
        """Characters written but not kept, per stream."""
        return {k: v.dropped for k, v in self._total.items()}

    def is_script_thread(self) -> bool:
        """Whether the calling thread is the script's (started after `install()`, while installed)."""
        if self.whole_process:
            return self._active
        return self._active and threading.get_ident() not in self.host_threads

    def install(self, script_threads: tuple[int, ...] = ()) -> None:
        """Replace sys.stdout/stderr/stdin (and signal.signal when the script runs off the main thread).
        `script_threads`: idents of threads already running that are the script's (the caller's, when
        the script runs on it)."""
        _watch_forks()
        self.host_threads = {t.ident for t in threading.enumerate() if t.ident is not None}
        self.host_threads -= set(script_threads)
        self._pid = os.getpid()
        self._saved = (sys.stdout, sys.stderr, sys.stdin)
        if self.whole_process:
            out: TextIO = _script_stream(self, sys.stdout, "stdout")
            err: TextIO = _script_stream(self, sys.stderr, "stderr")
        else:
            out = _ThreadRoutedStream(self, sys.stdout, "stdout")
            err = _ThreadRoutedStream(self, sys.stderr, "stderr")
        self._streams = (out, err, _EmptyStdin(self, sys.stdin))
        self._active = True
        _INSTALLED.add(self)
        sys.stdout, sys.stderr = self._streams[0], self._streams[1]
        sys.stdin = self._streams[2]  # type: ignore[assignment]
        if threading.main_thread().ident in script_threads:
            return  # the script runs on the main thread: signal.signal works as under python, untouched
        real_signal = self._saved_signal = signal.signal

        def _signal(signalnum: int, handler: Any) -> Any:
            """signal.signal as the script sees it: from its worker thread, accepted and remembered."""
            if not self.is_script_thread() or threading.current_thread() is threading.main_thread():
                return real_signal(signalnum, handler)
            previous = self.signal_handlers.get(signalnum, signal.getsignal(signalnum))  # checks the number
            if handler not in (signal.SIG_DFL, signal.SIG_IGN) and not callable(handler):
                raise TypeError("signal handler must be signal.SIG_IGN, signal.SIG_DFL, or a callable object")
            self.signal_handlers[signalnum] = handler
            return previous

        self._signal_hook = _signal
        signal.signal = _signal

    def release(self) -> None:
        """Uninstall now, even when held."""
        self.hold = False
        self.uninstall()

    def uninstall(self) -> None:
        """Put back the originals (where someone replaced ours meanwhile, ours just pass through); when
        held, only flush until `release()`."""
        if self.hold:
            self._flush()
            return
        if self._saved is None or self._streams is None:
            self._active = False
            _INSTALLED.discard(self)
            return
        self._flush()
        self._active = False
        _INSTALLED.discard(self)
        if sys.stdout is self._streams[0]:
            sys.stdout = self._saved[0]
        if sys.stderr is self._streams[1]:
            sys.stderr = self._saved[1]
        if sys.stdin is self._streams[2]:
            sys.stdin = self._saved[2]
        if signal.signal is self._signal_hook and self._saved_signal is not None:
            signal.signal = self._saved_signal
        self._saved = None

    def divert(self) -> _Diverted:
        """While in this context, what is written goes to the context's own `text` instead of the script's
        output (an evaluation's prints, shown with its result)."""
        return _Diverted(self)

    def append(self, which: str, text: str) -> None:
        """Keep `text` the script wrote to `which` (`stdout` or `stderr`)."""
        with self._lock:
            diverted = self._diverted
            if diverted is not None:
                diverted.append(text)
                return
            self._pending[which].add(text)
            self._total[which].add(text)
        if self.tap is not None:
            self.tap(which, text)

    def _flush(self) -> None:
        """Whole-process streams: what is buffered (a line not ended yet) becomes output now."""
        if self.whole_process and self._streams is not None:
            for stream in self._streams[:2]:
                if not stream.closed:
                    stream.flush()

    def take(self) -> tuple[str, str]:
        """What was written since the last call: (stdout, stderr)."""
        self._flush()
        with self._lock:
            out = self._pending["stdout"].text()
            err = self._pending["stderr"].text()
            self._pending = {"stdout": self._step_buffer(), "stderr": self._step_buffer()}
        return out, err

    def total(self, which: str) -> str:
        """Everything the script wrote to `which` (past `limit` characters, the middle is left out and a
        line says how much)."""
        with self._lock:
            return self._total[which].text()
