"""The bundled scenarios' docstrings in Chinese, keyed by the English docstring's first line.

A view of table `scenario_docs` of tensorscope/i18n/zh.toml, where the translations live. Kept out of the
scripts: a Chinese section in a docstring would move every line the lessons name. Each translation names the
same lines (`第 N 行`) and flags as the English (tests/test_words_zh.py).
"""

from __future__ import annotations

from tensorscope import i18n

DOCS_ZH: dict[str, str] = dict(i18n.table("zh", "scenario_docs"))
"""English first line -> the whole docstring in Chinese (its first line: the summary of `list --lang zh`)."""
