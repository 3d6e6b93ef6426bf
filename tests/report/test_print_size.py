"""Issue 21: every figure the paper and the supplement print reads at print size (no type under 7 pt at the
printed width, no label on a label or a mark). Enforced twice: ``write_figure`` refuses a figure that fails at
its print width and records its measurement in the PNG; the paper stage reads that measurement back and checks
each figure at the width the PDF prints it. Here: the enforcement itself, and the figure functions of the
printed figures on small synthetic inputs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from analysis.paper.manuscript import PaperError, check_print_sizes, print_sizes
from analysis.paper.triangulation import standardised_figure, triangulation_figure
from analysis.report import figures as F
from analysis.report.figure_check import problems, saved_height_in, saved_width_in
from analysis.report.interval_figures import cumulative_incidence_curves, interval_panels
from analysis.report.specification_curve import curve_figure


def _small_type_figure(width: float = 11.0):
    fig = F.new_figure(width, 3.0)
    ax = fig.add_subplot()
    ax.set_title("drawn wide")
    ax.text(0.5, 0.5, "a small label", fontsize=8)
    return fig


# ---------------------------------------------------------------------------------------------
# Enforcement


def test_write_figure_refuses_type_under_7_pt_naming_figure_and_text(tmp_path):
    with pytest.raises(F.FigureError, match=r"wide_figure: does not read at print size.*prints at"):
        F.write_figure(_small_type_figure(), tmp_path / "wide_figure", ("png",))
    assert not list(tmp_path.iterdir())  # nothing written


def test_write_figure_records_its_measurement_in_the_png(tmp_path):
    fig = _small_type_figure(width=F.PRINT_WIDTH_IN)
    (png,) = F.write_figure(fig, tmp_path / "sound", ("png",))
    with Image.open(png) as image:
        found = json.loads(image.text[F.LEGIBILITY_KEY])
        width = image.size[0] / F.PNG_DPI
    assert found["problems"] == [] and found["smallest_drawn_pt"] == 8.0
    assert found["saved_width_in"] == pytest.approx(width, abs=0.02)  # the tight box is what is saved
    assert found["saved_width_in"] == pytest.approx(saved_width_in(fig), abs=1e-3)


def test_a_screen_only_figure_is_recorded_not_refused(tmp_path):
    (png,) = F.write_figure(_small_type_figure(), tmp_path / "screen", ("png",), print_width_in=None)
    with Image.open(png) as image:
        assert json.loads(image.text[F.LEGIBILITY_KEY])["smallest_print_pt"] < 7


def test_the_paper_checks_each_figure_at_its_printed_width(tmp_path):
    F.write_figure(_small_type_figure(width=F.PRINT_WIDTH_IN), tmp_path / "fig", ("png",))
    Image.new("RGB", (400, 100)).save(tmp_path / "plain.png")
    full = "![**Figure 1.** Full width.](fig.png){#figure-1 width=100%}\n"
    check_print_sizes(full, tmp_path, width_in=6.69, max_height_in=8.5)  # 8 pt prints at about 8 pt
    half = full.replace("width=100%", "width=50%")
    with Image.open(tmp_path / "fig.png") as image:
        saved = image.size[0] / F.PNG_DPI  # the tight box, narrower than the figure
    half_size = print_sizes(half, tmp_path, 6.69, 8.5)["fig.png"]
    assert half_size["printed_width_in"] == pytest.approx(6.69 / 2)
    assert half_size["smallest_pt"] == pytest.approx(8.0 * 6.69 / 2 / saved)
    with pytest.raises(PaperError, match=r"fig.png: 'a small label' prints at 4\.\d pt"):
        check_print_sizes(half, tmp_path, width_in=6.69, max_height_in=8.5)
    with pytest.raises(PaperError, match="plain.png: no print-size measurement"):
        check_print_sizes(full.replace("fig.png", "plain.png"), tmp_path, width_in=6.69, max_height_in=8.5)


# ---------------------------------------------------------------------------------------------
# The printed figures' functions, on small synthetic inputs (the others are in test_figures.py)


def test_specification_curve_reads_at_the_text_width():
    rng = np.random.default_rng(3)
    n = 240
    choices = pd.DataFrame({
        "exposure": rng.choice(["Isolated (2+) vs connected, 4 items, prorated from 3 answered", "Index"], n),
        "covariate_set": rng.choice(["age_sex", "socioeconomic", "health"], n),
        "design": rng.choice(["design-based", "unweighted"], n),
        "outcome": rng.choice(["all_cause_death", "cvd_death"], n)})
    log_hr = rng.normal(0.2, 0.1, n)
    choices = choices.assign(ratio=np.exp(log_hr), ratio_ci_low=np.exp(log_hr - 0.2),
                             ratio_ci_high=np.exp(log_hr + 0.2), p_value=rng.uniform(0, 0.2, n),
                             n=rng.integers(9000, 14000, n))
    fig = curve_figure(choices, ["exposure", "covariate_set", "design", "outcome"])
    assert problems(fig, F.PRINT_WIDTH_IN, drawn_width_in=saved_width_in(fig)) == []


def test_interval_panels_in_two_columns_read_at_the_text_width():
    groups = {"Age group": ["40 to < 60", "60 to < 70", "80+"], "Education": ["Less than high school", "College"],
              "Sex": ["Male", "Female"]}
    rows = pd.DataFrame([{"panel": p, "label": g, "series": s, "estimate": 10 + 5 * s, "low": 8 + 5 * s,
                          "high": 12 + 5 * s} for p, labels in groups.items() for g in labels for s in range(5)])
    fig = interval_panels(rows, axis_label="Weighted prevalence (%)", reference=None, columns=2,
                          series_labels=["Isolated (2+)", "Not married or living with a partner",
                                         "0 or 1 close friends", "No one to count on for emotional support",
                                         "No one to count on for money"],
                          title="Who is left out: isolation and its items by group (NHANES 1999-2008, design-based "
                                "95% CI)")
    assert problems(fig, F.PRINT_WIDTH_IN, drawn_width_in=saved_width_in(fig)) == []


def test_cumulative_incidence_reads_at_the_text_width():
    t = np.arange(0, 200, 10.0)
    curves = pd.concat([pd.DataFrame({"group": g, "time": t, "estimate": k * 0.0005 * t, "low": k * 0.0004 * t,
                                      "high": k * 0.0006 * t}) for k, g in enumerate(["Connected (0)", "Isolated"], 1)])
    fig = cumulative_incidence_curves(curves, group_label="Isolation")
    assert problems(fig, F.PRINT_WIDTH_IN, drawn_width_in=saved_width_in(fig)) == []


def test_km_curves_read_at_the_text_width():
    rng = np.random.default_rng(5)
    n = 900
    g = rng.choice(3, n)
    t = np.minimum(rng.exponential(1500 / (1 + 0.3 * g)), 240).round()  # survival stays above 70%
    died = (t < 240).astype(int)
    table = pd.DataFrame({
        "isolation_category": pd.Categorical.from_codes(g, ["Connected (0)", "Moderate (1)", "Isolated (2+)"]),
        "followup_months": t, "died": pd.array(died, dtype="Int8"),
        "cvd_death": pd.array(died * (rng.uniform(size=n) < 0.3), dtype="Int8"), "weight_interview": 1000.0})
    fig = F.km_curves(table, horizon_months=240, titles={"died": "All-cause death",
                                                         "cvd_death": "Cardiovascular death"})
    assert problems(fig, F.PRINT_WIDTH_IN, drawn_width_in=saved_width_in(fig)) == []


def _triangulation_rows(standardised: bool) -> pd.DataFrame:
    long = ("Isolated (2+) vs connected (0), primary covariate set, design-based Cox model, NHANES 1999-2008 "
            "with mortality follow-up to 2019")
    rows = []
    for k, group in enumerate(["All-cause mortality", "Prevalent CVD", "Depression and mental health"]):
        for j, label in enumerate(["NHANES: isolated vs connected", long]):
            est = 0.1 + 0.05 * (k + j) if standardised else 1.1 + 0.1 * (k + j)
            rows.append({"outcome_group": group, "source": "this project" if j == 0 else "published", "label": label,
                         "measure": "HR", "estimate": est, "ci_low": est * 0.8, "ci_high": est * 1.25,
                         "citation": "", "study": "nhanes", "status": "ran"})
    return pd.DataFrame(rows)


def test_triangulation_figures_read_at_the_text_width():
    for fig in (triangulation_figure(_triangulation_rows(False)), standardised_figure(_triangulation_rows(True))):
        assert fig.get_figwidth() == F.PRINT_WIDTH_IN
        assert problems(fig, F.PRINT_WIDTH_IN, drawn_width_in=saved_width_in(fig)) == []
        assert any("\n" in t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text")))  # wrapped


# ---------------------------------------------------------------------------------------------
# A figure taller than a printed page is printed in parts


def test_the_tallest_printed_figure_fits_the_page_with_its_caption():
    from analysis.paper.manuscript import A4_HEIGHT_CM, A4_WIDTH_CM, CAPTION_ROOM_IN, TEMPLATES
    from analysis.paper.typesetting import page_margins_cm

    margin_x, margin_y = page_margins_cm(TEMPLATES / "paper-typst.yaml")
    text_width, max_height = (A4_WIDTH_CM - 2 * margin_x) / 2.54, (A4_HEIGHT_CM - 2 * margin_y) / 2.54 - CAPTION_ROOM_IN
    # a figure drawn PRINT_WIDTH_IN wide (its saved image up to 0.15 in wider) prints without being shrunk
    assert F.PRINT_MAX_HEIGHT_IN * text_width / F.PRINT_WIDTH_IN <= max_height
    assert F.PRINT_MAX_HEIGHT_IN * text_width / (F.PRINT_WIDTH_IN + 0.15) >= max_height - 0.4  # and not far below


TALL_IN = 3.6  # a page this tall holds one panel of _rows, not two


def _rows(panels: int) -> pd.DataFrame:
    return pd.DataFrame([{"panel": f"Outcome {p}", "group": f"Exposure {g}", "label": f"Analysis {k}",
                          "ratio": 1.2, "ratio_ci_low": 1.0, "ratio_ci_high": 1.4}
                         for p in range(panels) for g in range(2) for k in range(3)])


def _write(rows: pd.DataFrame, stem) -> list:
    return F.write_in_parts(F.grouped_forest_plot, rows, "panel", stem, ("png",), max_height_in=TALL_IN)


@pytest.fixture(scope="module")
def tall(tmp_path_factory):
    reports = tmp_path_factory.mktemp("reports")
    (reports / "figures").mkdir()
    return reports, _write(_rows(2), reports / "figures" / "tall")


def test_a_tall_figure_is_written_whole_for_the_screen_and_in_parts_for_print(tall, tmp_path):
    _, written = tall
    assert [p.name for p in written] == ["tall.png", "tall_part1.png", "tall_part2.png"]
    with Image.open(written[0]) as image:
        assert image.size[1] / F.PNG_DPI > TALL_IN  # the whole, for the screen
    for path in written[1:]:
        with Image.open(path) as image:
            assert image.size[1] / F.PNG_DPI <= TALL_IN + 0.01
            assert json.loads(image.text[F.LEGIBILITY_KEY])["problems"] == []
    assert [p.name for p in _write(_rows(1), tmp_path / "short")] == ["short.png"]


def test_the_paper_prints_the_parts_with_their_number_and_continued(tall):
    from analysis.paper.manuscript import make_figure

    reports, _ = tall
    out = make_figure(reports)("figures/tall.png", "Figure S3", "Sensitivity analyses.")
    lines = [line for line in out.splitlines() if line]
    assert lines == ["![**Figure S3.** Sensitivity analyses.](figures/tall_part1.png){#figure-s3 width=100%}",
                     "![**Figure S3 (continued).**](figures/tall_part2.png){#figure-s3-2 width=100%}"]
    check_print_sizes(out, reports, width_in=6.69, max_height_in=8.46)


# ---------------------------------------------------------------------------------------------
# The printed figures the study stages' tests do not write (their writers run in tests/studies and
# tests/paper, through write_figure: places, countries, cohorts, the sample flow)


def _interval_records(exposures, outcomes, models) -> pd.DataFrame:
    rows = []
    for k, (exposure, outcome, (model, term, covariate_set)) in enumerate(
            (e, o, m) for e in exposures for o in outcomes for m in models):
        est = 0.02 * ((k % 5) - 2)
        rows.append({"outcome": outcome, "outcome_label": outcome.replace("_", " ").capitalize(),
                     "exposure": exposure, "term": term.format(exposure=exposure), "model": model,
                     "covariate_set": covariate_set, "measure": "Mean difference", "estimate": est,
                     "ci_low": est - 0.03, "ci_high": est + 0.03, "sample": "main"})
    return pd.DataFrame(rows)


def test_gss_digital_figure_reads_at_the_text_width():
    from analysis.params import load
    from analysis.studies.gss.reach_report import FIGURE_EXPOSURES, digital_figure

    reach = load().gss.reach
    outcomes = [*reach.digital.outcomes, *reach.displacement.outcomes]
    models = [("fixed_effects", "{exposure}", reach.digital.covariate_set),
              ("fixed_effects", "{exposure}", reach.beside.covariate_set),
              ("mundlak", "{exposure}:between", reach.digital.covariate_set)]
    records = _interval_records(list(FIGURE_EXPOSURES), outcomes, models)
    fig = digital_figure(records, load().gss)
    assert sum(len(ax.containers) for ax in fig.axes) == len(records)  # every estimate drawn
    assert problems(fig, F.PRINT_WIDTH_IN, drawn_width_in=saved_width_in(fig)) == []


def test_county_infrastructure_figure_reads_at_the_text_width():
    from analysis.params import load
    from analysis.studies.places.infrastructure import associations_figure

    places = load().places
    block = places.infrastructure
    records = _interval_records(list(block.exposures), list(block.mediators), [("multilevel", "{exposure}", "")])
    fig = associations_figure(records.assign(term=records["exposure"]), places)
    assert len(fig.axes[0].containers) == len(block.mediators)  # one series per mediator
    assert problems(fig, F.PRINT_WIDTH_IN, drawn_width_in=saved_width_in(fig)) == []


def test_county_maps_read_at_the_text_width():
    from analysis.paper.county_maps import static_maps

    # two square counties and their state in the Albers plane of the vendored atlas (quantised, delta-encoded)
    square = [[[100, 100], [200, 0], [0, 200], [-200, 0], [0, -200]]]
    topology = {"transform": {"scale": [1.0, 1.0], "translate": [0, 0]},
                "arcs": [square[0], [[400, 100], [200, 0], [0, 200], [-200, 0], [0, -200]]],
                "objects": {"counties": {"geometries": [{"type": "Polygon", "arcs": [[0]], "id": "01001"},
                                                        {"type": "Polygon", "arcs": [[1]], "id": "01003"}]},
                            "states": {"geometries": [{"type": "Polygon", "arcs": [[0]], "id": "01"}]}}}
    values = pd.DataFrame({"fips": ["01001", "01003"], "isolation_pct": [30.0, 38.0],
                           "emotional_support_lacking_pct": [20.0, np.nan], "broadband_pct": [70.0, 90.0]})
    fig = static_maps(values, {"isolation_pct": "Feeling socially isolated (%)",
                               "emotional_support_lacking_pct": "Lacking social and emotional support (%)",
                               "broadband_pct": "Households with broadband (%)"}, topology)
    assert problems(fig, F.PRINT_WIDTH_IN, drawn_width_in=saved_width_in(fig)) == []
    assert saved_height_in(fig) <= F.PRINT_MAX_HEIGHT_IN  # not shrunk to the page's height
