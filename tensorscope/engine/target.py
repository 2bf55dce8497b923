"""Find, read and compile the user's script, and run it as a real `__main__` (as pdb does)."""

from __future__ import annotations

import dataclasses
import os
import sys
import threading
import tokenize
import types
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path


class ScriptError(Exception):
    """The script cannot be run at all (missing, a directory, unreadable, not Python)."""


def scenarios_dir() -> Path:
    """The folder of bundled teaching scenarios (works from a checkout and an installed wheel)."""
    import tensorscope.scenarios as pkg

    return Path(pkg.__file__).resolve().parent


def list_scenarios() -> list[Path]:
    """The bundled scenario scripts, sorted by name."""
    return sorted(p for p in scenarios_dir().glob("*.py") if not p.name.startswith("_"))


def resolve_script(spec: str) -> tuple[Path, str]:
    """Turn a path or a scenario name (`linreg`) into (absolute path, display path).

    Raises ScriptError with one clear sentence when there is nothing runnable there.
    """
    path = Path(spec)
    if not path.exists() and os.sep not in spec and "/" not in spec:
        name = spec[:-3] if spec.endswith(".py") else spec
        candidate = scenarios_dir() / f"{name}.py"
        if candidate.is_file():
            return candidate.resolve(), f"scenarios/{candidate.name}"
    if not path.exists():
        hint = ""
        if os.sep not in spec and "/" not in spec:
            hint = " (and no bundled scenario has that name: see `tensorscope list`)"
        raise ScriptError(f"{spec}: no such file{hint}")
    if path.is_dir():
        raise ScriptError(f"{spec}: is a directory, not a Python script")
    return path.absolute(), display_path(path.absolute())


def display_path(path: str | os.PathLike[str]) -> str:
    """A short, machine-independent name for a file: relative to the cwd when below it."""
    p = Path(path)
    try:
        scen = scenarios_dir()
        if p.resolve().parent == scen:
            return f"scenarios/{p.name}"
    except (ImportError, OSError):
        pass
    try:
        return os.path.relpath(p, os.getcwd()) if p.is_absolute() and _below_cwd(p) else str(p)
    except ValueError:
        return str(p)


def _below_cwd(p: Path) -> bool:
    try:
        p.relative_to(os.getcwd())
        return True
    except ValueError:
        return False


def read_source(path: Path) -> str:
    """The script's text, decoded as Python does (coding cookie, BOM, universal newlines)."""
    try:
        with tokenize.open(path) as f:
            return f.read()
    except PermissionError as exc:
        raise ScriptError(f"{path}: cannot read it (permission denied)") from exc
    except (SyntaxError, UnicodeDecodeError) as exc:
        why = exc.msg if isinstance(exc, SyntaxError) else str(exc)
        if why.startswith("unknown encoding"):
            raise ScriptError(f"{path}: its coding line names an {why}") from exc
        if "encoding" in why or isinstance(exc, UnicodeDecodeError):
            raise ScriptError(f"{path}: not a Python script: it is not UTF-8 text, and no "
                              f"`# -*- coding: ... -*-` line names its encoding") from exc
        raise ScriptError(f"{path}: not a text file Python can read ({why})") from exc
    except OSError as exc:
        raise ScriptError(f"{path}: cannot read it ({exc.strerror or exc})") from exc


def format_syntax_error(exc: SyntaxError, display: str) -> str:
    """One clear line (plus the source line and caret) for a syntax error."""
    msg = f"{display}:{exc.lineno}: syntax error: {exc.msg}"
    if exc.text:
        text = exc.text.rstrip("\n")
        stripped = text.lstrip()
        caret = ""
        if exc.offset:
            caret = "\n    " + " " * max(0, exc.offset - 1 - (len(text) - len(stripped))) + "^"
        msg += f"\n    {stripped}{caret}"
    return msg


_MAINS: list[types.ModuleType] = []
"""The `__main__` modules of the runs in progress, oldest first (two overlap while a restart waits)."""
_OUTER: list[object] = []
"""`__main__`, argv and sys.path as they were before the first run in progress started."""
_MAINS_LOCK = threading.Lock()


@dataclass
class ScriptTarget:
    """A script ready to run: its paths, source and compiled code."""

    path: Path
    """Absolute path (what `__file__` and tracebacks show, as under plain python)."""
    display: str
    """Short path for screens and reports."""
    argv: list[str] = field(default_factory=list)
    source: str = ""
    code: types.CodeType | None = None

    @classmethod
    def load(cls, spec: str, argv: list[str] | tuple[str, ...] = ()) -> ScriptTarget:
        """Resolve, read and compile; raises ScriptError when it cannot run."""
        path, display = resolve_script(spec)
        source = read_source(path)
        try:
            code = compile(source, str(path), "exec", dont_inherit=True)
        except SyntaxError as exc:
            raise ScriptError(format_syntax_error(exc, display)) from exc
        except ValueError as exc:  # e.g. source contains null bytes
            raise ScriptError(f"{display}: not a Python script ({exc})") from exc
        argv0 = spec if Path(spec).exists() else str(path)
        return cls(path=path, display=display, argv=[argv0, *argv], source=source, code=code)

    @property
    def lines(self) -> tuple[str, ...]:
        return tuple(self.source.splitlines())

    def reread(self) -> ScriptTarget:
        """The same script as it is on disk now (edited since it was loaded?); `code` is None when it no
        longer compiles, and the target is unchanged when it can no longer be read."""
        try:
            source = read_source(self.path)
        except ScriptError:
            return self
        try:
            code: types.CodeType | None = compile(source, str(self.path), "exec", dont_inherit=True)
        except (SyntaxError, ValueError):
            code = None
        return dataclasses.replace(self, source=source, code=code)

    @contextmanager
    def as_main(self) -> Iterator[dict[str, object]]:
        """Install a fresh `__main__` with argv and sys.path[0] as plain python sets them; restore."""
        main = types.ModuleType("__main__")
        if sys.version_info < (3, 14):  # python up to 3.13 starts __main__ with an empty __annotations__
            main.__dict__["__annotations__"] = {}
        main.__dict__.update(
            {
                "__builtins__": __builtins__,
                "__file__": str(self.path),
                "__cached__": None,
                "__spec__": None,
                "__loader__": None,
                "__package__": None,
            }
        )
        with _MAINS_LOCK:
            if not _MAINS:  # the first run in: remember what plain python had
                _OUTER[:] = [sys.modules.get("__main__"), sys.argv[:], sys.path[:]]
            _MAINS.append(main)
            sys.modules["__main__"] = main
            sys.argv = list(self.argv)
            script_dir = os.path.dirname(os.path.realpath(self.path))
            if sys.path:
                sys.path[0] = script_dir
            else:
                sys.path.append(script_dir)
        try:
            yield main.__dict__
        finally:
            with _MAINS_LOCK:
                _MAINS.remove(main)
                if not _MAINS:  # the last run out restores plain python's state
                    saved_main, saved_argv, saved_path = _OUTER
                    if saved_main is not None:
                        sys.modules["__main__"] = saved_main  # type: ignore[assignment]
                    sys.argv = saved_argv  # type: ignore[assignment]
                    sys.path[:] = saved_path  # type: ignore[index]
                # else: a newer run (a restart while this one was stuck in a long call) owns them now
