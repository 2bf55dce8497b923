"""The dependency floors in pyproject.toml are the versions constraints-floor.txt pins (and CI tests)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _floors() -> dict[str, str]:
    """pyproject's runtime dependencies: name -> the version after `>=`."""
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    out: dict[str, str] = {}
    for dep in deps:
        m = re.fullmatch(r"([A-Za-z0-9_.-]+)>=([0-9.]+)", dep)
        assert m, f"{dep!r}: every runtime dependency is `name>=floor`"
        out[m[1].lower()] = m[2]
    return out


def _pins(name: str) -> dict[str, str]:
    """A constraints file's exact pins: name -> version (a local build tag like `+cpu` dropped)."""
    pins: dict[str, str] = {}
    for line in (ROOT / name).read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if line:
            pkg, _, version = line.partition("==")
            pins[pkg.strip().lower()] = version.strip()
    return pins


def _release(version: str) -> tuple[int, ...]:
    """`2.13` and `2.13.0+cpu` -> (2, 13, 0)."""
    parts = [int(part) for part in version.split("+")[0].split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def test_floor_file_pins_exactly_the_floors() -> None:
    pins = _pins("constraints-floor.txt")
    for name, floor in _floors().items():
        assert name in pins, f"constraints-floor.txt does not pin {name}"
        assert _release(pins[name]) == _release(floor), f"{name}: pyproject >={floor}, floor CI {pins[name]}"


def test_everyday_constraints_satisfy_the_floors() -> None:
    pins = _pins("constraints.txt")
    for name, floor in _floors().items():
        assert _release(pins[name]) >= _release(floor), f"{name}: constraints.txt pins {pins[name]} < {floor}"


def test_readme_states_the_torch_floor() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"torch>={_floors()['torch']}`" in readme
