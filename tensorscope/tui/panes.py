"""`Pane`: a class attribute that reads as one of the app's widgets, found by its id."""

from __future__ import annotations

from typing import Any, Generic, TypeVar, overload

from textual.dom import DOMNode
from textual.widget import Widget

WidgetT = TypeVar("WidgetT", bound=Widget)


class Pane(Generic[WidgetT]):
    """`source = Pane("#source", SourceView)`: `app.source` is `app.query_one("#source", SourceView)`."""

    def __init__(self, selector: str, cls: type[WidgetT]) -> None:
        self.selector = selector
        self.cls = cls

    @overload
    def __get__(self, node: None, owner: Any = None) -> Pane[WidgetT]: ...

    @overload
    def __get__(self, node: DOMNode, owner: Any = None) -> WidgetT: ...

    def __get__(self, node: DOMNode | None, owner: Any = None) -> WidgetT | Pane[WidgetT]:
        return self if node is None else node.query_one(self.selector, self.cls)
