"""The user's source as the checks read it: one parsed tree per source text (the one AST cache of the
checks), the statement at a line, the statements around it. Nothing here runs the user's code.
"""

from __future__ import annotations

import ast
import linecache
import textwrap
from collections.abc import Callable
from dataclasses import dataclass

from tensorscope.sourcetext import strip_comment

__all__ = [
    "dotted",
    "file_tree",
    "parse_line",
    "parse_statement",
    "scope_body",
    "source_tree",
    "statement_at",
    "statement_path",
    "statement_source",
    "strip_comment",
]

_MAX_STATEMENT_LINES = 40
_MAX_TREES = 64


@dataclass
class _Parsed:
    """One source text, parsed once."""

    tree: ast.Module | None
    starts: dict[int, ast.stmt] | None = None
    """The simple statements by their first line (made on first use)."""


_trees: dict[str, _Parsed] = {}


def _parsed(text: str) -> _Parsed:
    found = _trees.get(text)
    if found is None:
        try:
            tree: ast.Module | None = ast.parse(text) if text else None
        except (SyntaxError, ValueError):
            tree = None
        if len(_trees) > _MAX_TREES:
            _trees.clear()
        found = _trees[text] = _Parsed(tree)
    return found


def source_tree(text: str) -> ast.Module | None:
    """The parsed source of a whole file (cached while the text is the same; None when it does not parse)."""
    return _parsed(text).tree


def file_tree(filename: str) -> ast.Module | None:
    """The parsed source of a user file as `linecache` holds it (cached while its text is unchanged)."""
    return source_tree("".join(linecache.getlines(filename)))


def statement_at(filename: str, line: int) -> ast.stmt | None:
    """The simple (not compound) statement starting at `line`, from the whole file."""
    parsed = _parsed("".join(linecache.getlines(filename)))
    if parsed.starts is None:
        starts: dict[int, ast.stmt] = {}
        if parsed.tree is not None:
            for node in ast.walk(parsed.tree):
                if isinstance(node, ast.stmt) and not hasattr(node, "body"):
                    starts.setdefault(node.lineno, node)
        parsed.starts = starts
    return parsed.starts.get(line)


def parse_line(text: str) -> ast.stmt | None:
    """The first statement of one source line parsed on its own (a compound header gets a `pass` body)."""
    src = text.strip()
    if not src or src.startswith("#"):
        return None
    for candidate in (src, src + " pass", src.rstrip(":") + ": pass"):
        try:
            tree = ast.parse(candidate)
        except SyntaxError:
            continue
        if tree.body:
            return tree.body[0]
    return None


def dotted(node: ast.AST) -> str | None:
    """`a.b.c` for a chain of names and attributes, else None."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


# --- the statement at a line ---------------------------------------------------------------------------

def header_parts(node: ast.stmt) -> list[ast.AST]:
    """The expressions in a compound statement's header (`for x in loader:` -> x, loader)."""
    if isinstance(node, ast.For | ast.AsyncFor):
        return [node.target, node.iter]
    if isinstance(node, ast.While | ast.If):
        return [node.test]
    if isinstance(node, ast.With | ast.AsyncWith):
        parts: list[ast.AST] = []
        for item in node.items:
            parts.append(item.context_expr)
            if item.optional_vars is not None:
                parts.append(item.optional_vars)
        return parts
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return [*node.decorator_list, *node.args.defaults]
    if isinstance(node, ast.ClassDef):
        return [*node.decorator_list, *node.bases]
    if isinstance(node, ast.Match):
        return [node.subject]
    return []


def bodies(node: ast.stmt) -> list[list[ast.stmt]]:
    """The statement lists a compound statement holds (body, else, finally, handlers, cases)."""
    out = []
    for name in ("body", "orelse", "finalbody"):
        body = getattr(node, name, None)
        if isinstance(body, list):
            out.append(body)
    for handler in getattr(node, "handlers", []) or []:
        out.append(handler.body)
    for case in getattr(node, "cases", []) or []:
        out.append(case.body)
    return out


