"""The NHANES analysis table on the real mirror, and bad inputs through the stage command."""

from __future__ import annotations

import lzma
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.core import fetch, index
from analysis.core.config import ConfigError
from analysis.core.settings import validate
from analysis.studies.nhanes import clean
from analysis.studies.nhanes.schema import NHANES_VARIABLES, data_dictionary
from analysis.studies.nhanes.settings import NhanesSettings, WeightDomain
from support.config import ROOT


@pytest.fixture(scope="module")
def raw_dir(mirror, root, tmp_path_factory) -> Path:
    raw = tmp_path_factory.mktemp("raw")
    fetch.fetch_sources(root / "data/sources.yaml", raw, mirror, studies=["nhanes", "nhanes_mortality"])
    return raw


@pytest.fixture(scope="module")
def built(raw_dir, params):
    return clean.build_nhanes(raw_dir / "nhanes", params.nhanes)


def test_one_row_per_ssq_respondent(built, params):
    table, flow = built
    assert table["seqn"].is_unique
    # SSQ targets: 60+ in 1999-2002, 40+ in 2003-2008
    early = table["cycle"].isin(["1999-2000", "2001-2002"])
    assert table.loc[early, "age"].min() >= 60 and table.loc[~early, "age"].min() >= 40
    # the SSQ files hold 14,086 targeted people; those who answered no SSQ item are not rows
    assert 14_000 <= len(table) <= 14_086
    indices = params.nhanes.indices
    expected = {v.name for v in NHANES_VARIABLES} | set(indices) | {
        column for n, spec in indices.items() for column in spec.groupings_of(n)}
    assert set(table.columns) == expected


def test_cohort_flow_is_consistent(built):
    _, flow = built
    assert flow.loc[0, "n"] == 51_623  # DEMO 1999-2008: 9,965 + 11,039 + 10,122 + 10,348 + 10,149
    assert (flow["n"].shift(1) - flow["n"]).iloc[1:].tolist() == flow["excluded"].iloc[1:].tolist()
    assert flow["n"].is_monotonic_decreasing


def test_pooled_weights_follow_nchs_rule(built, raw_dir):
    table, _ = built
    from analysis.studies.nhanes.source import read_table

    demo = read_table(raw_dir / "nhanes/DEMO_D.csv.xz").set_index("SEQN")
    cycle = table[table["cycle"] == "2005-2006"]
    old, young = cycle[cycle["age"] >= 60].iloc[0], cycle[cycle["age"] < 60].iloc[0]
    assert old["weight_interview"] == pytest.approx(demo.loc[old["seqn"], "WTINT2YR"] / 5)
    assert young["weight_interview"] == pytest.approx(demo.loc[young["seqn"], "WTINT2YR"] / 3)
    assert young["weight_exam"] == pytest.approx(demo.loc[young["seqn"], "WTMEC2YR"] / 3)
    demo_a = read_table(raw_dir / "nhanes/DEMO.csv.xz").set_index("SEQN")
    row = table[table["cycle"] == "1999-2000"].iloc[0]
    assert row["weight_interview"] == pytest.approx(demo_a.loc[row["seqn"], "WTINT4YR"] * 2 / 5)
    assert row["weight_exam"] == pytest.approx(demo_a.loc[row["seqn"], "WTMEC4YR"] * 2 / 5)
    # the issue's check: the 40-59-year-olds' weighted share and the weighted mean age (51.1%, 59.6 before)
    w = table["weight_interview"]
    assert 100 * w[table["age"] < 60].sum() / w.sum() == pytest.approx(63.5, abs=0.05)
    assert np.average(table["age"], weights=w) == pytest.approx(56.9, abs=0.05)


DOMAINS = [WeightDomain(label="60+", min_age=60, max_age=None, cycles=list(clean.CYCLE_CODE.values())),
           WeightDomain(label="40-59", min_age=40, max_age=59, cycles=["2003-2004", "2005-2006", "2007-2008"])]


