"""Tables for readers: Table 1 (characteristics by group) and the regression tables.

Every table is built by a pure function that returns a DataFrame; the ``write_*`` functions only
render and save it.  ``write_table`` renders one frame four ways (CSV for machines, Markdown for
the manuscript, a standalone HTML page, booktabs LaTeX) through the atomic writers of
``analysis.core.io``, so no number in ``reports/`` is typed by hand.

Survey convention (e.g. NCHS analytic guidelines for NHANES): counts are **unweighted** (how many
participants the estimate rests on), percentages and means are **weighted** (what they estimate for
the population).  The footnote saying so travels with the table in ``frame.attrs["footnote"]``.
Labels, types and study conventions are passed in by the study: nothing here knows a study.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.core import io

OVERALL = "Overall"
MEAN_SD = "mean (SD)"
N_PCT = "n (%)"

MEASURE_ABBREVIATION = {"HR": "HR", "OR": "OR", "Mean difference": "MD"}

PH_MARK = "\u2020"  # dagger
NONCONVERGED_MARK = "\u2021"  # double dagger


class TableError(ValueError):
    """An input of a table lacks a column or holds a value the table cannot show."""


# ---------------------------------------------------------------------------------------------
# Number formatting


def format_count(n: float) -> str:
    """1234 -> '1,234'; missing -> ''."""
    if n is None or (isinstance(n, float) and math.isnan(n)) or pd.isna(n):
        return ""
    return f"{int(round(float(n))):,}"


def _fmt(x: float, decimals: int) -> str:
    if x is None or pd.isna(x):
        return "\u2013"
    return f"{x:,.{decimals}f}"


def format_interval(estimate: float, low: float, high: float, decimals: int = 2) -> str:
    """'1.45 (1.20-1.75)'; with a negative bound the separator is ' to ' so signs stay readable."""
    if any(pd.isna(v) for v in (estimate, low, high)):
        return _fmt(estimate, decimals) if not pd.isna(estimate) else "\u2013"
    sep = " to " if min(low, high) < 0 else "-"
    return f"{estimate:.{decimals}f} ({low:.{decimals}f}{sep}{high:.{decimals}f})"


# ---------------------------------------------------------------------------------------------
# Table 1


def weighted_mean_sd(values: pd.Series, weights: pd.Series | None = None) -> tuple[float, float]:
    """Survey-weighted mean and SD of the non-missing values.

    mean = sum(w x) / sum(w);  var = sum(w (x - mean)^2) / sum(w) * n / (n - 1), the estimator of
    R ``survey::svyvar`` (n = number of non-missing values).  Unweighted when ``weights`` is None.
    """
    x = pd.to_numeric(values, errors="coerce").astype("float64")
    w = pd.Series(1.0, index=x.index) if weights is None else weights.astype("float64")
    keep = x.notna() & w.notna()
    x, w = x[keep].to_numpy(), w[keep].to_numpy()
    n = len(x)
    if n == 0 or w.sum() <= 0:
        return float("nan"), float("nan")
    mean = float(np.sum(w * x) / np.sum(w))
    if n < 2:
        return mean, float("nan")
    var = float(np.sum(w * (x - mean) ** 2) / np.sum(w)) * n / (n - 1)
    return mean, math.sqrt(var)


def _kind(table: pd.DataFrame, var: str, dtypes: Mapping[str, str]) -> str:
    """'continuous', 'binary' or 'categorical': from the contract's dtype, else from the column's dtype."""
    declared = dtypes.get(var)
    if declared in ("int", "float"):
        return "continuous"
    if declared == "binary":
        return "binary"
    if declared in ("category", "string"):
        return "categorical"
    col = table[var]
    if isinstance(col.dtype, pd.CategoricalDtype) or col.dtype == object or pd.api.types.is_string_dtype(col):
        return "categorical"
    if pd.api.types.is_bool_dtype(col) or set(col.dropna().unique()) <= {0, 1}:
        return "binary"
    return "continuous"


def _levels(col: pd.Series) -> list:
    if isinstance(col.dtype, pd.CategoricalDtype):
        return list(col.cat.categories)
    return sorted(col.dropna().unique().tolist(), key=str)


def table1(
    table: pd.DataFrame,
    by: str,
    variables: Sequence[str],
    weight: str | None = None,
    decimals: Mapping[str, int] | None = None,
    overall: bool = True,
    *,
    labels: Mapping[str, str] | None = None,
    dtypes: Mapping[str, str] | None = None,
    convention: str | None = None,
    variable_weights: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Participant characteristics by ``by`` (e.g. the isolation category), long and tidy.

    ``variable_weights`` (variable -> weight column) weights those variables' rows with their own weight
    instead of ``weight``: a measure taken in a subsample (NHANES: the examination centre) takes that
    subsample's weight. A missing value of such a weight counts as 0 (the row is outside the subsample).

    ``labels`` and ``dtypes`` (variable name -> label / contract dtype) come from the study's table
    contract; ``decimals`` sets the decimals of a continuous variable's mean and SD (default 1);
    ``convention`` names the weighting convention in the footnote (e.g. "NHANES convention").

    One row per variable x level x group.  Columns:

    - ``variable``, ``label`` (from ``labels``), ``level`` ("" for a continuous
      variable, "Yes" for a 0/1 variable, the category otherwise, "Missing" for the missing count),
      ``group`` (a level of ``by``, then "Overall"), ``statistic_type`` ("mean (SD)" or "n (%)");
    - ``statistic``: the text a reader sees, "62.3 (11.2)" or "1,234 (45.6%)";
    - ``n``: unweighted number of participants in the group with a non-missing value (the
      denominator); ``value``: the number before the parentheses (weighted mean, or the
      unweighted count in the level); ``sd_or_pct``: the number inside (weighted SD, or weighted
      percentage of the non-missing).

    The first row ("N") gives each group's unweighted size and weighted share of the population.
    Rows with a missing ``by`` are left out (their number is in the footnote); "Overall" is the sum
    of the groups shown.  The footnote is in ``result.attrs["footnote"]``.
    """
    variables = list(variables)
    labels, dtypes = dict(labels or {}), dict(dtypes or {})
    variable_weights = {v: w for v, w in (variable_weights or {}).items() if v in variables}
    needed = [by, *variables] + ([weight] if weight else []) + list(variable_weights.values())
    absent = [c for c in needed if c not in table.columns]
    if absent:
        raise TableError(f"table1: the analysis table has no column {absent[0]!r} "
                         f"(asked for {', '.join(absent)}); pass variables= present in the table")
    decimals = dict(decimals or {})

    data = table[table[by].notna()]
    dropped = len(table) - len(data)
    if weight:
        bad = data[weight].isna() | (data[weight] < 0)
        if bad.any():
            raise TableError(f"table1: column {weight!r} has {int(bad.sum())} missing or negative weights "
                             f"(first at row {data.index[bad.to_numpy()][0]!r}); drop those rows or pass weight=None")
        w_all = data[weight].astype("float64")
    else:
        w_all = pd.Series(1.0, index=data.index)
    own_weights = {}
    for var, column in variable_weights.items():
        values = pd.to_numeric(data[column], errors="coerce").fillna(0.0)
        if (values < 0).any():
            raise TableError(f"table1: column {column!r} (the weight of {var!r}) has negative weights "
                             f"(first at row {data.index[(values < 0).to_numpy()][0]!r})")
        own_weights[var] = values.astype("float64")

    groups: list[tuple[str, pd.Index]] = [
        (str(level), data.index[(data[by] == level).to_numpy()]) for level in _levels(data[by])
    ]
    if overall:
        groups.append((OVERALL, data.index))
    total_w = w_all.sum()

    rows: list[dict] = []

    def add(variable, label, level, group, kind, n, value, second, text):
        rows.append({"variable": variable, "label": label, "level": level, "group": group,
                     "statistic_type": kind, "statistic": text, "n": n, "value": value,
                     "sd_or_pct": second})

    for group, idx in groups:
        pct = 100 * w_all[idx].sum() / total_w if total_w > 0 else float("nan")
        add("N", "Participants", "", group, N_PCT, len(idx), len(idx), pct,
            f"{format_count(len(idx))} ({_fmt(pct, 1)}%)")

    for var in variables:
        kind = _kind(data, var, dtypes)
        label = labels.get(var, var)
        col = data[var]
        if kind == "continuous":
            col = pd.to_numeric(col, errors="coerce").astype("float64")
        any_missing = bool(col.isna().any())
        var_w = own_weights.get(var, w_all)
        for group, idx in groups:
            x, w = col[idx], var_w[idx]
            present = x.notna()
            n = int(present.sum())
            if kind == "continuous":
                d = decimals.get(var, 1)
                mean, sd = weighted_mean_sd(x, w)
                add(var, label, "", group, MEAN_SD, n, mean, sd, f"{_fmt(mean, d)} ({_fmt(sd, d)})")
            else:
                levels = [1] if kind == "binary" else _levels(data[var])
                w_present = w[present].sum()
                for level in levels:
                    in_level = present & (x == level).fillna(False).astype(bool)
                    count = int(in_level.sum())
                    pct = 100 * w[in_level].sum() / w_present if w_present > 0 else float("nan")
                    shown = "Yes" if kind == "binary" else str(level)
                    add(var, label, shown, group, N_PCT, n, count, pct,
                        f"{format_count(count)} ({_fmt(pct, 1)}%)")
            if any_missing:
                missing = int((~present).sum())
                add(var, label, "Missing", group, "n", len(idx), missing, float("nan"), format_count(missing))

    out = pd.DataFrame(rows)
    out["n"] = out["n"].astype("int64")
    by_label = labels.get(by, by.replace("_", " ").capitalize())
    notes = [
        f"Columns: {by_label}. Counts (n) are unweighted; percentages, means and SDs are survey-weighted "
        f"({'column ' + weight if weight else 'unweighted'}{'; ' + convention if convention else ''}). "
        "Percentages are of "
        "participants with a non-missing value; SD as in R survey::svyvar.",
    ]
    by_weight: dict[str, list[str]] = {}
    for var, column in variable_weights.items():
        by_weight.setdefault(column, []).append(labels.get(var, var))
    for column, names in by_weight.items():
        notes.append(f"{'; '.join(names)}: weighted with column {column} (the weight of the subsample measured).")
    if dropped:
        notes.append(f"{format_count(dropped)} participants with missing {by_label.lower()} are not shown.")
    out.attrs["footnote"] = " ".join(notes)
    out.attrs["caption"] = f"Characteristics of participants by {by_label.lower()}"
    return out


