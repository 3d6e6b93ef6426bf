"""The NHANES mortality specification curve: every combination of ``nhanes.specification_curve``'s options.

Choices (params.yaml ``nhanes.specification_curve``; each option is named by its key there):

* **exposure**: an exposure column of the analysis table (the 4-item index and its categories, by level, the
  original 5-item index, the structural and functional scores), or an index built here from the items of
  ``nhanes.indices`` with other cut-offs, groups or missing rule (:func:`analysis.core.index.build_index`);
* **covariate_set**: a key of ``models.covariate_sets``;
* **design**: design-based (survey-weighted, Taylor-linearised), unweighted or multilevel (a baseline hazard
  per PSU within stratum), as the models stage (:mod:`analysis.studies.nhanes.models`);
* **clock**: follow-up months from the interview (``PERMTH_INT``) or from the exam (``PERMTH_EXM``), both read
  from the NCHS linked mortality files (2019 public-use LMF layout, source.py ``LMF_LAYOUT``; ELIGSTAT 1 only);
* **early_deaths**: follow-up starts 0 or more years after baseline (rows with less follow-up leave the domain);
* **missing**: complete cases, or multiple imputation of the covariates (the first
  ``specification_curve.imputations`` chains of ``nhanes.imputation``, Rubin's rules);
* **outcome**: a key of ``models.survival`` (all-cause or cardiovascular death).

Each specification is fitted on its own complete cases (not the models stage's common sample) with the weight
of its variables (the MEC weight when the model holds a MEC measure, schema.model_weight). The curve's estimate
is one log HR per specification: the contrast of a categorical exposure, or per point of a continuous one.

**Incremental.** Each fit is stored in ``specification_curve.cache_dir`` under the hash of its specification,
of the values of the columns it reads, and of the fitting code (:class:`analysis.estimators.specification_curve.
FitCache`); the completed tables of the imputations are stored by the hash of the imputation model's data and
settings. DVC decides whether the stage runs (its params, code or data changed); inside the run the cache decides
which fits are new. Adding an option fits only the new specifications; a rerun with nothing changed fits none.

The library parts (the fit, the curve's statistics, the variance shares, the joint test) are in
:mod:`analysis.estimators.specification_curve`; the figure in :mod:`analysis.report.specification_curve`.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import numpy as np
import pandas as pd

import analysis.estimators.cox_fast as cox_fast
import analysis.estimators.imputation as imputation_code
import analysis.estimators.specification_curve as curve_code
import analysis.estimators.survey as survey_code
from analysis.core import config, io
from analysis.core.index import build_index, group_index
from analysis.estimators.records import ModelSpec, records_frame
from analysis.estimators.runner import SharedCluster, run_chunks
from analysis.estimators.specification_curve import (
    CoxSpecification,
    FitCache,
    cached_fits,
    column_hashes,
    content_hash,
    curve_summary,
    fit_specifications,
    impute_chains,
    null_bootstrap,
    source_hash,
    variance_shares,
)
from analysis.report.figures import write_figure
from analysis.report.specification_curve import curve_figure
from analysis.studies.nhanes import source
from analysis.studies.nhanes.imputation import completed_table, imputation_frame
from analysis.studies.nhanes.schema import model_weight
from analysis.studies.nhanes.settings import STUDY as STUDY_KEY
from analysis.studies.nhanes.settings import NhanesSettings, SpecificationCurve, load

#: The choices, in the order of the specification table and the figure's panel.
CHOICES = ("exposure", "covariate_set", "design", "clock", "early_deaths", "missing", "outcome")
STRATUM, PSU, CLUSTER = "stratum", "psu", "cluster"
#: The code whose change invalidates every cached fit.
FIT_CODE = (cox_fast.__file__, curve_code.__file__, survey_code.__file__, imputation_code.__file__)


def clock_column(clock: str) -> str:
    """Column of the follow-up months on ``clock`` (PERMTH_INT / PERMTH_EXM) in the curve's table."""
    return f"followup_{clock.lower()}"


def exposure_column(name: str) -> str:
    return f"curve_{name}"


def early_name(years: float) -> str:
    return f"exclude_{years:g}y".replace(".", "_")


