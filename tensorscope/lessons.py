"""The bundled scenarios as a lesson plan (basics → autograd → training → pitfalls), and what a script says
about itself (its module docstring), for `tensorscope list` and the app's intro and help.

A docstring may carry its own Chinese after a line `中文:` (or `中文：`); the bundled scenarios'
translations are in the language files (tensorscope/i18n/*.toml, table `scenario_docs`: a docstring
section would move every line of the scripts the lessons name).
"""

from __future__ import annotations

import ast
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from tensorscope import i18n
from tensorscope.i18n import LANGS

PLAN: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("basics", ("tensor_basics",)),
    ("autograd", ("autograd_basics", "nonscalar_backward")),
    ("training", ("linreg", "mlp_optim", "grad_accumulation_microbatch")),
    ("pitfalls", (
        "forgot_zero_grad", "update_without_no_grad", "broadcast_loss", "running_loss_without_item",
        "inplace_breaks_graph", "backward_twice", "nonscalar_backward_error", "shape_mismatch",
        "float64_into_model", "device_mismatch", "lr_diverges",
    )),
)
"""The order to teach the scenarios in; a scenario not named here joins `pitfalls` when its docstring
starts with "Pitfall", else `more`."""

GROUP_TITLES: dict[str, dict[str, str]] = {lang: i18n.table(lang, "lessons") for lang in LANGS}
"""The sections' titles per language (table `lessons` of tensorscope/i18n/*.toml)."""


@dataclass(frozen=True)
class Lesson:
    """One scenario in the plan."""

    name: str
    summary: str
    """The first line of its docstring."""
    command: str
    """How to open it in the step-debugger."""


def script_doc(source: str) -> str:
    """The module docstring of a script's source ("" when it has none or does not parse)."""
    try:
        doc = ast.get_docstring(ast.parse(source))
    except (SyntaxError, ValueError):
        return ""
    return doc.strip() if doc else ""


_ZH_MARK = re.compile(r"^\s*中文\s*[:：]\s*$", re.MULTILINE)


def translated(doc: str, lang: str) -> str:
    """`doc` in `lang`: its own `中文:` section (Chinese), else a bundled scenario's translation (table
    `scenario_docs` of the language file), else as it is."""
    parts = _ZH_MARK.split(doc, maxsplit=1)
    english = parts[0].strip()
    if lang == "en":
        return english
    if lang == "zh" and len(parts) == 2 and parts[1].strip():
        return parts[1].strip()
    return str(i18n.table(lang, "scenario_docs").get(first_line(english), english))


def reflow(doc: str) -> str:
    """A docstring with its hard line breaks undone (paragraphs and `- ` items kept), to wrap on screen."""
    out: list[str] = []
    for line in doc.splitlines():
        text = line.strip()
        prev = out[-1] if out else ""
        new_line = (not prev or not text or text.startswith("- ")
                    or (prev.startswith("- ") and not line.startswith(" "))  # an item goes on indented
                    or (prev.endswith(".") and text[0].isupper())  # a sentence that began a line
                    or prev.endswith("。"))
        if not new_line:
            out[-1] += ("" if _wide(prev[-1]) or _wide(text[0]) else " ") + text  # (no space in Chinese)
        else:
            out.append(text)
    return "\n".join(out)


def _wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F")


def first_line(doc: str) -> str:
    return doc.splitlines()[0].strip() if doc else ""


def run_command(name: str, doc: str) -> str:
    """`tensorscope run NAME`, with --simulate-cuda when the scenario needs a GPU."""
    return f"tensorscope run {name}" + (" --simulate-cuda" if "--simulate-cuda" in doc else "")


def lesson_plan(scenarios: list[Path], lang: str = "en") -> list[tuple[str, list[Lesson]]]:
    """The scenarios grouped in teaching order: (group key, lessons) for each non-empty group; the
    summaries in `lang`."""
    docs: dict[str, str] = {}
    for path in scenarios:
        try:
            docs[path.stem] = script_doc(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            docs[path.stem] = ""
    groups: dict[str, list[str]] = {key: [n for n in names if n in docs] for key, names in PLAN}
    groups["more"] = []
    planned = {n for _, names in PLAN for n in names}
    for name in sorted(docs):
        if name not in planned:
            groups["pitfalls" if docs[name].lower().startswith("pitfall") else "more"].append(name)
    return [(key, [Lesson(n, first_line(translated(docs[n], lang)), run_command(n, docs[n])) for n in names])
            for key, names in groups.items() if names]
