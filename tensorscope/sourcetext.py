"""Source lines as text (standard library only: the checks and the TUI both use it)."""

from __future__ import annotations

import io
import tokenize


def strip_comment(text: str) -> str:
    """A source line without its trailing `# comment` (a `#` inside a string stays)."""
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.COMMENT:
                return text[: tok.start[1]].rstrip()
    except (tokenize.TokenError, SyntaxError):
        pass
    return text.rstrip()
