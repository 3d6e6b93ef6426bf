"""Is a figure legible at print size? Text sizes at the printed width, and text that overlaps text or marks.

A referee of the 2026-12-07 draft found forest-plot labels running over the null line and the CI bars, wrapped
labels running into the next row, causal-diagram edges crossing node labels, and labels of about 3 pt once a wide
figure was shrunk to the text width. Each is a fact about the drawn figure, so it is tested here from matplotlib's
own geometry (after a draw, every artist knows its extent in display pixels):

- :func:`smallest_print_size`: the smallest font of the figure, in points, once the figure is printed
  ``print_width_in`` wide (a figure drawn 11 in wide and printed 6.6 in wide shrinks 8 pt text to 4.8 pt);
- :func:`overlaps`: pairs of texts whose boxes intersect, and texts crossed by a line, an error bar or an arrow
  (a diagram's arrows may touch the boxes they join, never another label).

:func:`problems` returns both as readable strings, empty when the figure is sound.
"""

from __future__ import annotations

from collections.abc import Iterable

import matplotlib
import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch
from matplotlib.text import Text
from matplotlib.transforms import Bbox

#: Smallest type a journal prints (points, at the final size).
MIN_PRINT_PT = 7.0


def _draw(fig: Figure) -> None:
    """Lay ``fig`` out, unless it is already laid out and unchanged since (``fig.stale`` False): drawing is what
    measuring costs, and the measures of one figure all read the same layout. The layout is drawn without
    rendering (``Figure.draw_without_rendering``: every artist places itself with the canvas's own Agg renderer,
    whose draw calls are no-ops), so no glyph is rasterised for a measurement: the extents are those of a full
    ``canvas.draw()`` at the same cost less the pixels (about 40% of a forest plot's draw)."""
    if fig.stale or getattr(fig.canvas, "renderer", None) is None:
        fig.draw_without_rendering()


def _undrawn_tick_labels(fig: Figure) -> set[int]:
    """Tick labels matplotlib keeps but does not draw: those of ticks outside the axis's view interval (a
    locator's ticks beyond the limits keep a stale position)."""
    skipped = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            low, high = sorted(axis.get_view_interval())
            span = (high - low) * 1e-9
            for tick in [*axis.majorTicks, *axis.minorTicks]:
                loc = tick.get_loc()
                if loc is None or not low - span <= loc <= high + span:
                    skipped |= {id(tick.label1), id(tick.label2)}
    return skipped


def _texts(fig: Figure) -> list[tuple[Text, Bbox]]:
    """The visible, drawn, non-empty texts of ``fig`` with their extents (display pixels), each measured once."""
    skipped = _undrawn_tick_labels(fig)
    found = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip() and t.figure is fig
             and id(t) not in skipped]
    measured = [(t, t.get_window_extent()) for t in found]
    return [(t, box) for t, box in measured if box.width > 0]


def saved_width_in(fig: Figure) -> float:
    """The width (inches) of the image ``savefig(bbox_inches="tight")`` writes: the drawn texts' and artists'
    extent plus the padding, which is what a document scales to its printed width (not the figure's own width,
    which text outside the canvas widens and empty margins narrow)."""
    _draw(fig)
    box = fig.get_tightbbox(fig.canvas.get_renderer())
    return box.width + 2 * float(matplotlib.rcParams["savefig.pad_inches"])


def saved_height_in(fig: Figure) -> float:
    """The height (inches) of the image ``savefig(bbox_inches="tight")`` writes (as :func:`saved_width_in`)."""
    _draw(fig)
    box = fig.get_tightbbox(fig.canvas.get_renderer())
    return box.height + 2 * float(matplotlib.rcParams["savefig.pad_inches"])


def smallest_print_size(fig: Figure, print_width_in: float,
                        drawn_width_in: float | None = None) -> tuple[float, str]:
    """The smallest font size (pt) of ``fig``'s visible texts when it is printed ``print_width_in`` wide, and the
    text that has it. ``drawn_width_in`` is the width that is printed at that width: the figure's own width by
    default, :func:`saved_width_in` for a figure saved with a tight bounding box."""
    _draw(fig)
    return _smallest(_texts(fig), print_width_in / (drawn_width_in or fig.get_figwidth()))


def _smallest(texts: list[tuple[Text, Bbox]], scale: float) -> tuple[float, str]:
    sizes = [(t.get_fontsize() * scale, t.get_text()) for t, _ in texts]
    return min(sizes) if sizes else (float("inf"), "")


def _box(text: Text, extent: Bbox, shrink: float = 1.0) -> Bbox:
    """The text's extent (``extent``, or its frame's when it has one), shrunk by ``shrink`` pixels on each side, so
    touching is not overlapping."""
    patch = text.get_bbox_patch()
    box = patch.get_window_extent() if patch is not None else extent
    return Bbox.from_extents(box.x0 + shrink, box.y0 + shrink, box.x1 - shrink, box.y1 - shrink)


def _intervals(extents: np.ndarray) -> tuple[np.ndarray, ...]:
    """(x low, x high, y low, y high) of boxes given as rows of (x0, y0, x1, y1), in either orientation (as
    ``Bbox.overlaps`` orders them; a NaN limit overlaps nothing there and here)."""
    x0, y0, x1, y1 = extents.T
    return np.minimum(x0, x1), np.maximum(x0, x1), np.minimum(y0, y1), np.maximum(y0, y1)