def table1_wide(long: pd.DataFrame) -> pd.DataFrame:
    """Table 1 for readers: one row per characteristic/level, one column per group.

    ``long`` is the output of :func:`table1`; the characteristic's label carries its statistic
    ("Age at screening (years), mean (SD)") on the first of its rows.
    """
    groups = list(dict.fromkeys(long["group"]))
    keys = list(dict.fromkeys(zip(long["variable"], long["level"])))
    cell = long.set_index(["variable", "level", "group"])["statistic"]
    first = long.drop_duplicates(["variable", "level"]).set_index(["variable", "level"])
    rows = []
    seen: set[str] = set()
    for var, level in keys:
        meta = first.loc[(var, level)]
        if var in seen:
            characteristic = ""
        elif var == "N":
            characteristic = "Participants, n (weighted %)"
        else:
            characteristic = f"{meta['label']}, {meta['statistic_type']}"
        seen.add(var)
        row = {"Characteristic": characteristic, "Level": level}
        for g in groups:
            row[g] = cell.get((var, level, g), "")
        rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs.update(long.attrs)
    return out


# ---------------------------------------------------------------------------------------------
# Regression tables

RECORD_COLUMNS = ("outcome", "outcome_label", "exposure", "exposure_label", "term", "term_label",
                  "estimate", "ci_low", "ci_high", "ratio", "ratio_ci_low", "ratio_ci_high",
                  "measure", "n", "events", "design", "covariate_set")