def read_clocks(raw_dir: Path, nh: NhanesSettings) -> pd.DataFrame:
    """SEQN and PERMTH_INT / PERMTH_EXM of every linked mortality file of ``nh.cycles`` (NCHS 2019 public-use
    LMF: person-months of follow-up from the interview and from the MEC exam; only ELIGSTAT = 1, eligible for
    linkage, keeps its months, as clean.py does for the main clock)."""
    frames = []
    for cycle in nh.cycles:
        lmf = source.read_lmf(source.lmf_path(raw_dir, cycle))
        eligible = lmf["ELIGSTAT"] == 1
        frames.append(pd.DataFrame({"seqn": lmf["SEQN"],
                                    **{clock_column(c): lmf[c].where(eligible) for c in ("PERMTH_INT", "PERMTH_EXM")}}))
    return pd.concat(frames, ignore_index=True)


def curve_table(table: pd.DataFrame, clocks: pd.DataFrame, curve: SpecificationCurve,
                weights: tuple[str, str]) -> pd.DataFrame:
    """The analysis table with the curve's columns: each clock's follow-up months (by ``seqn``; the table's
    ``followup_months`` is the one of ``nhanes.followup_variable``) and each exposure option as
    ``curve_<option>`` (a copy of its column, or the index built from its items). Missing weights are 0: such
    rows stay in the survey design, outside every domain."""
    merged = table.merge(clocks, on="seqn", how="left", validate="one_to_one")
    if len(merged) != len(table):
        raise ValueError("the linked mortality files repeat a SEQN of the analysis table")
    out = {}
    for name, option in curve.exposures.items():
        if option.column is not None:
            out[exposure_column(name)] = table[option.column]
        else:
            score = build_index(table, option.index)
            out[exposure_column(name)] = group_index(score, option.index.groups) if option.type == "categorical" \
                else score
    merged = merged.assign(**out, **{w: merged[w].fillna(0.0) for w in dict.fromkeys(weights)})
    return merged.reset_index(drop=True)


def specification_table(curve: SpecificationCurve) -> pd.DataFrame:
    """One row per specification, one column per choice naming its option (the keys of params.yaml); the
    ``specification`` id ``s0001``... follows this order (the product of the options as listed)."""
    options = [list(curve.exposures), curve.covariate_sets, curve.designs, curve.clocks,
               [early_name(y) for y in curve.exclude_early_death_years], curve.missing, curve.outcomes]
    rows = list(itertools.product(*options))
    frame = pd.DataFrame(rows, columns=list(CHOICES))
    frame.insert(0, "specification", [f"s{i + 1:04d}" for i in range(len(frame))])
    return frame


def specifications(nh: NhanesSettings, choices: pd.DataFrame) -> list[CoxSpecification]:
    """The fit of each row of the specification table."""
    curve, models = nh.specification_curve, nh.models
    years = {early_name(y): float(y) for y in curve.exclude_early_death_years}
    out = []
    for row in choices.itertuples(index=False):
        option = curve.exposures[row.exposure]
        outcome = models.survival[row.outcome]
        rhs = models.covariate_sets[row.covariate_set]
        duration = clock_column(row.clock)
        sample = f"{row.clock.lower()}_{row.early_deaths}_{row.missing}"
        spec = ModelSpec(outcome=row.outcome, exposure=exposure_column(row.exposure), covariates=rhs,
                         exposure_type=option.type, covariate_set=row.covariate_set, study=nh.study,
                         outcome_label=outcome.label, exposure_label=option.label, sample=sample)
        weight = model_weight([outcome.event, *spec.variables()], models.weight, models.exam_weight)
        out.append(CoxSpecification(spec=spec, duration=duration, event=outcome.event, weight=weight,
                                    design=row.design, stratum=STRATUM, psu=PSU, cluster=CLUSTER,
                                    contrast=option.contrast, min_duration=12.0 * years[row.early_deaths],
                                    imputed=row.missing == "multiple_imputation", lonely_psu=models.lonely_psu,
                                    alpha=models.alpha))
    return out