def test_pooled_weights_by_domain_hand_computed():
    # cycle weights 1000 (interview) and 600 (MEC; 0 = not examined), computed by hand:
    # 60+ in 1999-2002: 2/5 x 4-year weight; 60+ in 2003-2008: 1/5; 40-59 in 2003-2008: 1/3;
    # 40-59 in 1999-2002 and under 40: not in the SSQ population (missing)
    frame = pd.DataFrame({
        "RIDAGEYR": [70, 70, 45, 59, 45, 30],
        "cycle": ["1999-2000", "2007-2008", "2003-2004", "2005-2006", "2001-2002", "2005-2006"],
        "cycle_weight_interview": [1000.0] * 6, "cycle_weight_exam": [600.0, 600.0, 600.0, 0.0, 600.0, 600.0]})
    out = clean.pooled_weights(frame, DOMAINS)
    np.testing.assert_allclose(out["weight_interview"], [400, 200, 1000 / 3, 1000 / 3, np.nan, np.nan])
    np.testing.assert_allclose(out["weight_exam"], [240, 120, 200, 0, np.nan, np.nan])
    assert out["weight_domain"].tolist()[:5] == ["60+", "60+", "40-59", "40-59", "40-59"]
    assert pd.isna(out["weight_domain"].iloc[5])
    # each domain's weights add up to one population: 2 x 2/5 + 3 x 1/5 = 1 and 3 x 1/3 = 1 cycle-equivalents
    factors = clean.weight_domain_factors(DOMAINS)
    assert sum(f for (d, c), f in factors.items() if d == "60+") == pytest.approx(7 / 5)  # 4-year counted twice
    assert sum(f for (d, c), f in factors.items() if d == "40-59") == pytest.approx(1.0)


def test_weight_domains_bad_params_raise(raw_params):
    """The schema (settings.py) rejects weight domains the pooling rule cannot apply, before the clean stage."""
    def domains(*entries, cycles=None):
        nhanes = dict(raw_params["nhanes"], weight_domains=list(entries))
        return nhanes if cycles is None else dict(nhanes, cycles=cycles)

    with pytest.raises(ConfigError, match=r"weight_domains\[0\]: names 2001-2002 without its pair"):
        validate(NhanesSettings, domains({"label": "x", "min_age": 40, "cycles": ["2001-2002", "2003-2004"]}))
    # a cycle the study does not pool (here 2007-2008, with the cycles cut to 1999-2006)
    with pytest.raises(ConfigError, match=r"weight_domains\[0\]\.cycles: \['2007-2008'\] not among cycles"):
        validate(NhanesSettings, domains({"label": "x", "min_age": 40, "cycles": ["2005-2006", "2007-2008"]},
                                         cycles=["1999-2000", "2001-2002", "2003-2004", "2005-2006"]))
    # a cycle NHANES 1999-2008 does not have
    with pytest.raises(ConfigError, match=r"weight_domains\[0\]\.cycles\[0\] = '2009-2010'"):
        validate(NhanesSettings, domains({"label": "x", "min_age": 40, "cycles": ["2009-2010"]}))
    with pytest.raises(ConfigError, match="'x' and 'y' overlap; the age ranges must be disjoint"):
        validate(NhanesSettings, domains({"label": "x", "min_age": 40, "max_age": 70, "cycles": ["2003-2004"]},
                                         {"label": "y", "min_age": 60, "max_age": None, "cycles": ["2003-2004"]}))


def test_model_weight_rule_uses_the_mec_weight_for_mec_measures():
    from analysis.studies.nhanes.schema import MEC_VARIABLES, model_weight

    assert set(MEC_VARIABLES) == {"bmi", "phq9_score", "depression_phq9", "alcohol_use"}  # ALQ: MEC interview
    assert model_weight(["died", "age", "sex"], "weight_interview", "weight_exam") == "weight_interview"
    assert model_weight(["died", "age", "bmi"], "weight_interview", "weight_exam") == "weight_exam"
    assert model_weight(["phq9_score", "age"], "weight_interview", "weight_exam") == "weight_exam"


def test_outcomes_only_where_measured(built):
    table, _ = built
    early = ~table["cycle"].isin(["2005-2006", "2007-2008"])
    assert table.loc[early, "phq9_score"].isna().all()
    assert table.loc[~early, "phq9_score"].notna().mean() > 0.8
    assert table.loc[early, "religious_attendance"].isna().all()
    # no survey missing code survives as a number
    assert table["close_friends"].max() <= 50 and table["religious_attendance"].max() < 77777
    died = table["died"] == 1
    assert (table.loc[table["cvd_death"] == 1, "died"] == 1).all()
    assert 0.2 < table.loc[died, "cvd_death"].mean() < 0.5  # share of deaths that are CVD


