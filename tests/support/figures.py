"""Helpers for figure tests: the text of a matplotlib figure."""

from __future__ import annotations

from matplotlib.figure import Figure
from matplotlib.text import Text


def texts(fig: Figure) -> list[str]:
    return [t.get_text() for t in fig.findobj(Text)]