def completed_tables(table: pd.DataFrame, nh: NhanesSettings, cache_dir: Path, *, n_jobs: int = 1,
                     scheduler: str | None = None, client=None) -> list[pd.DataFrame]:
    """The curve's completed tables: the first ``specification_curve.imputations`` chains of
    ``nhanes.imputation`` (seeds ``(seed, j)``, the mi_nhanes stage's chains). Each chain is cached by the hash
    of the imputation model's data, its settings, its number ``j`` and the imputation code, so raising
    ``imputations`` imputes only the new chains; missing chains run on the job runner, one task per chain."""
    settings, m = nh.imputation, nh.specification_curve.imputations
    frame, categories = imputation_frame(table, nh)
    common = {"frame": column_hashes(frame), "settings": settings.model_dump(),
              "code": source_hash([imputation_code.__file__])}
    paths = [cache_dir / "imputations" / f"{content_hash({**common, 'chain': j})}.parquet" for j in range(m)]
    missing = [j for j in range(m) if not paths[j].exists()]
    if missing:
        done = run_chunks(impute_chains, [[j] for j in missing], shared=[frame, settings.seed, settings.burn_in,
                                                                         settings.k_pmm],
                          desc="NHANES imputations", n_jobs=n_jobs, scheduler=scheduler, client=client)
        for j, (draw,) in zip(missing, done):
            io.write_parquet(paths[j], draw)
    draws = [io.read_parquet(path).set_index(frame.index) for path in paths]
    covariates = [c for c in frame.columns if c in table.columns]
    return [completed_table(table, d, categories, covariates) for d in draws]


def _fit_keys(specs: list[CoxSpecification], tables: list[pd.DataFrame]) -> list[str]:
    code = source_hash(FIT_CODE)
    observed = column_hashes(tables[0])
    imputed = [column_hashes(t) for t in tables[1:]]
    keys = []
    for cs in specs:
        columns = cs.columns()
        data = {c: observed[c] for c in columns}
        if cs.imputed:
            data = {c: [observed[c], *(h[c] for h in imputed)] for c in columns}
        keys.append(content_hash({"specification": cs.key_payload(), "data": data, "code": code,
                                  "m": len(imputed) if cs.imputed else 0}))
    return keys


def run_specification_curve(table: pd.DataFrame, clocks: pd.DataFrame, nh: NhanesSettings, *, cache_dir: Path,
                            n_jobs: int = 1, scheduler: str | None = None, progress: bool = True,
                            processes: bool = True, client=None) -> dict:
    """Fit (or read from the cache) every specification and summarise the curve. Returns a dict: ``records``
    (the record contract, one row per specification), ``choices`` (the specification table with n, events and
    the estimate), ``summary``, ``variance_shares``, ``null_test`` and ``fitted`` (fits run now)."""
    if client is None:  # one cluster for the imputations and the fits, started only if something is missing
        with SharedCluster(n_jobs, scheduler, processes=processes) as shared:
            return run_specification_curve(table, clocks, nh, cache_dir=cache_dir, n_jobs=n_jobs,
                                           scheduler=scheduler, progress=progress, processes=processes,
                                           client=shared)
    curve, models = nh.specification_curve, nh.models
    base = curve_table(table, clocks, curve, (models.weight, models.exam_weight))
    choices = specification_table(curve)
    specs = specifications(nh, choices)
    tables = [base]
    if "multiple_imputation" in curve.missing:
        tables += completed_tables(base, nh, cache_dir, n_jobs=n_jobs, scheduler=scheduler, client=client)
    keys = _fit_keys(specs, tables)
    size = curve.chunk_size

    def fit_missing(missing: list[CoxSpecification]):
        chunks = [missing[i:i + size] for i in range(0, len(missing), size)]
        results = run_chunks(fit_specifications, chunks, shared=[tables], desc="NHANES specifications",
                             n_jobs=n_jobs, scheduler=scheduler, progress=progress, processes=processes,
                             client=client)
        return [fit for chunk in results for fit in chunk]

    fits, fitted = cached_fits(keys, specs, FitCache(cache_dir), fit_missing)
    records = records_frame(pd.DataFrame([f.record for f in fits]))
    summary_columns = ["estimate", "std_error", "df", "ci_low", "ci_high", "p_value", "ratio", "ratio_ci_low",
                       "ratio_ci_high", "n", "events", "converged"]
    choices = pd.concat([choices, records[summary_columns].reset_index(drop=True)], axis=1)
    summary = curve_summary(records["estimate"], records["std_error"], records["df"], alpha=models.alpha)
    shares = variance_shares(records["estimate"].to_numpy(), choices[list(CHOICES)])
    psu_stratum = (base[[STRATUM, PSU]].drop_duplicates().sort_values([STRATUM, PSU])[STRATUM].to_numpy())
    influence = np.array([f.psu_influence for f in fits])
    test = null_bootstrap(records["estimate"], records["std_error"], records["df"], influence, psu_stratum,
                          draws=curve.bootstrap_draws, seed=curve.seed, alpha=models.alpha)
    return {"records": records, "choices": choices, "summary": summary, "variance_shares": shares,
            "null_test": test, "fitted": fitted}


