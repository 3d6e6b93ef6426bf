"""The names the country tables and ``countries.json`` use, the records' notes and the variation summary: what the
report stage reads from the model stage's side (:mod:`analysis.studies.countries.models` fits the models).

A module of its own, without the fitters, so that the report stage reads these without importing the model code
(linearmodels and the panel fitters: about a quarter of a second of its start-up, issue 23).
"""

from __future__ import annotations

import math

import pandas as pd

from analysis.estimators.panel_spec import between_label
from analysis.estimators.records import check_columns

#: The record's (``model``, ``vcov``) -> the spec's estimator name: the names tables and metrics show.
SPECIFICATION_OF: dict[tuple[str, str], str] = {
    ("pooled_ols", "cluster"): "pooled_ols", ("random_effects", "cluster"): "random_effects",
    ("mundlak", "cluster"): "within_between", ("fixed_effects", "cluster"): "two_way_fe_clustered",
    ("fixed_effects", "driscoll_kraay"): "two_way_fe_driscoll_kraay",
}
#: How the panel fitters name a country and a year in their notes.
UNIT_WORDS = {"unit": "country", "units": "countries", "period": "year"}
#: The first words of every record's note.
ECOLOGICAL_NOTE = ("ECOLOGICAL association at the country level (country-year means and GBD estimates, "
                   "countries weighted equally): not evidence about individuals")
#: Every record's note says that the country panel is descriptive (issue 15 item 10), and why.
DESCRIPTIVE_NOTE = ("DESCRIPTIVE: the GBD 2019 series are modelled estimates, smoothed over time, so they barely move "
                    "within a country (depression: SD of within-country deviations about 0.1 percentage points "
                    "against 0.9 between countries; reports/metrics/countries.json 'variation'); the within-country "
                    "estimates describe the smoother as much as the countries and are kept out of the triangulation")
#: ``term_label`` of the between-country coefficient of the within-between model (the panel fitters' label).
BETWEEN_TERM_LABEL = between_label(UNIT_WORDS["unit"])
#: Columns of :func:`variation_summary`.
VARIATION_COLUMNS = ["variable", "countries", "country_years", "mean", "sd_overall", "sd_between", "sd_within",
                     "within_share_of_variance"]


def specification_keys(records: pd.DataFrame) -> pd.Series:
    """The spec's estimator name of every record (``model`` and ``vcov`` -> e.g. "two_way_fe_driscoll_kraay"):
    the column headers of the tables and the keys of ``countries.json``."""
    return pd.Series([SPECIFICATION_OF.get((m, v), m) for m, v in zip(records["model"], records["vcov"])],
                     index=records.index, dtype=object)


def variation_summary(panel: pd.DataFrame, columns: list[str], entity: str = "iso3") -> pd.DataFrame:
    """Per variable (its non-missing country-years): countries, country-years, mean, and the overall,
    between-country and within-country SD, as Stata's ``xtsum``: ``sd_between`` is the SD of the country
    means, ``sd_within`` the SD of each country-year's deviation from its country's mean (both ddof 1);
    ``within_share_of_variance`` = within sum of squares / total sum of squares. This is what the fixed-effects
    estimators have to work with: GBD's smoothed depression series have almost none (issue 15 item 10)."""
    check_columns(panel, [entity, *columns], "the variation summary")
    rows = []
    for column in columns:
        data = panel[[entity, column]].dropna()
        within = data[column] - data.groupby(entity)[column].transform("mean")
        total_ss = float(((data[column] - data[column].mean()) ** 2).sum())
        rows.append({
            "variable": column, "countries": int(data[entity].nunique()), "country_years": int(len(data)),
            "mean": float(data[column].mean()), "sd_overall": float(data[column].std(ddof=1)),
            "sd_between": float(data.groupby(entity)[column].mean().std(ddof=1)),
            "sd_within": float(within.std(ddof=1)),
            "within_share_of_variance": float((within ** 2).sum() / total_ss) if total_ss > 0 else math.nan,
        })
    return pd.DataFrame(rows, columns=VARIATION_COLUMNS)