def test_self_rated_health_matches_huq010(built, raw_dir):
    table, _ = built
    from analysis.studies.nhanes.source import read_table

    # every HUQ010 code of 2007-2008 respondents in the table, mapped by hand from the codebook
    huq = read_table(raw_dir / "nhanes/HUQ_E.csv.xz").set_index("SEQN")["HUQ010"]
    rows = table[table["cycle"] == "2007-2008"].set_index("seqn")
    codes = huq.reindex(rows.index)
    by_hand = codes.map({1: "Excellent", 2: "Very good", 3: "Good", 4: "Fair", 5: "Poor"})
    assert (rows["self_rated_health"].astype("object").where(rows["self_rated_health"].notna())
            .equals(by_hand.astype("object").where(by_hand.notna())))
    assert (rows["fair_poor_health"].isna() == codes.isin([7, 9]) | codes.isna()).all()
    assert (rows["fair_poor_health"].dropna() == codes[rows["fair_poor_health"].notna()].isin([4, 5])).all()
    assert list(table["self_rated_health"].cat.categories) == ["Excellent", "Very good", "Good", "Fair", "Poor"]
    assert table["self_rated_health"].isna().mean() < 0.01  # HUQ is asked of everyone; 7/9 are rare


def test_reliability_of_phq9_and_isolation_items(raw_dir, params, built):
    table, flow, phq9 = clean.build_nhanes_with_items(raw_dir / "nhanes", params.nhanes)
    assert table.equals(built[0]) and flow.equals(built[1])  # the items change nothing in the table
    assert (phq9["seqn"].to_numpy() == table["seqn"].to_numpy()).all()
    # the items sum to the table's PHQ-9 score where all nine are answered
    items = phq9.drop(columns="seqn")
    np.testing.assert_allclose(items.sum(axis=1, min_count=9), table["phq9_score"].astype(float))
    records = clean.reliability_records(table, phq9, params.nhanes.indices, params.reliability.ci_level
                                        ).set_index("measure")
    # PHQ-9: alpha = k/(k-1) (1 - sum var_i / var_total) on the complete 2005-2008 rows
    complete = items.dropna()
    alpha = 9 / 8 * (1 - complete.var().sum() / complete.sum(axis=1).var())
    assert records.loc["phq9_score", "statistic"] == "Cronbach's alpha"
    assert records.loc["phq9_score", "estimate"] == pytest.approx(alpha, abs=1e-12)
    assert records.loc["phq9_score", "n"] == len(complete)
    # isolation index: KR-20 = k/(k-1) (1 - sum p q / population variance of the score)
    points = index.index_points(table, params.nhanes.indices["isolation_index"]).dropna()
    p = points.mean()
    k = points.shape[1]  # 4 items in the main index
    kr20 = k / (k - 1) * (1 - (p * (1 - p)).sum() / points.sum(axis=1).var(ddof=0))
    assert records.loc["isolation_index", "statistic"] == "KR-20"
    assert records.loc["isolation_index", "estimate"] == pytest.approx(kr20, abs=1e-12)
    assert records.loc["isolation_index", "n"] == table["isolation_index"].notna().sum()
    dictionary = data_dictionary(table, params.nhanes.indices, {"isolation_index": "KR-20 0.46"})
    assert dictionary.set_index("name").loc["isolation_index", "reliability"] == "KR-20 0.46"
    assert dictionary.set_index("name").loc["age", "reliability"] == ""


# ---------------------------------------------------------------------------------------------
# Bad inputs through the stage command: a clear error, and no output of the stage left behind.