def _innermost(stmts: list[ast.stmt], line: int) -> ast.stmt | None:
    for node in stmts:
        end = getattr(node, "end_lineno", node.lineno) or node.lineno
        if not (node.lineno <= line <= end):
            continue
        for body in bodies(node):
            inner = _innermost(body, line)
            if inner is not None:
                return inner
        return node
    return None


def _statement_from_tree(tree: ast.Module, line: int) -> list[ast.AST] | None:
    node = _innermost(tree.body, line)
    if node is None:
        return None
    if bodies(node):  # a compound statement: the line is in its header
        return header_parts(node)
    return [node]


def _parse_fragment(text: str) -> tuple[list[ast.AST], str] | None:
    """Parse one line or a few lines on their own (headers ending with ':' get a body)."""
    src = textwrap.dedent(text).strip()
    if not src:
        return None
    candidates = [src]
    if src.endswith(":"):
        head = src
        for kw in ("elif ", "else", "except", "finally"):
            if head.startswith(kw):
                head = "if True" + head[len(kw.rstrip()):] if kw == "elif " else ""
        if head:
            candidates.append(head + "\n    pass")
    for cand in candidates:
        try:
            tree = ast.parse(cand)
        except (SyntaxError, ValueError):
            continue
        if len(tree.body) == 1 and bodies(tree.body[0]):
            return header_parts(tree.body[0]), cand
        return list(tree.body), cand
    return None


def parse_statement(source_of: str | Callable[[int], str], line: int) -> list[ast.AST] | None:
    """The AST of the statement (or compound header) at `line`.

    `source_of` is either a filename (whole file parsed, cached) or a callable `n -> text of line n`;
    multi-line statements and lines that do not parse alone are handled by widening the window.
    """
    found = statement_source(source_of, line)
    return found[0] if found is not None else None


def statement_source(source_of: str | Callable[[int], str], line: int) -> tuple[list[ast.AST], str] | None:
    """Like `parse_statement`, with the source text the nodes' positions refer to."""
    if isinstance(source_of, str):
        filename = source_of
        text = "".join(linecache.getlines(filename))
        tree = source_tree(text)
        if tree is not None:
            found = _statement_from_tree(tree, line)
            if found is not None:
                return found, text
        text_of: Callable[[int], str] = lambda n: linecache.getline(filename, n)  # noqa: E731
    else:
        text_of = source_of
    single = _parse_fragment(text_of(line))
    if single is not None:
        return single
    for up in range(0, 6):
        for down in range(0, 8):
            if up == 0 and down == 0:
                continue
            lines = [text_of(n) for n in range(max(1, line - up), line + down + 1)]
            if up + down + 1 > _MAX_STATEMENT_LINES:
                break
            found_lines = _parse_fragment("\n".join(s.rstrip("\n") for s in lines))
            if found_lines is not None:
                return found_lines
    return None


def statement_path(filename: str, line: int) -> list[ast.stmt]:
    """The statements enclosing `line` in a user file, outermost first (empty when it cannot be parsed)."""
    tree = file_tree(filename)
    path: list[ast.stmt] = []
    body: list[ast.stmt] = tree.body if tree is not None else []
    while True:
        for node in body:
            end = getattr(node, "end_lineno", node.lineno) or node.lineno
            if node.lineno <= line <= end:
                path.append(node)
                break
        else:
            return path
        inner = [stmt for b in bodies(path[-1]) for stmt in b]
        if not inner:
            return path
        body = inner


def scope_body(filename: str, line: int) -> list[ast.stmt]:
    """The body of the function (or module) that contains `line`."""
    path = statement_path(filename, line)
    for node in reversed(path):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            return node.body
    tree = file_tree(filename)
    return tree.body if tree is not None else []
