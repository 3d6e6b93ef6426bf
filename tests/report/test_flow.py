"""The sample-flow figure: a box per step with its n, an exclusion box per step with its reason and count, the
display items beside the samples they use, no text under MIN_FONT points; a step the flow lacks is an error."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.report.figures import FigureError
from analysis.report.flow import MIN_FONT, sample_flow, write_sample_flow

FLOW = pd.DataFrame({"step": [0, 1, 2], "label": ["Participants", "Index complete", "Covariates complete"],
                     "n": [1000, 950, 800], "excluded": [0, 50, 150],
                     "reason": ["", "Missing an index item", "Missing a covariate"]})


def texts(fig) -> list:
    return [t for ax in fig.axes for t in ax.texts]


def test_every_step_exclusion_and_use_is_drawn_legibly(tmp_path):
    fig = sample_flow(FLOW, {1: ["Table 1"], 2: ["Table 2"]}, title="Flow")
    words = " ".join(t.get_text() for t in texts(fig))
    for expected in ("n = 1,000", "n = 950", "n = 800", "Excluded 50: Missing an index item",
                     "Excluded 150: Missing a covariate", "Used by: Table 1", "Used by: Table 2"):
        assert expected in words.replace("\n", " "), expected
    assert min(t.get_fontsize() for t in texts(fig)) >= MIN_FONT
    assert fig.get_figwidth() == 6.5
    written = write_sample_flow(FLOW, tmp_path / "flow", ("png",), uses={2: ["Table 2"]})
    assert [p.name for p in written] == ["flow.png"] and written[0].stat().st_size > 5_000


def test_a_use_of_a_missing_step_is_an_error():
    with pytest.raises(FigureError, match=r"step\(s\) \[7\]"):
        sample_flow(FLOW, {7: ["Table 9"]})
    with pytest.raises(FigureError, match="no rows"):
        sample_flow(FLOW.iloc[0:0])