def _run_stage(project: Path, stage: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    src = str(ROOT / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "analysis", *stage.split()], cwd=project, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def project(tmp_path, raw_dir, root) -> Path:
    shutil.copy(root / "params.yaml", tmp_path / "params.yaml")
    shutil.copytree(raw_dir / "nhanes", tmp_path / "data/raw/nhanes")
    return tmp_path


def _rewrite_csv_xz(path: Path, edit) -> None:
    frame = pd.read_csv(path)
    frame = edit(frame)
    with lzma.open(path, "wt") as fh:
        frame.to_csv(fh, index=False)


def _no_outputs(project: Path) -> bool:
    processed = project / "data/processed"
    return not processed.exists() or not any(processed.iterdir())


def test_missing_column_gives_clear_error_and_no_outputs(project):
    _rewrite_csv_xz(project / "data/raw/nhanes/SSQ_D.csv.xz", lambda f: f.drop(columns=["SSQ061"]))
    result = _run_stage(project, "nhanes clean")
    assert result.returncode == 1
    assert "SSQ_D.csv.xz: column SSQ061 is missing" in result.stderr
    assert _no_outputs(project)


def test_unknown_code_gives_clear_error_and_no_outputs(project):
    def edit(f):
        f.loc[3, "SSQ011"] = 4
        return f

    _rewrite_csv_xz(project / "data/raw/nhanes/SSQ_D.csv.xz", edit)
    result = _run_stage(project, "nhanes clean")
    assert result.returncode == 1
    assert "column SSQ011 has the value 4" in result.stderr and "SSQ_D.csv.xz" in result.stderr
    assert _no_outputs(project)


def test_corrupt_file_gives_clear_error_and_no_outputs(project):
    path = project / "data/raw/nhanes/MCQ_C.csv.xz"
    path.write_bytes(path.read_bytes()[:500])
    result = _run_stage(project, "nhanes clean")
    assert result.returncode == 1
    assert "MCQ_C.csv.xz" in result.stderr
    assert _no_outputs(project)


def test_further_confounders_match_the_raw_codes(built, raw_dir):
    """Insurance, drinking status, leisure activity, cancer and COPD in the table, against the raw codes of
    2001-2002 (HID010, ALD100, PAD200/PAD320) and 2007-2008 (HIQ011, ALQ101, PAQ650/PAQ665), mapped by hand."""
    table, _ = built
    from analysis.studies.nhanes.source import read_table

    for cycle, suffix, insurance, twelve, (vig, mod) in [("2001-2002", "_B", "HID010", "ALD100", ("PAD200", "PAD320")),
                                                         ("2007-2008", "_E", "HIQ011", "ALQ101", ("PAQ650", "PAQ665"))]:
        rows = table[table["cycle"] == cycle].set_index("seqn")
        hiq = read_table(raw_dir / f"nhanes/HIQ{suffix}.csv.xz").set_index("SEQN").reindex(rows.index)
        by_hand = hiq[insurance].map({1: 1.0, 2: 0.0})
        assert rows["insured"].astype("float64").equals(by_hand.astype("float64"))
        alq = read_table(raw_dir / f"nhanes/ALQ{suffix}.csv.xz").set_index("SEQN").reindex(rows.index)
        q = alq["ALQ120Q"].where(alq["ALQ120Q"] <= 365)
        by_hand = pd.Series(None, index=rows.index, dtype="object")
        by_hand[(alq[twelve] == 2) & (alq["ALQ110"] == 2)] = "Lifetime abstainer"
        by_hand[q == 0] = "Former"
        by_hand[q >= 1] = "Current"
        got = rows["alcohol_use"].astype("object").where(rows["alcohol_use"].notna(), None)
        assert got.equals(by_hand)
        paq = read_table(raw_dir / f"nhanes/PAQ{suffix}.csv.xz").set_index("SEQN").reindex(rows.index)
        active = (paq[vig] == 1) | (paq[mod] == 1)
        inactive = paq[vig].isin([2, 3]) & paq[mod].isin([2, 3])
        assert (rows.loc[active, "leisure_activity"] == 1).all() and (rows.loc[inactive, "leisure_activity"] == 0).all()
        assert rows.loc[~active & ~inactive, "leisure_activity"].isna().all()
        mcq = read_table(raw_dir / f"nhanes/MCQ{suffix}.csv.xz").set_index("SEQN").reindex(rows.index)
        assert rows["cancer_history"].astype("float64").equals(mcq["MCQ220"].map({1: 1.0, 2: 0.0}).astype("float64"))
        copd = pd.Series(np.nan, index=rows.index)
        copd[(mcq["MCQ160G"] == 2) & (mcq["MCQ160K"] == 2)] = 0.0
        copd[(mcq["MCQ160G"] == 1) | (mcq["MCQ160K"] == 1)] = 1.0
        assert rows["copd_history"].astype("float64").equals(copd)
    # asked of nearly everyone in the table (HIQ, MCQ, PAQ: home interview; ALQ: the examined)
    assert table["insured"].isna().mean() < 0.02 and table["cancer_history"].isna().mean() < 0.02
    assert table["alcohol_use"].isna().mean() < 0.25 and table["leisure_activity"].isna().mean() < 0.02
