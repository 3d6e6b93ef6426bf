"""Headline numbers as DVC metrics (``reports/metrics/<study>.json``): the shared pieces.

``dvc metrics show`` / ``dvc metrics diff`` compare these across experiments, and the manuscript reads its
numbers from them and from the full records CSV: nothing is typed by hand. Each study's own metrics
(which records are headline, which sample sizes) live in its folder (``studies/<name>/metrics.py``);
here are the number format every metrics file shares and the nested layout of the ecological studies.
"""

from __future__ import annotations

import math

import pandas as pd


def clean_number(value: float | int | None, digits: int = 4) -> float | int | None:
    """A number as written to a metrics file: None for missing, whole numbers above 1000 as int, else rounded."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    if isinstance(value, (int,)) or float(value).is_integer() and abs(value) > 1000:
        return int(value)
    return round(float(value), digits)


def estimate_entry(row) -> dict:
    """A record as a metrics entry: ratio scale for HR/OR, else the linear estimate."""
    ratio = not pd.isna(row.ratio)
    return {
        "measure": row.measure,
        "estimate": clean_number(row.ratio if ratio else row.estimate),
        "ci_low": clean_number(row.ratio_ci_low if ratio else row.ci_low),
        "ci_high": clean_number(row.ratio_ci_high if ratio else row.ci_high),
        "p_value": clean_number(row.p_value, 6),
        "n": int(row.n),
    }


def ecological_metrics(records: pd.DataFrame, sample: dict, keys: pd.Series) -> dict:
    """Headline numbers of an ecological study: every estimate keyed
    ``outcome -> exposure -> covariate_set -> key``, and the sample sizes. ``keys`` (one per record, on the
    records' index) names each fit as the study shows it: its spec's estimator name (countries, e.g.
    "two_way_fe_clustered") or its design (county models: "multilevel", "unweighted", "weighted",
    "fixed-effects"); between-unit terms of a within-between model get ":between"."""
    estimates: dict = {}
    for key, row in zip(keys.loc[records.index], records.itertuples()):
        key = f"{key}:between" if str(row.term).endswith(":between") else key
        (estimates.setdefault(row.outcome, {}).setdefault(row.exposure, {})
         .setdefault(row.covariate_set, {}))[key] = estimate_entry(row)
    study = str(records["study"].iloc[0]) if len(records) else ""
    return {"study": study, "sample": sample, "estimates": estimates}
