"""The figure check finds each fault it looks for (small type at print size, text on text, a mark under text)
and passes a figure without them."""

from __future__ import annotations

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from analysis.report.figure_check import overlaps, problems, smallest_print_size


def figure(width: float = 4.0, height: float = 3.0) -> tuple[Figure, object]:
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.15, 0.15, 0.8, 0.8))
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 10)
    return fig, ax


def test_a_sound_figure_passes():
    fig, ax = figure()
    ax.plot([1, 2], [1, 2])
    ax.text(6, 8, "a label", fontsize=9)
    assert problems(fig, print_width_in=4.0) == []


def test_type_is_measured_at_the_printed_width():
    fig, ax = figure(width=8.0)
    ax.text(5, 5, "small", fontsize=9)
    size, text = smallest_print_size(fig, print_width_in=4.0)  # printed at half its drawn width
    assert size == 4.5 and text in ("small", "0", "2", "4", "6", "8", "10")
    assert any("prints at 4.5 pt" in p for p in problems(fig, print_width_in=4.0))


def test_text_on_text_is_found():
    fig, ax = figure()
    ax.text(5, 5, "Model 3 (+ health)", fontsize=9)
    ax.text(5.5, 5, "HR 1.27", fontsize=9)
    assert [p for p in overlaps(fig) if "overlaps text" in p] == ["text 'Model 3 (+ health)' overlaps text 'HR 1.27'"]


def test_a_line_or_error_bar_under_text_is_found():
    fig, ax = figure()
    ax.axvline(5, color="grey", linestyle="--")
    ax.text(4, 3, "runs over the null line", fontsize=9)
    ax.errorbar([7], [8], xerr=[[2], [2]], fmt="o")
    ax.text(6, 8, "bar", fontsize=9)
    found = overlaps(fig)
    assert any("crosses text 'runs over the null line'" in p for p in found)
    assert any("crosses text 'bar'" in p for p in found)


def test_an_arrow_through_a_label_is_found():
    fig, ax = figure()
    ax.annotate("", xy=(9, 5), xytext=(1, 5), arrowprops={"arrowstyle": "-|>"})
    ax.text(5, 5, "a node", ha="center", va="center", bbox={"boxstyle": "round"})
    assert any("arrow crosses text 'a node'" in p for p in overlaps(fig))
