"""Capture what the script writes to stdout/stderr, per thread, without touching anyone else's output."""

from __future__ import annotations

import sys
import threading
from typing import Any, TextIO


class _ThreadRoutedStream:
    """Stands in for sys.stdout/sys.stderr: the script's threads write to a buffer, others pass through."""

    def __init__(self, owner: OutputCapture, original: TextIO, which: str) -> None:
        self._owner = owner
        self._original = original
        self._which = which

    def _captured(self) -> bool:
        return threading.get_ident() not in self._owner.host_threads

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


class OutputCapture:
    """Routes writes from threads that did not exist before `install()` (the script's) into buffers."""

    def __init__(self, echo: TextIO | None = None, limit: int = 2_000_000) -> None:
        self.echo = echo
        """Where to copy the script's output live (None: keep it only)."""
        self.limit = limit
        """Characters kept per stream for the whole run; the rest is counted, not stored."""
        self.host_threads: set[int] = set()
        self._lock = threading.Lock()
        self._pending = {"stdout": [], "stderr": []}  # type: dict[str, list[str]]
        self._total = {"stdout": [], "stderr": []}  # type: dict[str, list[str]]
        self._sizes = {"stdout": 0, "stderr": 0}
        self.dropped = {"stdout": 0, "stderr": 0}
        self._saved: tuple[TextIO, TextIO] | None = None
        self._streams: tuple[_ThreadRoutedStream, _ThreadRoutedStream] | None = None

    def install(self) -> None:
        """Replace sys.stdout/sys.stderr; call from the host before starting the script's thread."""
        self.host_threads = {t.ident for t in threading.enumerate() if t.ident is not None}
        self._saved = (sys.stdout, sys.stderr)
        self._streams = (
            _ThreadRoutedStream(self, sys.stdout, "stdout"),
            _ThreadRoutedStream(self, sys.stderr, "stderr"),
        )
        sys.stdout, sys.stderr = self._streams

    def uninstall(self) -> None:
        """Put back the original streams (unless someone replaced ours meanwhile)."""
        if self._saved is None or self._streams is None:
            return
        if sys.stdout is self._streams[0]:
            sys.stdout = self._saved[0]
        if sys.stderr is self._streams[1]:
            sys.stderr = self._saved[1]
        self._saved = None

    def append(self, which: str, text: str) -> None:
        with self._lock:
            room = self.limit - self._sizes[which]
            if room <= 0:
                self.dropped[which] += len(text)
                return
            part = text[:room]
            self.dropped[which] += len(text) - len(part)
            self._sizes[which] += len(part)
            self._pending[which].append(part)
            self._total[which].append(part)

    def take(self) -> tuple[str, str]:
        """What was written since the last call: (stdout, stderr)."""
        with self._lock:
            out = "".join(self._pending["stdout"])
            err = "".join(self._pending["stderr"])
            self._pending = {"stdout": [], "stderr": []}
        return out, err

    def total(self, which: str) -> str:
        with self._lock:
            text = "".join(self._total[which])
        if self.dropped[which]:
            text += f"\n[tensorscope: {self.dropped[which]} more characters not kept]\n"
        return text
