"""The paper's numbers for connection's further reach (issue 22): cognition and dementia, who is left out, digital
ties and trust, the social infrastructure of counties; and for the specification curve (issue 23).

Each function reads one stage's result files through that study's own ``paper_numbers``-style function and
returns what the template fragments under ``templates/sections/`` quote, shaped for the template's filters
(``ratio``, ``linear``, ``ci``: a dict with ``measure``, ``estimate``, ``ci_low``, ``ci_high``); None when the
stage has not run, so the paper says nothing rather than something stale. No number is typed here.
"""

from __future__ import annotations

from pathlib import Path

from analysis.params import Params
from analysis.studies.gss.reach_report import reach_paper_numbers
from analysis.studies.nhanes import cognition, reach, specifications
from analysis.studies.places.infrastructure import infrastructure_numbers


def _entry(row: dict) -> dict:
    """A result row as the template filters read it (``measure`` HR/OR for ratios, else a difference)."""
    measure = row.get("measure", "Mean difference")
    return {"measure": measure if measure in ("HR", "OR") else "difference", "estimate": float(row["estimate"]),
            "ci_low": float(row["ci_low"]), "ci_high": float(row["ci_high"]),
            "p_value": float(row.get("p_value", float("nan"))), "n": row.get("n"), "events": row.get("events")}


def cognition_context(reports: Path) -> dict | None:
    """NHANES DSST and Alzheimer's death (stage ``cognition_nhanes``): the most isolated group and the per-point
    term, complete case and IPW; completion; cause-specific and Fine-Gray hazard ratios; cumulative incidence."""
    if not (reports / "metrics" / "nhanes_cognition.csv").exists():
        return None
    numbers = cognition.paper_numbers(reports)
    out: dict = {}
    for row in numbers["terms"]:
        kind = "point" if "[" not in row["term"] else "top"
        key = (row["outcome"], row["model"], row["sample"], kind)
        if kind == "top" or key not in out:  # the last category term is the most isolated group
            out[key] = {**_entry(row), "term_label": row["term_label"]}
    pick = lambda *key: out.get(key)  # noqa: E731
    curves = numbers["cumulative_incidence"]
    return {
        "dsst": pick("dsst_score", "linear", "main", "top"), "dsst_ipw": pick("dsst_score", "linear", "ipw", "top"),
        "dsst_point": pick("dsst_score", "linear", "main", "point"),
        "dsst_point_ipw": pick("dsst_score", "linear", "ipw", "point"),
        "completion": pick("dsst_completed", "logistic", "main", "top"),
        "alzheimer": pick("alzheimer_death", "cox", "main", "top"),
        "alzheimer_fg": pick("alzheimer_death", "fine_gray", "main", "top"),
        "cif": curves, "cif_low": min(c["estimate"] for c in curves.values()),
        "cif_high": max(c["estimate"] for c in curves.values()),
        "cif_years": max(c["time"] for c in curves.values()) / 12,
    }


def left_out_context(reports: Path, params: Params) -> dict | None:
    """NHANES prevalence of isolation and its items by group (stage ``reach_nhanes``): overall, the widest gap of
    each grouping (labels from ``nhanes.reach.groupings``), and the interaction tests beside them."""
    if not (reports / "metrics" / "nhanes_reach.csv").exists():
        return None
    numbers = reach.paper_numbers(reports)
    labels = {g.name: g.label for g in params.nhanes.reach.groupings}
    gaps = [{**gap, "grouping": name, "label": labels.get(name, name)} for name, gap in numbers["gaps"].items()]
    return {"overall": numbers["overall"], "gaps": sorted(gaps, key=lambda g: -g["gap_points"]),
            "interactions": numbers["interactions"]}


def gss_reach_context(reports: Path, params: Params) -> dict | None:
    """GSS digital ties, displacement, Facebook and trust (stage ``reach_gss``)."""
    if not (reports / "metrics" / "gss_reach.json").exists():
        return None
    numbers = reach_paper_numbers(reports / "metrics", params.gss)
    entries = lambda block: {o: {k: _entry(v) for k, v in d.items()} for o, d in block.items()}  # noqa: E731
    alpha = next((v for k, v in numbers["trust_alpha"].items() if k.startswith("2006-2014")
                  and v["statistic"] != "KR-20"), None)
    return {"within": entries(numbers["within"]), "beside": entries(numbers["beside"]),
            "trust": entries(numbers["trust"]),
            "displacement": {k: _entry(v) for k, v in numbers["displacement"].items()},
            "facebook": _entry(numbers["facebook"]), "trust_alpha": alpha,
            "outcomes": {k: v.label for k, v in params.gss.panel_models.outcomes.items()}}


def infrastructure_context(reports: Path, params: Params) -> dict | None:
    """County social infrastructure (stage ``infrastructure_places``): per exposure the association with isolation
    and lack of support, the mediation rows, prevalence by rurality and segregation. Labels from
    ``places.infrastructure``."""
    if not (reports / "metrics" / "places_infrastructure_models.csv").exists():
        return None
    numbers = infrastructure_numbers(reports)
    block = params.places.infrastructure
    assoc = numbers["associations"]
    mediators = list(block.mediators)
    clear = {m: [e for e, by in assoc.items() if m in by and (by[m]["ci_low"] > 0 or by[m]["ci_high"] < 0)]
             for m in mediators}
    mediation = [r for r in numbers["mediation"]
                 if r["indirect_ci_low"] > 0 or r["indirect_ci_high"] < 0]
    return {**numbers, "labels": {k: v.label for k, v in block.exposures.items()},
            "mediator_labels": {k: v.label for k, v in block.mediators.items()}, "clear_by": clear,
            "mediation_clear": mediation, "mediators": mediators}


def specification_context(reports: Path) -> dict | None:
    """The NHANES specification curve (stage ``specifications_nhanes``): its summary and joint test, with p-values
    of 0 stated as below 1/draws (the bootstrap cannot resolve smaller)."""
    path = reports / "metrics" / "nhanes_specification_curve.json"
    if not path.exists():
        return None
    numbers = specifications.paper_numbers(path)
    floor = 1 / numbers["bootstrap_draws"]
    p_text = {k: (f"p < {floor:.4f}" if numbers[k] < floor else f"p = {numbers[k]:.3f}")
              for k in ("p_median", "p_significant", "p_stouffer")}
    return {**numbers, "p_text": p_text, "top_choice_words": numbers["top_choice"].replace("_", " ")}
