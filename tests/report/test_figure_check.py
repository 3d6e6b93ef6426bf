"""The figure check finds each fault it looks for (small type at print size, text on text, a mark under text)
and passes a figure without them."""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Annotation
from matplotlib.transforms import Bbox

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


def pairwise_overlaps(fig: Figure, ax) -> list[str]:
    """The check as first written, one ``Bbox`` test per pair: the reference for the array version, on a figure
    whose texts are ``ax``'s own (no tick labels) and whose marks are lines, error bars (no markers) and arrows."""
    texts = [t for t in ax.texts if t.get_text().strip() and t.get_window_extent().width > 0]
    boxes = []
    for t in texts:
        box = (t.get_bbox_patch() or t).get_window_extent()
        boxes.append((t, Bbox.from_extents(box.x0 + 1, box.y0 + 1, box.x1 - 1, box.y1 - 1)))
    found = []
    for i, (a, box_a) in enumerate(boxes):
        for b, box_b in boxes[i + 1:]:
            if box_a.overlaps(box_b) and box_a.width > 0 and box_b.width > 0:
                found.append(f"text {a.get_text()!r} overlaps text {b.get_text()!r}")
    marks = [(f"line {line.get_label()!r}", line.get_transform().transform_path(line.get_path())) for line in ax.lines]
    marks += [("error bar", coll.get_transform().transform_path(path)) for coll in ax.collections
              for path in coll.get_paths()]
    marks += [("arrow", child.arrow_patch.get_path()) for child in ax.get_children()
              if isinstance(child, Annotation) and child.arrow_patch is not None]
    for what, path in marks:
        for t, box in boxes:
            if box.width > 0 and box.height > 0 and path.get_extents().overlaps(box) and path.intersects_bbox(
                    box, filled=False):
                found.append(f"{what} crosses text {t.get_text()!r}")
    return found


def test_the_array_check_finds_what_the_pairwise_check_finds_in_the_same_order():
    """A crowded figure (texts on texts, framed labels, lines, error bars, an arrow, a 1-pixel text whose shrunk
    box is inverted): the array version lists the same faults, in the same order, as testing each pair."""
    rng = np.random.default_rng(7)
    fig, ax = figure(width=5.0, height=4.0)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.plot(rng.uniform(0, 10, 12), rng.uniform(0, 10, 12))
    ax.errorbar(rng.uniform(2, 8, 6), rng.uniform(1, 9, 6), xerr=0.8, fmt="none")
    ax.annotate("", xy=(9, 2), xytext=(1, 8), arrowprops={"arrowstyle": "-|>"})
    for k in range(25):
        x, y = rng.uniform(0, 9, 2)
        ax.text(x, y, f"label {k}", fontsize=float(rng.choice([2, 6, 9])),
                bbox={"boxstyle": "round"} if k % 5 == 0 else None)
    ax.text(3, 3, ".", fontsize=1)
    fig.draw_without_rendering()
    expected = pairwise_overlaps(fig, ax)
    assert len(expected) > 10 and any("overlaps text" in p for p in expected) and any("arrow" in p for p in expected)
    assert overlaps(fig) == expected
