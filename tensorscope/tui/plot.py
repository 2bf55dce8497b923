"""The plot screen (`p`): the loss over the steps and the gradient norm of the selected parameter, full size.

Drawn by plotext (`textual-plotext`), in the app's theme colours with two bright lines; titles and axis
names sit in the borders, in the chosen language (Textual measures wide characters, plotext does not).
Nothing here reads a clock: the same Steps draw the same screen.
"""

from __future__ import annotations

import math
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Static
from textual_plotext import PlotextPlot

from tensorscope.tui.closable import ClosableScreen
from tensorscope.tui.history import Series
from tensorscope.tui.words import words

LOSS_COLOR = "cyan+"
GRAD_COLOR = "orange+"
LOG_SPAN = 100.0
"""A positive curve whose largest value is this many times its smallest is drawn on a log scale."""


def finite(points: Series) -> Series:
    """The points plotext can draw (NaN and ±inf cannot be)."""
    return [(x, y) for x, y in points if math.isfinite(y)]


def log_scale(points: Series) -> bool:
    """Whether `points` span orders of magnitude (and are all positive): then the y axis is logarithmic."""
    ys = [y for _, y in points]
    return bool(ys) and min(ys) > 0 and max(ys) / min(ys) > LOG_SPAN


class CurvePlot(Vertical):
    """One curve: a plotext plot, or a sentence saying why there is nothing to draw yet."""

    DEFAULT_CSS = """
    CurvePlot { height: 1fr; border: round $accent; border-title-color: $text; border-title-style: bold;
                border-subtitle-color: $text; background: $surface; }
    CurvePlot > Static { padding: 1 2; text-style: bold; }
    CurvePlot > PlotextPlot { height: 1fr; }
    """

    def __init__(self, color: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.color = color
        self.points: Series = []
        """What is drawn now (finite points only)."""
        self.empty = ""
        """The sentence shown instead of a plot ("" while a curve is drawn)."""

    def compose(self) -> ComposeResult:
        yield Static(id=f"{self.id}-empty")
        yield PlotextPlot(id=f"{self.id}-plot")

    def draw(self, title: str, axes: str, points: Series, empty: str) -> None:
        """Draw `points` under `title`; when none can be drawn, say `empty` instead."""
        self.border_title = title
        self.border_subtitle = axes
        drawn = finite(points)
        skipped = len(points) - len(drawn)
        self.points = drawn
        message = self.query_one(Static)
        plot = self.query_one(PlotextPlot)
        self.empty = "" if drawn else empty
        message.update(self.empty)
        message.display = not drawn
        plot.display = bool(drawn)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        if skipped:
            self.border_subtitle = f"{axes} · {words_skipped(skipped)}"
        if drawn:
            xs = [x for x, _ in drawn]
            ys = [y for _, y in drawn]
            plt.yscale("log" if log_scale(drawn) else "linear")
            if len(drawn) == 1:
                plt.scatter(xs, ys, marker="●", color=self.color)
            else:
                plt.plot(xs, ys, marker="hd", color=self.color)
        plot.refresh()


def words_skipped(n: int) -> str:
    """How many non-finite values a curve leaves out (language-neutral: a count and the symbols)."""
    return f"NaN/inf ×{n}"


class PlotScreen(ClosableScreen[None]):
    """The loss over the steps (top) and the gradient norm of the selected parameter (bottom); `p` or
    escape closes it."""

    DEFAULT_CSS = """
    PlotScreen { align: center middle; }
    PlotScreen > Vertical { width: 100%; height: 100%; background: $surface; border: thick $accent;
                            border-subtitle-color: $text; border-subtitle-style: bold; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,p", "dismiss", "Close"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_subtitle = words(self.lang)["plot_close"]
            yield CurvePlot(LOSS_COLOR, id="loss-curve")
            yield CurvePlot(GRAD_COLOR, id="grad-curve")

    def show(self, loss_name: str | None, loss: Series, param: str | None, grad: Series) -> None:
        """Draw the loss (named `loss_name`) and the `.grad` norm of `param` over the steps."""
        w = words(self.lang)
        title = w["plot_loss"].format(name=loss_name) if loss_name else w["plot_loss_unnamed"]
        self.query_one("#loss-curve", CurvePlot).draw(title, w["plot_axes_loss"], loss, w["plot_no_loss"])
        if param is None:
            gtitle, empty = w["plot_grad_none"], w["plot_no_param"]
        else:
            gtitle, empty = w["plot_grad"].format(name=param), w["plot_no_grad"].format(name=param)
        self.query_one("#grad-curve", CurvePlot).draw(gtitle, w["plot_axes_grad"], grad, empty)