def curve_metrics(result: dict, nh: NhanesSettings) -> dict:
    """The JSON of the curve: the summary, the joint test, the variance shares and the sample sizes."""
    choices = result["choices"]
    return {"study": nh.study, "measure": "HR (log scale in estimate)", **result["summary"],
            "median_hr": float(np.exp(result["summary"]["median_estimate"])),
            "null_test": result["null_test"],
            "variance_shares": dict(zip(result["variance_shares"]["choice"], result["variance_shares"]["share"])),
            "n_min": int(choices["n"].min()), "n_median": float(choices["n"].median()),
            "n_max": int(choices["n"].max()),
            "choices": {c: list(dict.fromkeys(choices[c])) for c in CHOICES}}


def paper_numbers(path: str | Path | None = None) -> dict:
    """The numbers the paper states about the curve, read from its results file
    (reports/metrics/nhanes_specification_curve.json): specifications, median HR, share of HRs above 1, share
    significant (and above 1), the three p-values of the joint test under the null, and the choice explaining
    the most variance with its share."""
    data = io.read_json(path or config.REPORTS / "metrics" / "nhanes_specification_curve.json")
    shares = {k: v for k, v in data["variance_shares"].items() if k != "interactions"}
    top = max(shares, key=shares.get)
    test = data["null_test"]
    return {"specifications": data["specifications"], "median_hr": data["median_hr"],
            "share_hr_above_1": data["share_positive"], "share_significant": data["share_significant"],
            "share_significant_above_1": data["share_significant_positive"], "p_median": test["p_median"],
            "p_significant": test["p_significant"], "p_stouffer": test["p_stouffer"],
            "bootstrap_draws": test["draws"], "top_choice": top, "top_choice_share": shares[top],
            "interactions_share": data["variance_shares"]["interactions"], "n_min": data["n_min"],
            "n_max": data["n_max"]}


def stage() -> str:
    """DVC stage ``specifications_nhanes``: the specification curve's records, table, figure and metrics."""
    params = load()
    nh = params.nhanes
    if nh.specification_curve is None:
        raise ValueError(f"params.yaml {STUDY_KEY}.specification_curve is missing: the stage has nothing to fit")
    table = io.read_parquet(config.PROCESSED / "nhanes.parquet")
    clocks = read_clocks(config.RAW / "nhanes", nh)
    start = time.perf_counter()
    result = run_specification_curve(table, clocks, nh, cache_dir=Path(nh.specification_curve.cache_dir),
                                     n_jobs=params.compute.n_jobs, scheduler=params.compute.scheduler)
    seconds = time.perf_counter() - start
    metrics = config.REPORTS / "metrics"
    fig = curve_figure(result["choices"], list(CHOICES), labels={
        "exposure": {k: v.label for k, v in nh.specification_curve.exposures.items()}}, measure="HR")
    with io.staged_outputs():
        io.write_outputs({metrics / "nhanes_specifications.csv": result["records"],
                          metrics / "nhanes_specification_choices.csv": result["choices"],
                          metrics / "nhanes_specification_curve.json": curve_metrics(result, nh)})
        write_figure(fig, config.REPORTS / "figures" / "nhanes_specification_curve", formats=("png",))
    return (f"NHANES specification curve: {len(result['records'])} specifications, {result['fitted']} fitted now "
            f"({seconds:.1f} s), the rest from the cache")