def format_estimate(record: Mapping, decimals: int = 2) -> str:
    """'HR 1.45 (1.20-1.75)' for ratios; 'MD 0.52 (0.10-0.94)' for a linear model's mean difference."""
    measure = record["measure"]
    abbr = MEASURE_ABBREVIATION.get(measure, measure)
    if measure in ("HR", "OR"):
        text = format_interval(record["ratio"], record["ratio_ci_low"], record["ratio_ci_high"], decimals)
    else:
        text = format_interval(record["estimate"], record["ci_low"], record["ci_high"], decimals)
    return f"{abbr} {text}"


def _count_cell(values: pd.Series) -> str:
    distinct = list(dict.fromkeys(v for v in values if not pd.isna(v)))
    return " / ".join(format_count(v) for v in distinct)


def covariate_set_header(position: int, name: str, labels: Mapping[str, str] | None = None) -> str:
    """'Model 1 (age, sex)': the k-th nested covariate set with a short description."""
    described = (labels or {}).get(name, name)
    return f"Model {position} ({described})"


def regression_table(
    records: pd.DataFrame,
    design: str | None = "design-based",
    ph_tests: pd.DataFrame | None = None,
    covariate_sets: Mapping[str, str] | None = None,
    covariate_set_labels: Mapping[str, str] | None = None,
    decimals: int = 2,
) -> pd.DataFrame:
    """The models of one design as readers expect them: nested models side by side.

    Rows are outcome x exposure x term (in the order of ``records``); columns are Outcome,
    Exposure, Term, N, Events and one column per covariate set (in the order of ``records``:
    the nested sets of params.yaml), each cell "HR 1.45 (1.20-1.75)".  N and Events are the
    unweighted numbers of the fit; when the nested models differ they are listed per model,
    separated by " / ".  ``ph_tests`` (columns outcome, exposure, covariate_set, term, flagged)
    marks flagged hazard ratios with a dagger; fits that did not converge get a double dagger.
    ``covariate_sets`` (params ``models.covariate_sets``: name -> formula) adds the formulas to
    the footnote.  ``design=None`` keeps every design and adds a Design column.
    """
    absent = [c for c in RECORD_COLUMNS if c not in records.columns]
    if absent:
        raise TableError(f"regression_table: the model records have no column {absent[0]!r}")
    recs = records if design is None else records[records["design"] == design]
    if recs.empty:
        found = ", ".join(map(str, records["design"].unique()))
        raise TableError(f"regression_table: no records with design {design!r} (found: {found})")
    recs = recs.reset_index(drop=True)

    flagged: set[tuple] = set()
    if ph_tests is not None and not ph_tests.empty:
        key = ["outcome", "exposure", "covariate_set", "term"]
        hit = ph_tests[ph_tests["flagged"].fillna(False).astype(bool)]
        flagged = set(map(tuple, hit[key].astype(str).to_numpy()))

    sets = list(dict.fromkeys(recs["covariate_set"]))
    headers = {s: covariate_set_header(i + 1, s, covariate_set_labels) for i, s in enumerate(sets)}
    row_key = (["design"] if design is None else []) + ["outcome", "exposure", "term"]
    used_ph = used_nc = False
    rows = []
    for _key, part in recs.groupby(row_key, sort=False):
        first = part.iloc[0]
        row = {}
        if design is None:
            row["Design"] = first["design"]
        row.update({
            "Outcome": first["outcome_label"],
            "Exposure": first["exposure_label"],
            "Term": first["term_label"] if not pd.isna(first["term_label"]) else first["term"],
            "N": _count_cell(part["n"]),
            "Events": _count_cell(part["events"]),
        })
        for s in sets:
            match = part[part["covariate_set"] == s]
            if match.empty:
                row[headers[s]] = ""
                continue
            rec = match.iloc[0]
            text = format_estimate(rec, decimals)
            if (str(rec["outcome"]), str(rec["exposure"]), str(s), str(rec["term"])) in flagged:
                text += PH_MARK
                used_ph = True
            if "converged" in rec.index and not pd.isna(rec["converged"]) and not bool(rec["converged"]):
                text += NONCONVERGED_MARK
                used_nc = True
            row[headers[s]] = text
        rows.append(row)
    out = pd.DataFrame(rows)

    measures = ", ".join(
        f"{MEASURE_ABBREVIATION.get(m, m)}: {'hazard ratio' if m == 'HR' else 'odds ratio' if m == 'OR' else m.lower()}"
        for m in dict.fromkeys(recs["measure"])
    )
    designs = ", ".join(dict.fromkeys(recs["design"]))
    notes = [f"{measures}; 95% confidence intervals in parentheses. Design: {designs}. "
             "N and Events are unweighted counts of the fitted sample."]
    if len(sets) > 1:
        one_sample = all(part["n"].nunique(dropna=False) == 1 for _, part in recs.groupby(row_key, sort=False))
        notes.append("The models of each row are fitted on one sample (the complete cases of every covariate set), "
                     "so the columns differ in adjustment only." if one_sample else
                     "Each model is fitted on its own complete cases: where N differs between columns, the change "
                     "mixes adjustment with the selection of the sample.")
    if covariate_sets:
        notes.append("Adjustment: " + "; ".join(
            f"{headers.get(s, s)}: {' '.join(str(covariate_sets[s]).split())}"
            for s in sets if s in covariate_sets) + ".")
    if used_ph:
        notes.append(f"{PH_MARK} Proportional-hazards assumption flagged by the Schoenfeld-residual test.")
    if used_nc:
        notes.append(f"{NONCONVERGED_MARK} The model did not converge; interpret with caution.")
    out.attrs["footnote"] = " ".join(notes)
    out.attrs["caption"] = f"Associations of social isolation with outcomes ({designs} models)"
    return out


