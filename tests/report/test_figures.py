"""Figures: the numbers behind the curves (hand-computed), what is drawn, and what is saved."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.container import ErrorbarContainer
from matplotlib.figure import Figure

from analysis.report import figures as F
from analysis.report.figure_check import problems
from support.figures import texts

GROUPS = ["Connected (0)", "Moderate (1)", "Isolated (2+)"]




@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    rng = np.random.default_rng(20261123)
    n = 2400
    g = rng.choice(3, n, p=[0.5, 0.3, 0.2])
    age = rng.uniform(40, 85, n)
    t_death = rng.exponential(1 / (0.002 * np.exp(0.06 * (age - 60) + 0.3 * g)))
    censor = rng.uniform(130, 250, n)
    died = (t_death <= censor).astype(int)
    return pd.DataFrame({
        "isolation_category": pd.Categorical.from_codes(g, categories=GROUPS, ordered=True),
        "followup_months": np.minimum(t_death, censor).round(),
        "died": pd.array(died, dtype="Int8"),
        "cvd_death": pd.array(died * (rng.uniform(size=n) < 0.3), dtype="Int8"),
        "weight_interview": rng.uniform(2000, 40000, n),
    })


@pytest.fixture
def records() -> pd.DataFrame:
    rows = []
    for outcome, label, measure in [("all_cause_death", "All-cause death", "HR"),
                                    ("depression_phq9", "Depression (PHQ-9 >= 10)", "OR"),
                                    ("phq9_score", "PHQ-9 score", "Mean difference")]:
        for term, tlabel, b in [("isolation_category[T.Moderate (1)]", "Moderate (1) vs Connected (0)", 0.2),
                                ("isolation_category[T.Isolated (2+)]", "Isolated (2+) vs Connected (0)", 0.4)]:
            for k, cs in enumerate(["age_sex", "socioeconomic", "health"]):
                est, se = b - 0.05 * k, 0.1
                ratio = (np.exp([est, est - 1.96 * se, est + 1.96 * se]) if measure != "Mean difference"
                         else [np.nan] * 3)
                rows.append(dict(outcome=outcome, outcome_label=label, exposure="isolation_category",
                                 exposure_label="Isolation category", term=term, term_label=tlabel, estimate=est,
                                 std_error=se, ci_low=est - 1.96 * se, ci_high=est + 1.96 * se, p_value=0.04,
                                 ratio=ratio[0], ratio_ci_low=ratio[1], ratio_ci_high=ratio[2], measure=measure,
                                 n=5000, events=800, model="cox", design="design-based", covariate_set=cs,
                                 converged=True, note=""))
    return pd.DataFrame(rows)


@pytest.fixture
def flow() -> pd.DataFrame:
    return pd.DataFrame({
        "step": [0, 1, 2, 3],
        "label": ["NHANES 1999-2008 participants", "Answered the social-support questionnaire",
                  "Isolation index complete", "Linked to mortality follow-up"],
        "n": [51623, 15234, 14321, 14290],
        "excluded": [0, 36389, 913, 31],
        "reason": ["", "Outside the SSQ target ages or no SSQ answer", "Missing an index item",
                   "Ineligible for linkage"],
    })


# ---------------------------------------------------------------------------------------------
# Numbers behind the survival curves


def test_weighted_kaplan_meier_by_hand():
    # durations 1, 2, 3; events 1, 0, 1; weights 1, 2, 1 (total 4)
    # S(1) = 1 - 1/4 = 0.75; t = 2 censored (weight 2); S(3) = 0.75 * (1 - 1/1) = 0
    table = pd.DataFrame({"t": [1.0, 2.0, 3.0], "e": [1, 0, 1], "g": ["a"] * 3, "w": [1.0, 2.0, 1.0]})
    curves, kind = F.survival_curves(table, "t", "e", "g", "w", death="e")
    assert kind == "survival"
    s = curves.set_index("time")["estimate"]
    assert s[1.0] == pytest.approx(0.75)
    assert s[3.0] == pytest.approx(0.0)
    # unweighted it would be 2/3 at t = 1: the weights are used
    s_unweighted = F.survival_curves(table, "t", "e", "g", None, death="e")[0].set_index("time")["estimate"]
    assert s_unweighted[1.0] == pytest.approx(2 / 3)


def test_weighted_aalen_johansen_by_hand():
    # t1 CVD death (w 2), t2 other death (w 1), t3 CVD death (w 1), t4 censored (w 1); total 5
    # CIF(1) = 2/5 = 0.4; S(1) = 0.6; S(2) = 0.6 * 2/3 = 0.4; CIF(3) = 0.4 + 0.4 * 1/2 = 0.6
    table = pd.DataFrame({"t": [1.0, 2.0, 3.0, 4.0], "died": [1, 1, 1, 0], "cvd": [1, 0, 1, 0],
                          "g": ["a"] * 4, "w": [2.0, 1.0, 1.0, 1.0]})
    curves, kind = F.survival_curves(table, "t", "cvd", "g", "w", death="died")
    assert kind == "cif"
    cif = curves.set_index("time")["estimate"]
    assert cif[1.0] == pytest.approx(0.4)
    assert cif[3.0] == pytest.approx(0.6)
    # 1 - KM (other deaths censored) is larger: CIF(3) = 1 - (1 - 2/5)(1 - 1/2) = 0.7
    naive, kind = F.survival_curves(table, "t", "cvd", "g", "w", death="died", competing_risks=False)
    assert kind == "1-km"
    assert naive.set_index("time")["estimate"][3.0] == pytest.approx(0.7)


def test_kaplan_meier_matches_lifelines_with_integer_weights():
    """Independent implementation: lifelines is exact for frequency (integer) weights."""
    from lifelines import KaplanMeierFitter

    rng = np.random.default_rng(7)
    t = rng.integers(1, 60, 300).astype(float)
    e = (rng.uniform(size=300) < 0.6).astype(int)
    w = rng.integers(1, 5, 300).astype(float)
    ours = F.weighted_kaplan_meier(t, e, w).set_index("time")
    ref = KaplanMeierFitter().fit(t, e, weights=w)
    ref_s = ref.survival_function_.iloc[:, 0].reindex(ours.index)
    ref_ci = ref.confidence_interval_survival_function_.reindex(ours.index)
    np.testing.assert_allclose(ours["estimate"], ref_s, rtol=1e-10)
    np.testing.assert_allclose(ours["low"].iloc[1:], ref_ci.iloc[1:, 0], rtol=1e-8)
    np.testing.assert_allclose(ours["high"].iloc[1:], ref_ci.iloc[1:, 1], rtol=1e-8)


def test_cumulative_incidence_matches_lifelines_aalen_johansen():
    """Distinct times (no jitter in lifelines), unit weights: estimate and CI agree."""
    from lifelines import AalenJohansenFitter

    rng = np.random.default_rng(11)
    t = rng.permutation(np.arange(1.0, 201.0))
    causes = rng.choice([0, 1, 2], 200, p=[0.4, 0.3, 0.3])
    ours = F.weighted_cumulative_incidence(t, causes, 1).set_index("time")
    ref = AalenJohansenFitter().fit(t, causes, event_of_interest=1)
    ref_f = ref.cumulative_density_.iloc[:, 0].reindex(ours.index)
    np.testing.assert_allclose(ours["estimate"], ref_f, atol=1e-12)
    ci = ref.confidence_interval_.reindex(ours.index)
    # lifelines gives NaN where the last one at risk dies of the other cause (0 * inf in its
    # first variance term, whose (F_i - F_j)^2 factor is 0 there); ours keeps the finite limit
    ok = (ours["estimate"] > 0) & ci.notna().all(axis=1)
    assert ok.sum() > 50
    assert ours[["low", "high"]].notna().all().all()
    np.testing.assert_allclose(ours.loc[ok, "low"], ci.min(axis=1)[ok], rtol=1e-8)
    np.testing.assert_allclose(ours.loc[ok, "high"], ci.max(axis=1)[ok], rtol=1e-8)


def test_kish_scaling_keeps_ratios():
    w = np.array([1.0, 2.0, 1.0])
    scaled = F.kish_scaled(w)
    assert scaled.sum() == pytest.approx(16 / 6)  # (sum w)^2 / sum w^2
    assert scaled / scaled[0] == pytest.approx(w)


def test_at_risk_counts_are_unweighted():
    table = pd.DataFrame({"t": [0.0, 10.0, 70.0, 130.0], "g": ["a", "a", "b", "b"]})
    risk = F.at_risk_counts(table, "t", "g", [0, 60, 120])
    assert risk.loc["a"].tolist() == [2, 0, 0]
    assert risk.loc["b"].tolist() == [2, 2, 1]


# ---------------------------------------------------------------------------------------------
# What is drawn


def test_km_curves_draws_one_line_per_group_per_panel(cohort):
    fig = F.km_curves(cohort, horizon_months=240)
    assert isinstance(fig, Figure)
    panels = [ax for ax in fig.axes if ax.get_xlabel()]
    assert len(panels) == 2
    for ax in panels:
        assert len(ax.get_lines()) == 3
        assert len(ax.collections) == 3  # one CI band per group
        assert ax.get_xlabel() == "Years since interview"
        assert ax.get_xlim() == (0, 20)
    assert [t.get_text() for t in panels[0].get_legend().get_texts()] == GROUPS
    assert "Cumulative incidence" in panels[1].get_ylabel()
    drawn = texts(fig)
    assert "Weighted Aalen-Johansen; other deaths as competing events" in [t.replace("\n", " ") for t in drawn]
    sizes = cohort["isolation_category"].value_counts()
    for group in GROUPS:  # numbers at risk at time 0 are the unweighted group sizes
        assert f"{sizes[group]:,}" in drawn
    assert any("," in t for t in drawn if t[:1].isdigit())


def test_km_curves_single_outcome_in_months(cohort):
    fig = F.km_curves(cohort, event="died", time_unit="months", horizon_months=120)
    panels = [ax for ax in fig.axes if ax.get_xlabel()]
    assert len(panels) == 1
    assert panels[0].get_xlabel() == "Months since interview"
    assert panels[0].get_ylabel() == "Survival (%)"


def test_km_curves_is_reproducible(cohort):
    a, _ = F.survival_curves(cohort, event="cvd_death")
    b, _ = F.survival_curves(cohort, event="cvd_death")
    pd.testing.assert_frame_equal(a, b)


def test_forest_plot_one_errorbar_per_record(records):
    fig = F.forest_plot(records, covariate_set_labels={"age_sex": "age, sex"})
    assert isinstance(fig, Figure)
    bars = [c for ax in fig.axes for c in ax.containers if isinstance(c, ErrorbarContainer)]
    n_ratio = int(records["measure"].isin(["HR", "OR"]).sum())
    assert len(bars) == n_ratio == 12  # the linear model's mean differences are not on a ratio axis
    assert len(fig.axes) == 2  # one panel for HR, one for OR
    for ax in fig.axes:
        assert ax.get_xscale() == "log"
        assert any(np.allclose(line.get_xdata(), 1.0) for line in ax.get_lines())  # reference line at 1
    drawn = texts(fig)
    first = records.iloc[0]
    assert f"{first['ratio']:.2f} ({first['ratio_ci_low']:.2f}-{first['ratio_ci_high']:.2f})" in drawn
    assert "HR (95% CI)" in drawn and "OR (95% CI)" in drawn
    assert "Moderate (1) vs Connected (0)" in drawn and "All-cause death" in drawn
    assert sum(t == "Model 1 (age, sex)" for t in drawn) == 4


def test_forest_plot_rejects_an_empty_selection(records):
    with pytest.raises(F.FigureError, match="multilevel"):
        F.forest_plot(records, design="multilevel")


def test_flow_diagram_shows_every_count(flow):
    fig = F.flow_diagram(flow)
    assert isinstance(fig, Figure)
    drawn = "\n".join(texts(fig))
    for n in flow["n"]:
        assert f"n = {n:,}" in drawn
    for n in flow["excluded"].iloc[1:]:
        assert f"Excluded: n = {n:,}" in drawn
    assert "51,623" in drawn and "36,389" in drawn
    boxes = [p for p in fig.axes[0].patches]
    assert len(boxes) == len(flow) + (len(flow) - 1)  # remaining boxes + exclusion boxes


# ---------------------------------------------------------------------------------------------
# Saving


def test_writers_save_png_and_svg(tmp_path, cohort, records, flow):
    written = []
    written += F.write_km_curves(cohort, tmp_path / "km")
    written += F.write_forest_plot(records, tmp_path / "forest")
    written += F.write_flow_diagram(flow, tmp_path / "flow")
    assert sorted(p.name for p in written) == sorted(
        f"{stem}.{ext}" for stem in ("km", "forest", "flow") for ext in ("png", "svg"))
    for path in written:
        data = path.read_bytes()
        assert len(data) > 1000
        if path.suffix == ".png":
            assert data[:8] == b"\x89PNG\r\n\x1a\n"
        else:
            assert b"<svg" in data[:2000]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left


# ---------------------------------------------------------------------------------------------
# Legible at print size: no type under 7 pt at the paper's text width, no label on a mark or another label


def test_forest_plot_reads_at_print_size(records):
    long_labels = {"health": "+ health (possible mediators: smoking, body mass index, blood pressure, diabetes)"}
    fig = F.forest_plot(records, covariate_set_labels=long_labels)
    assert problems(fig, F.PRINT_WIDTH_IN) == []


def test_grouped_forest_plot_wraps_long_labels_without_overlap():
    rows = pd.DataFrame({
        "panel": ["All-cause death"] * 3, "group": ["Isolated (2+) vs Connected (0)"] * 3,
        "label": ["Main analysis", "Follow-up from 2 years after the interview (earlier deaths excluded), "
                  "with restricted cubic splines for every continuous covariate", "+ self-rated health"],
        "ratio": [1.27, 1.25, 1.17], "ratio_ci_low": [1.14, 1.11, 1.03], "ratio_ci_high": [1.42, 1.42, 1.33],
        "detail": ["11,230 / 4,325", "10,824 / 3,919", "11,222 / 4,321"]})
    fig = F.grouped_forest_plot(rows, title="Sensitivity analyses", label_header="Analysis",
                                estimate_header="HR (95% CI)", detail_header="N / deaths")
    assert problems(fig, F.PRINT_WIDTH_IN) == []
    assert any("\n" in t for t in texts(fig))  # the long label was wrapped, not left to run into the axis


def test_dag_figure_reads_at_print_size():
    confounders = ["age", "sex", "race_ethnicity", "education", "income_poverty_ratio"]
    mediators = ["smoking_status", "bmi", "diabetes", "hypertension"]
    edges = [(c, t) for c in confounders for t in ("social_isolation", "death")]
    edges += [("age", "income_poverty_ratio"), ("education", "income_poverty_ratio")]
    edges += [("social_isolation", m) for m in mediators] + [(m, "death") for m in mediators]
    edges += [("bmi", "diabetes"), ("bmi", "hypertension"), ("social_isolation", "death")]
    fig = F.dag_figure(edges, exposure="social_isolation", outcome="death", latents=["illness"],
                       latent_edges=[("illness", "social_isolation"), ("illness", "death")], title="Causal diagram")
    assert problems(fig, F.PRINT_WIDTH_IN) == []
    assert fig.get_figwidth() == F.PRINT_WIDTH_IN
