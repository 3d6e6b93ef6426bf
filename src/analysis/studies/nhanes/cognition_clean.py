"""The NHANES cognition table: the DSST and Alzheimer's disease death for every row of the analysis table.

One row per row of ``data/processed/nhanes.parquet`` (same ``seqn``), so the models join it to the analysis
table's exposures, covariates and design columns; the analysis table itself is left unchanged. Columns (codebook
rules in :mod:`analysis.studies.nhanes.cognition_source`):

* ``dsst_eligible``: 1 for a row with a CFQ record (a cycle of ``cognition.cycles``, non-proxy, aged 60+);
  0 otherwise;
* ``dsst_score``: CFDRIGHT, symbols drawn correctly in 120 s (0-133); missing when not completed;
* ``dsst_completed``: 1 when ``dsst_score`` is present, 0 for an eligible row without it, missing when not
  eligible;
* ``dsst_status``: why (``cognition_source.dsst_status``);
* ``death_status``: 0 alive at the end of follow-up, 1 died of Alzheimer's disease (UCOD_LEADING =
  ``cognition.alzheimer_cause``, 006), 2 died of another cause (linked mortality file MORTSTAT, UCOD_LEADING);
  missing when not eligible for linkage; ``alzheimer_death`` = 1 if ``death_status`` is 1, else 0 (cause-specific:
  other deaths are censored at death).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis.core import config, io
from analysis.core.contract import CleaningError
from analysis.studies.nhanes import source as src
from analysis.studies.nhanes.cognition_source import DSST_STATUS, FETCH_STUDY, death_cause, dsst_status, read_cfq
from analysis.studies.nhanes.settings import Cognition, load

COLUMNS = ["seqn", "dsst_eligible", "dsst_score", "dsst_completed", "dsst_status", "death_status",
           "alzheimer_death"]


def build_cognition(table: pd.DataFrame, cognition_raw: str | Path, nhanes_raw: str | Path, cycles: list[str],
                    cog: Cognition) -> pd.DataFrame:
    """The cognition table of ``table`` (the analysis table: ``seqn``, ``cycle``); see the module docstring."""
    cfq_frames, mort_frames = [], []
    for cycle in cycles:
        if cycle in cog.cycles:
            cfq = read_cfq(cognition_raw, cycle)
            cfq_frames.append(pd.DataFrame({"seqn": cfq["SEQN"], "dsst_eligible": 1, "dsst_score": cfq["CFDRIGHT"],
                                            "dsst_status": dsst_status(cfq)}))
        lmf = src.read_lmf(src.lmf_path(nhanes_raw, cycle))
        died = lmf["MORTSTAT"].where(lmf["ELIGSTAT"] == 1)
        mort_frames.append(pd.DataFrame({"seqn": lmf["SEQN"],
                                         "death_status": death_cause(died, lmf["UCOD_LEADING"], cog.alzheimer_cause)}))
    out = table[["seqn"]].merge(pd.concat(cfq_frames, ignore_index=True), on="seqn", how="left", validate="1:1")
    out = out.merge(pd.concat(mort_frames, ignore_index=True), on="seqn", how="left", validate="1:1")
    out["dsst_eligible"] = out["dsst_eligible"].fillna(0).astype("int8")
    eligible = out["dsst_eligible"] == 1
    out["dsst_completed"] = out["dsst_score"].notna().astype("float").where(eligible)
    out["dsst_status"] = pd.Categorical(out["dsst_status"], categories=list(DSST_STATUS))
    out["alzheimer_death"] = (out["death_status"] == 1).astype("float").where(out["death_status"].notna())
    in_cycles = table["cycle"].isin(cog.cycles).to_numpy()
    missing = in_cycles & (table["age"].to_numpy() >= 60) & ~eligible.to_numpy()
    if missing.any():
        first = table.loc[missing, "seqn"].iloc[0]
        raise CleaningError(f"{cognition_raw}: SSQ respondent SEQN {first} (60+, {', '.join(cog.cycles)}) has no CFQ "
                            f"record ({int(missing.sum())} such rows); the CFQ and SSQ share their target ages")
    return out[COLUMNS]


def stage() -> str:
    """DVC stage ``clean_nhanes_cognition``: ``data/processed/nhanes_cognition.parquet``."""
    params = load()
    nh = params.nhanes
    table = io.read_parquet(config.PROCESSED / "nhanes.parquet")
    cognition = build_cognition(table, config.RAW / FETCH_STUDY, config.RAW / "nhanes", nh.cycles, nh.cognition)
    io.write_outputs({config.PROCESSED / "nhanes_cognition.parquet": cognition})
    completed = int(cognition["dsst_completed"].sum())
    return (f"NHANES cognition table: {int(cognition['dsst_eligible'].sum()):,} eligible for the DSST, {completed:,} "
            f"completed; {int(cognition['alzheimer_death'].sum())} Alzheimer's deaths")
