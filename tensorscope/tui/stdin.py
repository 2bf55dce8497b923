"""An empty stdin for the script while the debugger owns the terminal, so `input()` never hangs."""

from __future__ import annotations

import io
import sys
import threading
from typing import Any, TextIO


class ScriptStdin:
    """Stands in for sys.stdin: threads started after `install()` (the script's) read end-of-file.

    Plain python with an empty stdin behaves the same (`input()` raises EOFError); other threads keep
    the real stdin. `reads` counts the script's attempts so the app can explain them.
    """

    def __init__(self) -> None:
        self.reads = 0
        self._host: set[int] = set()
        self._original: TextIO | None = None

    def install(self) -> None:
        self._host = {t.ident for t in threading.enumerate() if t.ident is not None}
        self._original = sys.stdin
        sys.stdin = self  # type: ignore[assignment]

    def uninstall(self) -> None:
        if sys.stdin is self and self._original is not None:
            sys.stdin = self._original

    def _scripted(self) -> bool:
        return threading.get_ident() not in self._host

    def readline(self, size: int = -1) -> str:
        if self._scripted():
            self.reads += 1
            return ""
        assert self._original is not None
        return self._original.readline(size)

    def read(self, size: int = -1) -> str:
        if self._scripted():
            self.reads += 1
            return ""
        assert self._original is not None
        return self._original.read(size)

    def readlines(self, hint: int = -1) -> list[str]:
        if self._scripted():
            self.reads += 1
            return []
        assert self._original is not None
        return self._original.readlines(hint)

    def __iter__(self) -> ScriptStdin:
        return self

    def __next__(self) -> str:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def fileno(self) -> int:
        if self._scripted():  # input() would otherwise read the terminal directly
            raise io.UnsupportedOperation("the script's stdin is empty while tensorscope runs it")
        assert self._original is not None
        return self._original.fileno()

    def isatty(self) -> bool:
        return False if self._scripted() else bool(self._original and self._original.isatty())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._original, name)
