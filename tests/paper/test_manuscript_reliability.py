"""The Methods sentence on measurement reliability quotes the clean stages' reliability files."""

from __future__ import annotations

import pandas as pd
import pytest
from test_manuscript import params, reports  # noqa: F401  (the module's fixtures: a project after the report stage)

from analysis.core import io
from analysis.estimators.reliability import cronbach_alpha, icc
from analysis.paper import manuscript as paper


def _records() -> tuple[pd.DataFrame, pd.DataFrame]:
    binary = pd.DataFrame({"x1": [1, 1, 1, 0], "x2": [1, 1, 0, 0], "x3": [1, 0, 0, 0]})  # KR-20 = 0.75
    ordinal = pd.DataFrame({"a": [1, 2, 3, 4, 5], "b": [2, 2, 4, 4, 5], "c": [1, 3, 3, 5, 4]})  # alpha = 0.936
    nhanes = pd.DataFrame([{"study": "nhanes", "measure": "isolation_index", **cronbach_alpha(binary)},
                           {"study": "nhanes", "measure": "phq9_score", **cronbach_alpha(ordinal)}])
    long = pd.DataFrame([{"person": i, "wave": w + 1, "score": v}
                         for i, row in enumerate([[2, 3], [4, 6], [6, 7], [8, 8]]) for w, v in enumerate(row)])
    gss = pd.DataFrame([{"measure": "loneliness_score_2020", "panel": "2016-2020", **cronbach_alpha(ordinal[["a", "b"]])},
                        {"measure": "social_contact_index", "panel": "all", **icc(long, "person", "wave", "score")}])
    return nhanes, gss


def test_methods_quote_the_reliability_files(reports, params):  # noqa: F811
    processed = reports.parent / "data" / "processed"
    nhanes, gss = _records()
    io.write_csv(processed / "nhanes_reliability.csv", nhanes)
    try:
        text = paper.render_markdown(paper.context(reports, params))
        kr20 = nhanes.iloc[0]
        assert (f"was KR-20 0.75 (95% CI {kr20['ci_low']:.2f} to {kr20['ci_high']:.2f}; n = 4) for the 4 "
                "isolation-index items and Cronbach's alpha 0.94") in text
        assert "in the GSS" not in text  # no GSS file: no GSS clause
        io.write_csv(processed / "gss_reliability.csv", gss)
        text = paper.render_markdown(paper.context(reports, params))
        assert "social contact index had ICC(A,1) 0.88" in text and "two-way, absolute agreement, single wave" in text
        # a changed file changes the text
        nhanes.loc[0, "estimate"] = 0.4321
        io.write_csv(processed / "nhanes_reliability.csv", nhanes)
        assert "was KR-20 0.43 " in paper.render_markdown(paper.context(reports, params))
    finally:
        for name in ("nhanes_reliability.csv", "gss_reliability.csv"):
            (processed / name).unlink(missing_ok=True)
    assert "Internal consistency" not in paper.render_markdown(paper.context(reports, params))


def test_gss_file_without_the_pooled_icc_is_an_error(tmp_path):
    nhanes, gss = _records()
    io.write_csv(tmp_path / "nhanes_reliability.csv", nhanes)
    io.write_csv(tmp_path / "gss_reliability.csv", gss[gss["measure"] != "social_contact_index"])
    with pytest.raises(paper.PaperError, match="pooled social_contact_index"):
        paper.reliability_context(tmp_path)
