"""What must still be replaced while a run needs it (simulated CUDA's answers): one process-wide registry,
refcounted, always restored."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


class Replacements:
    """Attributes replaced while a run needs them (simulated CUDA's answers), refcounted, always restored."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users: dict[tuple[int, str], int] = {}
        self._originals: dict[tuple[int, str], tuple[Any, str, Any]] = {}

    @contextmanager
    def replaced(self, owner: Any, name: str, make: Callable[[Any], Any]) -> Iterator[None]:
        """`owner.name = make(original)` while the block runs (shared by nested and concurrent runs)."""
        key = (id(owner), name)
        with self._lock:
            if self._users.get(key, 0) == 0:
                original = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
                self._originals[key] = (owner, name, original)
                setattr(owner, name, make(original))
            self._users[key] = self._users.get(key, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                self._users[key] -= 1
                if self._users[key] == 0:
                    del self._users[key]
                    own, attr, original = self._originals.pop(key)
                    setattr(own, attr, original)

    def original(self, owner: Any, name: str) -> Any:
        """What `owner.name` is when nothing of ours replaces it."""
        with self._lock:
            found = self._originals.get((id(owner), name))
        return found[2] if found is not None else getattr(owner, name)

    def active(self) -> list[tuple[Any, str]]:
        """(owner, name) of everything replaced now."""
        with self._lock:
            return [(o, n) for o, n, _ in self._originals.values()]


REPLACEMENTS = Replacements()
"""The one registry of replaced attributes (process-wide: restored when the last run using one ends)."""
