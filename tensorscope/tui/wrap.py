"""Wrapping by terminal cells that never splits a `code span` or a shape, and breaks Chinese between
characters (a CJK character takes two cells; `，` or `）` never starts a line, `（` never ends one)."""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING

from rich.cells import cell_len
from textual.content import Content
from textual.visual import Visual

if TYPE_CHECKING:
    from textual.css.styles import RulesMap
    from textual.strip import Strip
    from textual.style import Style
    from textual.visual import RenderOptions

_UNIT = re.compile(r"`[^`\n]*`|\s+|[^\s`]")
"""A code span, a run of spaces, or one character (characters then glue into words)."""
_NO_START = set("，。、：；）」』！？》〉…,.;:!?)]}%")
"""Marks that close something: never the first thing on a line."""
_NO_END = set("（「『《〈([{")
"""Marks that open something: never the last thing on a line."""


def _wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F")


def _units(text: str, glue: bool = True) -> list[tuple[int, int]]:
    """(start, end) of each unbreakable piece of one line of `text`; spaces are pieces of their own.

    A code span is one piece; so is a run of narrow characters (a name, a number, a shape like `4×1`);
    a wide (CJK) character is a piece of its own, glued to the closing marks after it and the opening
    marks before it. Without `glue`, only code spans and single characters: the pieces of a piece too
    long for a line.
    """
    pieces: list[list[int]] = []
    for m in _UNIT.finditer(text):
        s, e = m.span()
        tok = m.group()
        prev = pieces[-1] if pieces else None
        if glue and prev is not None and _glued(text[prev[0]:prev[1]], tok):
            prev[1] = e
        else:
            pieces.append([s, e])
    return [(s, e) for s, e in pieces]


def _glued(prev: str, tok: str) -> bool:
    """Whether no line may break between `prev` and `tok`."""
    if prev.isspace() or tok.isspace():
        return False
    if tok in _NO_START or prev[-1] in _NO_END:
        return True
    if tok.startswith("`"):
        return not prev.startswith("`") and not _wide(prev[-1])  # `a`.grad, (`x`
    return not _wide(tok) and not _wide(prev[-1])  # narrow after narrow: the same word


def wrap_spans(text: str, width: int, hang: int = 0) -> list[tuple[int, int]]:
    """(start, end) of each line of `text` wrapped to `width` cells (spaces at a break dropped, a line's
    own leading spaces kept); with `hang`, the lines that go on an indented paragraph are `hang` cells
    narrower (`wrap_lines` indents them)."""
    return [(s, e) for s, e, _ in _wrap(text, width, hang)]


def _wrap(text: str, width: int, hang: int) -> list[tuple[int, int, int]]:
    out: list[tuple[int, int, int]] = []
    offset = 0
    for para in text.split("\n"):
        indent = hang if hang and para[:1].isspace() and width - hang > 8 else 0
        filler = _Filler(text, width, indent, offset)
        filler.fill([(s + offset, e + offset) for s, e in _units(para)])
        out += filler.done()
        offset += len(para) + 1
    return out


class _Filler:
    """Lines of one paragraph, filled greedily piece by piece."""

    def __init__(self, text: str, width: int, hang: int, start: int) -> None:
        self.text, self.width, self.hang = text, width, hang
        self.lines: list[tuple[int, int, int]] = []
        self.first: int | None = start  # (the paragraph's first line keeps its leading spaces)
        self.last = start

    def room(self) -> int:
        return self.width - (self.hang if self.lines else 0)

    def close(self) -> None:
        if self.first is not None:
            self.lines.append((self.first, self.last, self.hang if self.lines else 0))
        self.first = None

    def done(self) -> list[tuple[int, int, int]]:
        self.close()
        return self.lines

    def fill(self, pieces: list[tuple[int, int]]) -> None:
        text = self.text
        for s, e in pieces:
            if text[s:e].isspace():
                continue
            if self.width > 0 and cell_len(text[s:e]) > self.room() and e - s > 1:  # too long: its pieces
                inner = _units(text[s:e], glue=False)
                if len(inner) > 1:
                    self.fill([(s + a, s + b) for a, b in inner])
                else:
                    self.fold(s, e)
                continue
            started = self.first is not None and self.last > self.first
            if started and cell_len(text[self.first:e]) > self.room():
                self.close()
            if self.first is None:
                self.first = s
            self.last = e

    def fold(self, s: int, e: int) -> None:
        """One piece longer than a line (a long code span): cut by cells, the one way left."""
        if self.first is not None and self.last > self.first:
            self.close()
        self.first = s
        while cell_len(self.text[s:e]) > self.room():
            cut = s + 1
            while cell_len(self.text[s:cut + 1]) <= self.room():
                cut += 1
            self.last = cut
            self.close()
            s = self.first = cut
        self.last = e


def wrap_lines(content: Content, width: int, hang: int = 0) -> list[Content]:
    """`content` cut into lines of at most `width` cells (go-on lines of an indented paragraph indented
    by `hang`)."""
    if width <= 0:
        return content.split("\n")
    return [Content(" " * indent) + content[s:e] if indent else content[s:e]
            for s, e, indent in _wrap(content.plain, width, hang)]


def wrap_content(content: Content, width: int, hang: int = 0) -> Content:
    """`content` with line breaks where `wrap_spans` puts them."""
    return Content("\n").join(wrap_lines(content, width, hang))


class CellWrapped(Visual):
    """Content that wraps itself with `wrap_spans` at whatever width it is given (str(): unwrapped)."""

    def __init__(self, content: Content, hang: int = 0) -> None:
        self.content = content
        self.hang = hang
        """Indent of the lines that go on a paragraph that starts with spaces (the help's key rows)."""

    def __str__(self) -> str:
        return str(self.content)

    def render_strips(self, width: int, height: int | None, style: Style,
                      options: RenderOptions) -> list[Strip]:
        return wrap_content(self.content, width, self.hang).render_strips(width, height, style, options)

    def get_optimal_width(self, rules: RulesMap, container_width: int) -> int:
        return self.content.get_optimal_width(rules, container_width)

    def get_minimal_width(self, rules: RulesMap) -> int:
        return self.content.get_minimal_width(rules)

    def get_height(self, rules: RulesMap, width: int) -> int:
        return len(wrap_lines(self.content, width, self.hang))
