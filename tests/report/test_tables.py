"""Table 1 and regression tables: hand-computed weighted statistics and exact formatting."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.core import io
from analysis.report import tables as T
from analysis.studies.nhanes.report import CONVENTION, COVARIATE_SET_LABELS, DTYPES, LABELS

# The generic Table 1 as the NHANES report calls it: its contract's labels and types, its convention.
NHANES = dict(by="isolation_category", weight="weight_interview", labels=LABELS, dtypes=DTYPES, convention=CONVENTION)


def table1(frame, **kwargs):
    return T.table1(frame, **{**NHANES, **kwargs})

GROUPS = ["Connected (0)", "Moderate (1)", "Isolated (2+)"]


@pytest.fixture
def six_rows() -> pd.DataFrame:
    """Two groups of three; weights chosen so weighted and unweighted answers differ."""
    return pd.DataFrame({
        "isolation_category": pd.Categorical(
            ["Connected (0)"] * 3 + ["Moderate (1)"] * 3, categories=GROUPS, ordered=True),
        "age": [50.0, 60.0, 70.0, 40.0, 80.0, np.nan],
        "sex": pd.Categorical(["Female", "Male", "Female", "Male", "Male", "Female"], categories=["Male", "Female"]),
        "lives_alone": pd.array([1, 0, pd.NA, 1, 1, 0], dtype="Int8"),
        "weight_interview": [1.0, 2.0, 1.0, 3.0, 1.0, 2.0],
    })


def cell(long: pd.DataFrame, variable: str, group: str, level: str = "") -> pd.Series:
    hit = long[(long["variable"] == variable) & (long["group"] == group) & (long["level"] == level)]
    assert len(hit) == 1, (variable, group, level)
    return hit.iloc[0]


def test_table1_weighted_means_by_hand(six_rows):
    long = table1(six_rows, variables=["age", "sex", "lives_alone"])
    # Connected: ages 50, 60, 70, weights 1, 2, 1 -> mean 240/4 = 60;
    # var = (100 + 0 + 100)/4 * 3/2 = 75 (svyvar's n/(n-1)) -> SD 8.660
    c = cell(long, "age", "Connected (0)")
    assert c["value"] == pytest.approx(60.0)
    assert c["sd_or_pct"] == pytest.approx(math.sqrt(75))
    assert c["n"] == 3
    assert c["statistic"] == "60.0 (8.7)"
    # Moderate: ages 40, 80 (third missing), weights 3, 1 -> mean 200/4 = 50;
    # var = (3*100 + 1*900)/4 * 2/1 = 600 -> SD 24.49
    m = cell(long, "age", "Moderate (1)")
    assert m["value"] == pytest.approx(50.0)
    assert m["sd_or_pct"] == pytest.approx(math.sqrt(600))
    assert m["n"] == 2
    # Overall: 50, 60, 70, 40, 80 with weights 1, 2, 1, 3, 1 -> 440/8 = 55;
    # sum w (x - 55)^2 = 25 + 50 + 225 + 675 + 625 = 1600 -> 1600/8 * 5/4 = 250
    o = cell(long, "age", "Overall")
    assert o["value"] == pytest.approx(55.0)
    assert o["sd_or_pct"] == pytest.approx(math.sqrt(250))
    assert o["statistic"] == "55.0 (15.8)"
    assert cell(long, "age", "Overall", "Missing")["value"] == 1


def test_table1_a_subsample_measure_takes_its_own_weight(six_rows):
    """variable_weights: age weighted by an exam weight (0 = not examined, missing = 0), sex by the main one."""
    frame = six_rows.assign(weight_exam=[2.0, 0.0, 2.0, 1.0, 1.0, np.nan])
    long = table1(frame, variables=["age", "sex"], variable_weights={"age": "weight_exam"})
    # Connected: ages 50, 60, 70 with exam weights 2, 0, 2 -> mean 240/4 = 60; Moderate: 40, 80 with 1, 1 -> 60
    assert cell(long, "age", "Connected (0)")["value"] == pytest.approx(60.0)
    assert cell(long, "age", "Moderate (1)")["value"] == pytest.approx(60.0)
    # Overall: (100 + 140 + 40 + 80) / 6 = 60
    assert cell(long, "age", "Overall")["value"] == pytest.approx(60.0)
    # sex keeps the interview weight: Connected women 1 + 1 of 4 -> 50%
    assert cell(long, "sex", "Connected (0)", "Female")["sd_or_pct"] == pytest.approx(50.0)
    assert "Age" in long.attrs["footnote"] and "weighted with column weight_exam" in long.attrs["footnote"]
    with pytest.raises(T.TableError, match="weight_exam.*negative"):
        table1(frame.assign(weight_exam=-1.0), variables=["age"], variable_weights={"age": "weight_exam"})


def test_table1_unweighted_counts_weighted_percentages(six_rows):
    long = table1(six_rows, variables=["age", "sex", "lives_alone"])
    # Connected: Female rows have weights 1 and 1 of 4 -> 50%, n = 2
    f = cell(long, "sex", "Connected (0)", "Female")
    assert (f["value"], f["sd_or_pct"]) == (2, pytest.approx(50.0))
    assert f["statistic"] == "2 (50.0%)"
    # Moderate: Male weights 3 + 1 of 6 -> 66.7%, n = 2; Female 2 of 6 -> 33.3%, n = 1
    assert cell(long, "sex", "Moderate (1)", "Male")["statistic"] == "2 (66.7%)"
    assert cell(long, "sex", "Moderate (1)", "Female")["statistic"] == "1 (33.3%)"
    # Overall Female: rows 1, 3, 6 weights 1 + 1 + 2 = 4 of 10 -> 40%
    assert cell(long, "sex", "Overall", "Female")["sd_or_pct"] == pytest.approx(40.0)
    # binary: Connected lives_alone = 1, 0, NA with weights 1, 2, 1 -> 1 of weight 3 -> 33.3%;
    # the denominator (n) is the 2 non-missing, the missing one is counted separately
    la = cell(long, "lives_alone", "Connected (0)", "Yes")
    assert la["statistic"] == "1 (33.3%)"
    assert la["n"] == 2
    assert cell(long, "lives_alone", "Connected (0)", "Missing")["value"] == 1
    # N row: unweighted size, weighted share of the population (4/10, 6/10)
    assert cell(long, "N", "Connected (0)")["statistic"] == "3 (40.0%)"
    assert cell(long, "N", "Moderate (1)")["statistic"] == "3 (60.0%)"
    assert cell(long, "N", "Overall")["statistic"] == "6 (100.0%)"


def test_table1_layout_labels_and_footnote(six_rows):
    long = table1(six_rows, variables=["age", "sex", "lives_alone"])
    assert list(long.columns[:6]) == ["variable", "label", "level", "group", "statistic_type", "statistic"]
    assert {"n", "value", "sd_or_pct"} <= set(long.columns)
    # empty groups are still columns, and Overall comes last
    assert list(dict.fromkeys(long["group"])) == [*GROUPS, "Overall"]
    assert cell(long, "age", "Overall")["label"] == "Age at screening (years)"
    assert "unweighted" in long.attrs["footnote"] and "survey-weighted" in long.attrs["footnote"]
    wide = T.table1_wide(long)
    assert list(wide.columns) == ["Characteristic", "Level", *GROUPS, "Overall"]
    assert wide.iloc[0]["Characteristic"] == "Participants, n (weighted %)"
    assert wide.iloc[1]["Characteristic"] == "Age at screening (years), mean (SD)"
    assert wide.attrs["footnote"] == long.attrs["footnote"]


def test_table1_thousands_separator_and_missing_group(six_rows):
    big = pd.concat([six_rows] * 250, ignore_index=True)  # 1,500 rows
    with_missing = pd.concat([big, six_rows.iloc[[0]]], ignore_index=True)
    with_missing.loc[len(big), "isolation_category"] = np.nan
    long = table1(with_missing, variables=["sex"])
    assert cell(long, "N", "Overall")["statistic"] == "1,500 (100.0%)"
    assert "1 participants with missing" in long.attrs["footnote"]


def test_table1_unweighted_matches_numpy(six_rows):
    long = table1(six_rows, variables=["age"], weight=None)
    ages = six_rows["age"].iloc[:3]
    c = cell(long, "age", "Connected (0)")
    assert c["value"] == pytest.approx(ages.mean())
    assert c["sd_or_pct"] == pytest.approx(ages.std(ddof=1))


def test_table1_names_a_missing_column(six_rows):
    with pytest.raises(T.TableError, match="bmi"):
        table1(six_rows, variables=["age", "bmi"])
    with pytest.raises(T.TableError, match="weight_interview"):
        table1(six_rows.assign(weight_interview=[1, np.nan, 1, 1, 1, 1]), variables=["age"])


# ---------------------------------------------------------------------------------------------
# Regression table


def record(**overrides) -> dict:
    base = dict(study="NHANES 1999-2008", outcome="all_cause_death", outcome_label="All-cause death",
                exposure="isolation_category", exposure_label="Isolation category",
                term="isolation_category[T.Isolated (2+)]", term_label="Isolated (2+) vs Connected (0)",
                estimate=math.log(1.4512), std_error=0.1, ci_low=math.log(1.2049), ci_high=math.log(1.7488),
                p_value=0.0001, ratio=1.4512, ratio_ci_low=1.2049, ratio_ci_high=1.7488, measure="HR",
                n=12345, events=2345, model="cox", design="design-based", covariate_set="age_sex",
                converged=True, note="")
    base.update(overrides)
    return base


def test_format_estimate():
    assert T.format_estimate(record()) == "HR 1.45 (1.20-1.75)"
    linear = record(measure="Mean difference", estimate=-0.2, ci_low=-0.4, ci_high=0.004,
                    ratio=np.nan, ratio_ci_low=np.nan, ratio_ci_high=np.nan)
    assert T.format_estimate(linear) == "MD -0.20 (-0.40 to 0.00)"


def test_regression_table_wide_by_covariate_set():
    records = pd.DataFrame([
        record(),
        record(covariate_set="socioeconomic", ratio=1.3, ratio_ci_low=1.1, ratio_ci_high=1.6, n=12000),
        record(design="multilevel", ratio=9.0),
        record(outcome="depression_phq9", outcome_label="Depression (PHQ-9 >= 10)", measure="OR",
               model="logistic", ratio=1.8, ratio_ci_low=1.5, ratio_ci_high=2.2, n=4000, events=600),
    ])
    table = T.regression_table(records, covariate_set_labels=COVARIATE_SET_LABELS)
    assert list(table.columns) == ["Outcome", "Exposure", "Term", "N", "Events",
                                   "Model 1 (age, sex)", "Model 2 (+ socioeconomic)"]
    assert len(table) == 2  # the multilevel record is in its own table
    first = table.iloc[0]
    assert first["Model 1 (age, sex)"] == "HR 1.45 (1.20-1.75)"
    assert first["Model 2 (+ socioeconomic)"] == "HR 1.30 (1.10-1.60)"
    assert first["N"] == "12,345 / 12,000"  # nested models fitted on different n: listed per model
    assert first["Events"] == "2,345"
    second = table.iloc[1]
    assert second["Model 1 (age, sex)"] == "OR 1.80 (1.50-2.20)"
    assert second["Model 2 (+ socioeconomic)"] == ""
    multilevel = T.regression_tables(records, covariate_set_labels=COVARIATE_SET_LABELS)["multilevel"]
    assert multilevel.iloc[0]["Model 1 (age, sex)"].startswith("HR 9.00")


def test_regression_table_marks_ph_and_convergence():
    records = pd.DataFrame([record(), record(covariate_set="health", converged=False)])
    ph = pd.DataFrame([{"outcome": "all_cause_death", "exposure": "isolation_category", "covariate_set": "age_sex",
                        "term": "isolation_category[T.Isolated (2+)]", "test_statistic": 9.1, "p_value": 0.002,
                        "flagged": True}])
    table = T.regression_table(records, ph_tests=ph, covariate_sets={"age_sex": "age + C(sex)"},
                               covariate_set_labels=COVARIATE_SET_LABELS)
    assert table.iloc[0]["Model 1 (age, sex)"] == "HR 1.45 (1.20-1.75)" + T.PH_MARK
    assert table.iloc[0]["Model 2 (+ health (secondary: direct effect))"].endswith(T.NONCONVERGED_MARK)
    note = table.attrs["footnote"]
    assert "Schoenfeld" in note and "did not converge" in note and "age + C(sex)" in note


def test_regression_table_unknown_design():
    with pytest.raises(T.TableError, match="no records with design 'bayesian'"):
        T.regression_table(pd.DataFrame([record()]), design="bayesian")


# ---------------------------------------------------------------------------------------------
# Writers


def test_write_table_writes_every_format_atomically(tmp_path):
    frame = pd.DataFrame({"Characteristic": ["Age_years", "Women | men"], "Overall": ["1,234 (45.6%)", "62.3 (11.2)"],
                          "n": [1234, 12]})
    written = T.write_table(frame, tmp_path / "t1", caption="Table 1 & friends", footnote="Weighted %.")
    assert sorted(p.name for p in written) == ["t1.csv", "t1.html", "t1.json", "t1.md", "t1.tex"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t1.csv", "t1.html", "t1.json", "t1.md", "t1.tex"]
    assert pd.read_csv(tmp_path / "t1.csv")["n"].tolist() == [1234, 12]
    md = (tmp_path / "t1.md").read_text()
    assert md.startswith("**Table 1 & friends**")
    assert "| Characteristic" in md and "|:-" in md and "Women \\| men" in md and "1,234 (45.6%)" in md
    assert md.rstrip().endswith("Weighted %.")
    page = (tmp_path / "t1.html").read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert "<caption>Table 1 &amp; friends</caption>" in page and "Weighted %." in page
    tex = (tmp_path / "t1.tex").read_text()
    for rule in ("\\toprule", "\\midrule", "\\bottomrule", "\\caption{Table 1 \\& friends}"):
        assert rule in tex
    assert "45.6\\%" in tex and "Age\\_years" in tex and "1,234" in tex


def test_write_table_inside_staged_outputs_is_all_or_nothing(tmp_path):
    frame = pd.DataFrame({"a": [1]})
    with pytest.raises(RuntimeError):
        with io.staged_outputs():
            T.write_table(frame, tmp_path / "t", caption="c")
            raise RuntimeError("stage failed")
    assert list(tmp_path.iterdir()) == []


def test_write_table1_and_regression_tables(tmp_path, six_rows):
    T.write_table1(six_rows, tmp_path, variables=["age", "sex"], **NHANES)
    T.write_regression_tables(pd.DataFrame([record(), record(design="multilevel")]), tmp_path)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert "table1_long.csv" in names and "table1.tex" in names
    assert "regression_design_based.md" in names and "regression_multilevel.html" in names
    assert not [n for n in names if n.startswith(".")]


# ---------------------------------------------------------------------------------------------
# The paper's table: one JSON spec, rendered to HTML and to Typst (PDF)


def paper_table(tmp_path) -> Path:
    """A regression-style table under ``tmp_path/tables/nhanes``: long text, numbers, intervals, a formula."""
    frame = pd.DataFrame({
        "Outcome": ["All-cause death", "Cardiovascular death", "Depression (PHQ-9 >= 10)"],
        "Term": ["Isolated (2+) vs Connected (0)", "Isolated (2+) vs Connected (0)", "per point"],
        "N": [11230, 11230, 5527],
        "Model 1 (age, sex)": ["HR 1.58 (1.41-1.77)", "HR 1.62 (1.32-1.99)", "OR 12.21 (8.82-17.10)"],
        "Model 3 (+ health (possible mediators))": ["HR 1.27 (1.14-1.42)", "HR 1.30 (1.05-1.61)\u2020", ""],
    })
    T.write_table(frame, tmp_path / "tables" / "nhanes" / "regression", caption="Stage caption",
                  footnote="Adjustment: age + C(sex) + income_poverty_ratio.")
    return tmp_path / "tables"


def test_table_spec_aligns_numbers_and_intervals_on_the_decimal(tmp_path):
    spec = json.loads((paper_table(tmp_path) / "nhanes" / "regression.json").read_text())
    assert [c["align"] for c in spec["columns"]] == ["left", "left", "decimal", "decimal", "decimal"]
    assert spec["rows"][0][2] == "11,230" and spec["caption"] == "Stage caption"
    assert T.decimal_parts("HR 1.27 (1.14-1.42)") == ("HR 1", ".27 (1.14-1.42)")
    assert T.decimal_parts("11,230") == ("11,230", "")


def test_render_table_gives_html_and_typst_with_labels_caption_and_csv_link(tmp_path):
    labels = {"sex": "Sex", "income_poverty_ratio": "Family income-to-poverty ratio"}
    md = T.render_table(paper_table(tmp_path), "nhanes/regression", "Table 2", title="Design-based estimates",
                        labels=labels)
    html_block = md.split("```{=html}\n")[1].split("\n```")[0]
    typst_block = md.split("```{=typst}\n")[1].split("\n```")[0]
    assert "<caption>Table 2. Design-based estimates.</caption>" in html_block
    assert '<a href="tables/nhanes/regression.csv">' in html_block
    assert '<td class="int">HR 1</td><td class="frac">.27 (1.14-1.42)</td>' in html_block
    assert "age + Sex + Family income-to-poverty ratio." in html_block and "C(sex)" not in md
    assert "income_poverty_ratio" not in md
    assert "hyphenate: false" in typst_block and "position: top" in typst_block
    assert T.render_table(tmp_path / "tables", "nhanes/regression", "Table 2").count("Stage caption") == 2
    with pytest.raises(T.TableError, match="nhanes/absent"):
        T.render_table(tmp_path / "tables", "nhanes/absent", "Table 9")


def test_rendered_typst_table_sets_without_a_typesetting_fault(tmp_path):
    """Compiled by Typst (A4, 2 cm margins as the paper), the table passes the typesetting check: every column fits,
    no glyph overlaps, nothing leaves the text block; a table too wide for the page turns it landscape."""
    typst = pytest.importorskip("typst")
    from analysis.paper.typesetting import check_pdf

    tables = paper_table(tmp_path)
    wide = pd.DataFrame({f"Estimator {k} with a long name": ["-0.013 (-0.024 to -0.001)"] * 4 for k in range(10)})
    wide.insert(0, "Outcome", ["Fair or poor self-rated health", "Not too happy", "Lonely", "Depressed"])
    T.write_table(wide, tables / "gss" / "wide", caption="Too wide for a portrait page", footnote="Notes.")
    labels = {"sex": "Sex", "income_poverty_ratio": "Income"}
    rendered = [T.render_table(tables, name, f"Table {k}", text_width_pt=480, labels=labels)
                for k, name in enumerate(["nhanes/regression", "gss/wide"], 1)]
    body = "\n\n".join(md.split("```{=typst}\n")[1].split("\n```")[0] for md in rendered)
    source = '#set page(paper: "a4", margin: (x: 2cm, y: 2.2cm))\n#set text(size: 10pt)\n' + body
    pdf = tmp_path / "t.pdf"
    pdf.write_bytes(typst.compile(source.encode()))
    assert check_pdf(pdf, (2.0, 2.2)) == []
    assert "#page(flipped: true)" in body


def test_names_a_reader_looks_up_are_set_as_code():
    assert T.code_spans("see nhanes_subgroups.csv and params.yaml gss.panel_models.ballots, e.g. here") == [
        ("see ", False), ("nhanes_subgroups.csv", True), (" and ", False), ("params.yaml", True), (" ", False),
        ("gss.panel_models.ballots", True), (", e.g. here", False)]
    assert T.code_spans("b_xy") == [("b_xy", True)]
    assert T.code_spans("Isolated (2+) vs Connected (0)") == [("Isolated (2+) vs Connected (0)", False)]
    assert T.typst_text("b_xy") == '[#raw("b_xy")]' and T.html_text("a.csv <") == "<code>a.csv</code> &lt;"