def _overlapping(one: tuple[np.ndarray, ...], many: tuple[np.ndarray, ...]) -> np.ndarray:
    """``Bbox.overlaps`` of box(es) ``one`` with each of ``many`` (intervals as :func:`_intervals`), broadcast."""
    ax1, ax2, ay1, ay2 = one
    bx1, bx2, by1, by2 = many
    return (ax1 <= bx2) & (bx1 <= ax2) & (ay1 <= by2) & (by1 <= ay2)


def _marks(fig: Figure) -> Iterable[tuple[str, object]]:
    """(description, path in display coordinates) of every data line, error bar and arrow."""
    for ax in fig.axes:
        for line in ax.lines:
            if isinstance(line, Line2D) and line.get_visible() and line.get_linestyle() not in ("None", " ", ""):
                yield f"line {line.get_label()!r}", line.get_transform().transform_path(line.get_path())
            if isinstance(line, Line2D) and line.get_marker() not in (None, "None", "", " "):
                for x, y in line.get_transform().transform(line.get_xydata()):
                    yield "marker", Bbox.from_extents(x - 2, y - 2, x + 2, y + 2)
        for coll in ax.collections:
            if isinstance(coll, LineCollection) and coll.get_visible():
                for path in coll.get_paths():
                    yield "error bar", coll.get_transform().transform_path(path)
        for patch in [*ax.patches, *fig.patches]:
            if isinstance(patch, FancyArrowPatch) and patch.get_visible():
                yield "arrow", patch.get_path()  # already in display coordinates
        for child in ax.get_children():
            if isinstance(child, Text) and getattr(child, "arrow_patch", None) is not None:
                yield "arrow", child.arrow_patch.get_path()


def overlaps(fig: Figure) -> list[str]:
    """Texts that overlap another text, or that a line, error bar, marker or arrow crosses."""
    _draw(fig)
    return _overlaps(fig, _texts(fig))


def _overlaps(fig: Figure, texts: list[tuple[Text, Bbox]]) -> list[str]:
    """:func:`overlaps` of the measured ``texts``: the box tests as array operations over all texts at once
    (a figure has hundreds of texts and marks; pairwise ``Bbox`` calls were most of the check's time), in the
    order and with the outcome of testing each pair in turn."""
    names = [t.get_text()[:40] for t, _ in texts]
    extents = np.array([_box(t, box).extents for t, box in texts], dtype=float).reshape(-1, 4)
    width, height = extents[:, 2] - extents[:, 0], extents[:, 3] - extents[:, 1]
    boxes = _intervals(extents)
    pairs = _overlapping(tuple(v[:, None] for v in boxes), tuple(v[None, :] for v in boxes))
    pairs &= (width[:, None] > 0) & (width[None, :] > 0)
    found = [f"text {names[i]!r} overlaps text {names[j]!r}" for i, j in zip(*np.nonzero(np.triu(pairs, 1)))]
    sized = (width > 0) & (height > 0)
    for what, path in _marks(fig):
        # a path only crosses a box its extent overlaps (and an arrow head's closing vertex made
        # intersects_bbox report boxes far from the arrow)
        mark = path if isinstance(path, Bbox) else path.get_extents()
        near = np.flatnonzero(sized & _overlapping(_intervals(np.array([mark.extents], dtype=float)), boxes))
        if not isinstance(path, Bbox):
            near = [k for k in near if path.intersects_bbox(Bbox(extents[k].reshape(2, 2)), filled=False)]
        found += [f"{what} crosses text {names[k]!r}" for k in near]
    return found


def problems(fig: Figure, print_width_in: float, min_pt: float = MIN_PRINT_PT,
             drawn_width_in: float | None = None) -> list[str]:
    """Everything that keeps ``fig`` from reading at print size: type under ``min_pt`` and overlaps."""
    size, text = smallest_print_size(fig, print_width_in, drawn_width_in)
    found = [f"text {text[:40]!r} prints at {size:.1f} pt (< {min_pt:g} pt) at {print_width_in:g} in wide"] \
        if size < min_pt else []
    return found + overlaps(fig)


def measure(fig: Figure, print_width_in: float, min_pt: float = MIN_PRINT_PT) -> dict:
    """What a saved figure records about itself (the PNG's ``Legibility`` text, read back by the paper stage):
    the width of the saved image, its smallest type as drawn (so any printed width can be checked later), that
    type at ``print_width_in``, the text that has it, and the overlaps; ``problems`` lists what fails."""
    width = saved_width_in(fig)
    texts = _texts(fig)  # the layout saved_width_in drew: measured once, for both checks
    drawn_pt, text = _smallest(texts, 1.0)
    found = _overlaps(fig, texts)
    printed = drawn_pt * print_width_in / width
    small = [f"text {text[:40]!r} prints at {printed:.1f} pt (< {min_pt:g} pt) at {print_width_in:g} in wide "
             f"(drawn {width:.2f} in wide)"] if printed < min_pt else []
    return {"saved_width_in": round(width, 3), "smallest_drawn_pt": round(drawn_pt, 2), "smallest_text": text,
            "print_width_in": print_width_in, "smallest_print_pt": round(printed, 2), "overlaps": found,
            "problems": small + found}