def regression_tables(records: pd.DataFrame, **kwargs) -> dict[str, pd.DataFrame]:
    """One :func:`regression_table` per design in ``records`` (design-based, multilevel, ...)."""
    return {d: regression_table(records, design=d, **kwargs) for d in dict.fromkeys(records["design"])}


# ---------------------------------------------------------------------------------------------
# Rendering


def _display_value(x) -> str:
    if x is None or (not isinstance(x, str) and pd.isna(x)):
        return ""
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x))
    if isinstance(x, (int, np.integer)):
        return f"{int(x):,}"
    if isinstance(x, (float, np.floating)):
        if float(x).is_integer() and abs(x) < 1e15:
            return f"{int(x):,}"
        return f"{x:,.2f}" if abs(x) >= 1 else f"{x:.3g}"
    return str(x)


def display_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Every cell as the text a reader sees: counts with thousands separators, missing blank."""
    out = frame.copy()
    out.columns = [str(c) for c in out.columns]
    for col in out.columns:
        out[col] = [_display_value(v) for v in out[col].astype("object")]
    return out.reset_index(drop=True)


def to_markdown(frame: pd.DataFrame, caption: str | None = None, footnote: str | None = None) -> str:
    """Pipe-format Markdown (tabulate), with the caption above and the footnote below."""
    shown = display_frame(frame)
    shown = shown.map(lambda s: s.replace("|", "\\|"))
    shown.columns = [c.replace("|", "\\|") for c in shown.columns]
    body = shown.to_markdown(index=False, tablefmt="pipe", disable_numparse=True)
    parts = [f"**{caption}**", "", body] if caption else [body]
    if footnote:
        parts += ["", footnote]
    return "\n".join(parts) + "\n"


_HTML_STYLE = """
body { font-family: "Helvetica Neue", Arial, sans-serif; font-size: 14px; color: #222; margin: 2em; }
table { border-collapse: collapse; }
caption { caption-side: top; text-align: left; font-weight: bold; padding-bottom: 0.5em; }
th, td { padding: 0.25em 0.8em; text-align: left; vertical-align: top; }
thead th { border-top: 2px solid #222; border-bottom: 1px solid #222; }
tbody tr:last-child td { border-bottom: 2px solid #222; }
tbody tr:nth-child(even) { background: #f5f5f5; }
p.footnote { font-size: 12px; color: #444; max-width: 60em; }
""".strip()


def to_html(frame: pd.DataFrame, caption: str | None = None, footnote: str | None = None) -> str:
    """A standalone HTML page (no external resources): the table with its caption and footnote."""
    shown = display_frame(frame)
    table_html = shown.to_html(index=False, border=0, escape=True, na_rep="")
    if caption:
        # insert the caption right after the opening <table ...> tag
        table_html = table_html.replace(">", f">\n  <caption>{html.escape(caption)}</caption>", 1)
    title = html.escape(caption or "Table")
    note = f'\n<p class="footnote">{html.escape(footnote)}</p>' if footnote else ""
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{title}</title>\n'
            f"<style>\n{_HTML_STYLE}\n</style>\n</head>\n<body>\n{table_html}{note}\n</body>\n</html>\n")


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                  "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                  PH_MARK: r"\textsuperscript{\dag}", NONCONVERGED_MARK: r"\textsuperscript{\ddag}",
                  "\u2013": "--", "\u2265": r"$\geq$", "\u2264": r"$\leq$"}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))


def to_latex(frame: pd.DataFrame, caption: str | None = None, footnote: str | None = None,
             label: str | None = None) -> str:
    """A booktabs table (\\toprule, \\midrule, \\bottomrule) with caption, label and footnote."""
    shown = display_frame(frame).map(latex_escape)
    shown.columns = [latex_escape(c) for c in shown.columns]
    styler = shown.style.hide(axis="index")
    tex = styler.to_latex(
        hrules=True,
        caption=latex_escape(caption) if caption else None,
        label=label,
        position_float="centering",
        column_format="l" * shown.shape[1],
    )
    if footnote:
        tex = tex.replace("\\end{table}",
                          f"\\par\\smallskip\n{{\\footnotesize {latex_escape(footnote)}\\par}}\n\\end{{table}}")
    return tex


def write_table(frame: pd.DataFrame, dest_stem: str | Path, caption: str | None = None,
                footnote: str | None = None) -> list[Path]:
    """Write ``frame`` as ``<stem>.csv``, ``.md``, ``.html``, ``.tex`` and ``.json``; return the paths.

    The ``.json`` is the structured table (:func:`table_spec`) from which the paper's HTML and PDF
    tables are both rendered (:func:`render_table`).  All are rendered in memory first, then written
    atomically, so a rendering error leaves no file behind.  ``caption``/``footnote`` default to
    ``frame.attrs``.
    """
    stem = Path(dest_stem)
    caption = caption if caption is not None else frame.attrs.get("caption")
    footnote = footnote if footnote is not None else frame.attrs.get("footnote")
    rendered = {
        ".md": to_markdown(frame, caption, footnote),
        ".html": to_html(frame, caption, footnote),
        ".tex": to_latex(frame, caption, footnote, label=f"tab:{stem.name}"),
        ".json": json.dumps(table_spec(frame, caption, footnote), indent=1, ensure_ascii=False) + "\n",
    }
    written = [io.write_csv(stem.with_suffix(".csv"), frame)]
    for suffix, text in rendered.items():
        written.append(io.write_text(stem.with_suffix(suffix), text))
    return written


def write_table1(table: pd.DataFrame, dest_dir: str | Path, **kwargs) -> list[Path]:
    """Table 1: ``table1_long.csv`` (tidy, for the manuscript's numbers) and ``table1.{csv,md,html,tex}``."""
    dest_dir = Path(dest_dir)
    long = table1(table, **kwargs)
    written = [io.write_csv(dest_dir / "table1_long.csv", long)]
    written += write_table(table1_wide(long), dest_dir / "table1")
    return written


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in str(text).lower()).strip("_")


def write_regression_tables(records: pd.DataFrame, dest_dir: str | Path, **kwargs) -> list[Path]:
    """One ``regression_<design>.{csv,md,html,tex}`` per design (e.g. regression_design_based)."""
    dest_dir = Path(dest_dir)
    written = []
    for design, frame in regression_tables(records, **kwargs).items():
        written += write_table(frame, dest_dir / f"regression_{_slug(design)}")
    return written


# ---------------------------------------------------------------------------------------------
# One table object for the paper: a JSON spec, rendered to HTML and to Typst (PDF)

#: A cell a reader reads as a number: an optional measure ("HR", "diff."), a sign or bound, digits with separators and
#: decimals, an optional percent, an optional parenthesised interval or percentage, optional marks.
_NUMBER_CELL = re.compile(r"^(?:[A-Za-z.]{1,6} )?[<>\u2264\u2265]?[-\u2212]?\d[\d,]*(?:\.\d+)?%?"
                          r"(?: \([^()]*\))? ?[\u2020\u2021*]*$")
_DECIMAL_SPLIT = re.compile(r"^(.*?\d)(\.\d.*)$")
_EMPTY_CELLS = {"", "\u2013", "-", "\u2014"}


def _is_decimal_column(cells: Sequence[str]) -> bool:
    shown = [c for c in cells if c.strip() not in _EMPTY_CELLS]
    return bool(shown) and all(_NUMBER_CELL.match(c.strip()) for c in shown)


def table_spec(frame: pd.DataFrame, caption: str | None = None, footnote: str | None = None) -> dict:
    """The structured table: caption, notes, columns (name, ``align`` "decimal" or "left") and rows of the cells'
    text as readers see it (:func:`display_frame`). A column whose every cell is a number, or a number with its
    interval (``HR 1.27 (1.14-1.42)``), is aligned on the decimal point."""
    shown = display_frame(frame)
    rows = shown.to_numpy(dtype=object).tolist()
    columns = [{"name": name, "align": "decimal" if _is_decimal_column(shown[name].tolist()) else "left"}
               for name in shown.columns]
    return {"caption": caption, "notes": footnote, "columns": columns, "rows": rows}


_FORMULA_TERM = re.compile(r"\bC\(([A-Za-z_][A-Za-z0-9_]*)\)")
_IDENTIFIER = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")


def relabel(text: str | None, labels: Mapping[str, str]) -> str | None:
    """Internal names in ``text`` replaced by their labels: a formula term ``C(sex)`` by the label of ``sex``, a
    snake_case name by its label; a name without a label is left as it is (the typesetting check reports it)."""
    if not text or not labels:
        return text
    text = _FORMULA_TERM.sub(lambda m: labels.get(m.group(1), m.group(1)), text)
    return _IDENTIFIER.sub(lambda m: labels.get(m.group(0), m.group(0)), text)


def decimal_parts(cell: str) -> tuple[str, str]:
    """'HR 1.27 (1.14-1.42)' -> ('HR 1', '.27 (1.14-1.42)'); a cell without a decimal point is all integer part,
    so it ends where the column's decimal points are."""
    hit = _DECIMAL_SPLIT.match(cell)
    return (hit.group(1), hit.group(2)) if hit else (cell, "")


def _typst_str(text: str) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


#: A name a reader is meant to look up, set as code: a file ("nhanes_subgroups.csv"), a params key
#: ("gss.panel_models.ballots"), or a cell that is one identifier (a model parameter such as "b_xy").
_CODE = re.compile(r"\b[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+\b")
_CODE_EXTENSIONS = (".csv", ".yaml", ".json", ".html", ".md", ".py")


def code_spans(text: str) -> list[tuple[str, bool]]:
    """``text`` as (segment, is_code) pieces: dotted names with an underscore or a file extension are code, and so
    is a whole cell that is one snake_case identifier."""
    if _IDENTIFIER.fullmatch(text.strip()):
        return [(text, True)]
    pieces, at = [], 0
    for m in _CODE.finditer(text):
        name = m.group(0)
        if "_" in name or name.endswith(_CODE_EXTENSIONS):
            pieces += [(text[at:m.start()], False), (name, True)]
            at = m.end()
    pieces.append((text[at:], False))
    return [(t, c) for t, c in pieces if t]


def typst_text(text: str) -> str:
    """Typst content for ``text``: plain strings, with code names as ``raw``."""
    pieces = code_spans(str(text))
    if all(not c for _, c in pieces):
        return _typst_str(text)
    return "[" + "".join(f"#raw({_typst_str(t)})" if c else f"#{_typst_str(t)}" for t, c in pieces) + "]"


def html_text(text: str) -> str:
    return "".join(f"<code>{html.escape(t)}</code>" if c else html.escape(t) for t, c in code_spans(str(text)))


#: Advance widths (ems) of Libertinus Serif, Typst's default text font, by kind of character, read from the
#: glyph positions of a Typst PDF (pdfplumber): figures 0.47 (tabular), lower case about 0.46 (i, l, t, f, r
#: about 0.3; m, w 0.75), capitals about 0.66, the space 0.25, punctuation about 0.3. Bold adds about 5%.
#: The layout's widths are estimates from these; the typesetting check verifies the result.
_NARROW = set("ijlftr.,;:!'()[]-/| ")
_WIDE = set("mwMW%–—")


def text_em(text: str, bold: bool = False) -> float:
    """The width of ``text`` in ems of Libertinus Serif (an estimate, see above)."""
    total = 0.0
    for ch in str(text):
        if ch == " ":
            total += 0.25
        elif ch in _WIDE:
            total += 0.8
        elif ch in _NARROW:
            total += 0.3
        elif ch.isdigit():
            total += 0.47
        elif ch.isupper():
            total += 0.66
        else:
            total += 0.47
    return total * (1.06 if bold else 1.0)


CELL_INSET = 4.0  # pt, left and right of each cell
LANDSCAPE_GAIN_PT = (29.7 - 21.0) * 72 / 2.54  # A4: a turned page's text block is this much wider
KEEP_TOGETHER_PT = 400.0  # a table estimated shorter than this is never split from its caption or across pages


def _longest_word(texts: Sequence[str], bold: bool = False) -> float:
    """The width (ems) of the widest word of ``texts``."""
    return max((text_em(w, bold) for t in texts for w in str(t).split()), default=0.5)


def column_widths(spec: dict, size: float, available: float, wrap: int = 0) -> tuple[list[float], float]:
    """Explicit widths (pt) of the physical columns (a decimal column is two: integer part, then the rest) and
    the least width the table needs at ``size`` (pt). A decimal column is as wide as its widest integer part
    plus its widest remainder (never wrapped), or its heading's widest word; a text column at least its widest
    word (so no word is broken), the space left shared among text columns in proportion to their text (up to
    40 ems). With ``wrap`` 1 a decimal cell may break before its interval, "1.27" over "(1.14-1.42)", the
    second line starting at the decimal point, with 2 at any space ("(-0.02 to" over "0.01)"): the last resorts
    of a table too wide for a landscape page."""
    slack = 1.5  # pt per cell, for the estimate's error
    widths: list[float | None] = []
    mins: dict[int, float] = {}
    naturals: dict[int, float] = {}
    for j, col in enumerate(spec["columns"]):
        cells = ["" if r[j] is None else str(r[j]) for r in spec["rows"]]
        heading = _longest_word([col["name"]], bold=True) * size + 2 * CELL_INSET + slack
        if col["align"] == "decimal":
            parts = [decimal_parts(c) for c in cells]
            split = {0: lambda t: [t], 1: lambda t: t.split(" (", 1), 2: str.split}[wrap]
            left = max((text_em(p[0]) for p in parts), default=0.5) * size + CELL_INSET + slack
            right = max((text_em(piece) for p in parts for piece in split(p[1])), default=0) * size \
                + CELL_INSET + slack
            if left + right < heading:
                left += heading - left - right
            widths += [left, right]
            continue
        mins[len(widths)] = max(_longest_word(cells) * size + 2 * CELL_INSET + slack, heading)
        naturals[len(widths)] = min(max((text_em(c) for c in [*cells, col["name"]]), default=1), 40) * size
        widths.append(None)
    needed = sum(w for w in widths if w is not None) + sum(mins.values())
    rest = max(available - needed, 0.0)
    total = sum(naturals.values()) or 1.0
    out = [w if w is not None else mins[i] + rest * naturals[i] / total for i, w in enumerate(widths)]
    return out, needed


def estimated_height(spec: dict, widths: Sequence[float], size: float) -> float:
    """About how tall (pt) the table sets at ``size`` in the physical column ``widths``: each row as many lines as
    its most wrapped cell needs, plus the heading and the notes."""
    text_widths, k = [], 0
    for col in spec["columns"]:
        text_widths.append(widths[k] + (widths[k + 1] if col["align"] == "decimal" else 0))
        k += 2 if col["align"] == "decimal" else 1
    lines = 2 + math.ceil(text_em(spec.get("notes") or "") * size / max(sum(widths), 1.0))
    for row in spec["rows"]:
        lines += max((math.ceil(text_em(str(v or "")) * size / max(w - 2 * CELL_INSET, size)) or 1
                      for v, w in zip(row, text_widths)), default=1)
    return lines * size * 1.25 + 4 * len(spec["rows"])


def to_typst(spec: dict, label: str, text_width_pt: float) -> str:
    """The table as Typst: a figure with the caption above, a booktabs-style table with explicit column widths
    (text columns never narrower than their longest word, decimal columns split at the decimal point and set in
    tabular figures), no hyphenation, and the notes below in normal weight. The type shrinks from 8 pt to 7 pt,
    then the page turns landscape, when the columns need it."""
    flipped = False
    for size in (8.0, 7.5, 7.0):
        widths, needed = column_widths(spec, size, text_width_pt)
        if needed <= text_width_pt:
            break
    else:  # landscape: the text block is as wide as the A4 page is long, less the same margins
        flipped = True
        wide = text_width_pt + (LANDSCAPE_GAIN_PT if text_width_pt else 0)
        widths, needed = column_widths(spec, size, wide)
        for wrap in (1, 2):
            if needed > wide:
                widths, needed = column_widths(spec, size, wide, wrap=wrap)
    aligns, insets, header = [], [], []
    for col in spec["columns"]:
        name = _typst_str(col["name"])
        if col["align"] == "decimal":
            aligns += ["right", "left"]
            insets += [f"(left: {CELL_INSET}pt, right: 0pt, y: 2pt)", f"(left: 0pt, right: {CELL_INSET}pt, y: 2pt)"]
            header.append(f"table.cell(colspan: 2, align: right + bottom, strong({name}))")
        else:
            aligns.append("left")
            insets.append(f"(x: {CELL_INSET}pt, y: 2pt)")
            header.append(f"table.cell(align: left + bottom, strong({name}))")
    body = []
    for row in spec["rows"]:
        cells = []
        for col, value in zip(spec["columns"], row):
            value = "" if value is None else str(value)
            if col["align"] == "decimal":
                left, right = decimal_parts(value)
                cells += [_typst_str(left), _typst_str(right)]
            else:
                cells.append(typst_text(value))
        body.append("  " + ", ".join(cells) + ",")
    notes = spec.get("notes")
    note_block = (f"\n#block(width: 100%, above: 0.6em)[#set text(size: {size}pt); #set par(justify: false); "
                  f"#{typst_text(notes)}]") if notes else ""
    caption = _typst_str(spec.get("caption") or "")
    table = (
        f"#figure(kind: table, supplement: none, numbering: none,\n"
        f" caption: figure.caption(position: top, {caption}),\n"
        f"[#set text(size: {size}pt, hyphenate: false, number-width: \"tabular\")\n#set align(left)\n"
        f"#set par(justify: false)\n"
        f"#table(columns: ({', '.join(f'{w:.1f}pt' for w in widths)},),\n"
        f" align: (x, y) => ({', '.join(aligns)},).at(x) + top,\n"
        f" inset: (x, y) => ({', '.join(insets)},).at(x),\n"
        f" stroke: none,\n"
        f" table.hline(stroke: 0.8pt),\n"
        f" table.header({', '.join(header)}, table.hline(stroke: 0.5pt)),\n"
        + "\n".join(body) + "\n"
        f" table.hline(stroke: 0.8pt))"
        f"{note_block}]) <{label}>"
    )
    if estimated_height(spec, widths, size) <= KEEP_TOGETHER_PT:
        table = f"#block(breakable: false)[{table}]"
    else:  # a long table breaks between rows, but its caption keeps its heading and first rows: "need space"
        need = f"{12 * size * 1.3:.0f}pt"
        table = f"#block(breakable: false, height: {need}, width: 100%)[]\n#v(-{need})\n{table}"
    return f"#page(flipped: true)[{table}]" if flipped else table


def to_html_fragment(spec: dict, label: str, csv_href: str | None = None) -> str:
    """The table as an HTML fragment for the paper: caption above, decimal columns split at the decimal point
    (two cells under one heading), notes below, and a link to the CSV."""
    esc = html.escape
    head, ncols = [], 0
    for col in spec["columns"]:
        if col["align"] == "decimal":
            head.append(f'<th colspan="2" class="num">{esc(col["name"])}</th>')
            ncols += 2
        else:
            head.append(f"<th>{esc(col['name'])}</th>")
            ncols += 1
    rows = []
    for row in spec["rows"]:
        cells = []
        for col, value in zip(spec["columns"], row):
            value = "" if value is None else str(value)
            if col["align"] == "decimal":
                left, right = decimal_parts(value)
                cells.append(f'<td class="int">{esc(left)}</td><td class="frac">{esc(right)}</td>')
            else:
                cells.append(f"<td>{html_text(value)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    notes = spec.get("notes")
    link = f' <a href="{esc(csv_href)}">Data (CSV)</a>' if csv_href else ""
    foot = f'<p class="table-notes">{html_text(notes) if notes else ""}{link}</p>' if notes or link else ""
    return (f'<figure class="paper-table" id="{esc(label)}">\n<table>\n'
            f'<caption>{esc(spec.get("caption") or "")}</caption>\n'
            f'<thead><tr>{"".join(head)}</tr></thead>\n<tbody>\n' + "\n".join(rows) +
            f"\n</tbody>\n</table>\n{foot}\n</figure>")


def render_table(tables_dir: Path, name: str, number: str, *, title: str | None = None,
                 labels: Mapping[str, str] | None = None, text_width_pt: float = 480.0,
                 label: str | None = None) -> str:
    """Markdown for the paper holding table ``name`` (its path stem under ``tables_dir``, e.g.
    "nhanes/regression_design_based") as a raw HTML block and a raw Typst block, which pandoc passes to the
    HTML and PDF writers respectively; captioned "<number>. <title>" (``title`` defaults to the table's own
    caption). ``labels`` (internal name -> label) replace internal names left in the cells, headings and notes.
    The HTML links the table's CSV, relative to the folder that holds ``tables_dir``. ``text_width_pt`` is the
    PDF's text width (A4 less 2 cm margins: 482 pt). ``label`` is the table's HTML id and Typst label (default
    "tbl-" and the number), so cross-references can reach it."""
    tables_dir = Path(tables_dir)
    path = tables_dir / f"{name}.json"
    if not path.exists():
        raise TableError(f"{path}: table not found; run the report stage that writes {name}")
    spec = json.loads(path.read_text(encoding="utf-8"))
    labels = dict(labels or {})
    caption = (title or spec.get("caption") or "").strip()
    spec = {
        "caption": (f"{number}. " if number else "") + (relabel(caption, labels) or "").rstrip(". ") + ".",
        "notes": relabel(spec.get("notes"), labels),
        "columns": [{**c, "name": relabel(c["name"], labels)} for c in spec["columns"]],
        "rows": [[relabel("" if v is None else str(v), labels) for v in row] for row in spec["rows"]],
    }
    label = label or "tbl-" + _slug(number or name)
    csv_href = f"{tables_dir.name}/{name}.csv"
    return (f"```{{=html}}\n{to_html_fragment(spec, label, csv_href)}\n```\n\n"
            f"```{{=typst}}\n{to_typst(spec, label, text_width_pt)}\n```\n")
