"""NHANES cognitive functioning (CFQ, CFQ_B, 1999-2002): codebook items, reader, derived measures, fetch stage.

Codebook: CDC "NHANES 1999-2000 [2001-2002] Data Documentation, Codebook, and Frequencies: Cognitive Functioning
(CFQ) [(CFQ_B)]", first published January 2005. The WAIS-III Digit Symbol - Coding module, given during the
**household interview** to participants aged 60+ ("Proxy interviews were ineligible"): the score is the number
of symbols drawn correctly in 120 seconds, one point each, maximum 133. Items (both cycles, same codes):

* CFD010 can the exercise be given with minimal distraction: 1 yes, 2 no (-> end of section);
* CFD030 sample exercise: 1 completed sample, 2 unable to complete sample, 7 refused (-> end of section);
* CFD040 reason unable: 1 physical limitations, 2 cognitive limitations, 3 other reason (-> end of section);
* CFD050 DSS completion: 1 yes, completed the full 2 minutes, 2 no, stopped before 2 minutes (-> end);
* CFDRIGHT score, number correct (codebook range 0-117 in 1999-2000, 0-100 in 2001-2002; 133 maximum);
* CFDFINSH number completed within 2 minutes.

"." is missing everywhere (no 9 "don't know" code exists for these items; 7 in CFD030 is "refused", a reason,
not a value, so it is kept as a code here and never read as a number). CDC's analytic note: non-response was
relatively high and varied by race-ethnicity, age and possibly other factors; analysts should study
non-response bias. A few records score 0 after the full two minutes; a few forms were misplaced (score missing
though CFD050 = 1 or the sample was completed).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis.core.contract import SourceDataError
from analysis.core.fetch import fetch_study
from analysis.studies.nhanes.source import Item, read_table, table_path

#: The fetch registry's study name of the CFQ files (data/sources.yaml) and their folder under data/raw.
FETCH_STUDY = "nhanes_cognition"
DSST_MAX = 133

CFQ_CODEBOOK: dict[str, Item] = {
    "CFD010": Item(frozenset({1, 2})),
    "CFD030": Item(frozenset({1, 2, 7})),
    "CFD040": Item(frozenset({1, 2, 3})),
    "CFD050": Item(frozenset({1, 2})),
    "CFDRIGHT": Item((0, DSST_MAX)),
    "CFDFINSH": Item((0, DSST_MAX)),
}

#: DSST status categories, in the order of the CAPI flow (dsst_status).
DSST_STATUS = ("completed", "not_attempted", "distraction", "refused", "unable_physical", "unable_cognitive",
               "unable_other", "stopped_early", "score_missing")


def check_codes(frame: pd.DataFrame, path: str | Path) -> pd.DataFrame:
    """The CFQ items of ``frame`` checked against :data:`CFQ_CODEBOOK`: a code the codebook does not document
    is a SourceDataError naming the file, column, value and SEQN. Values are returned unchanged (NaN = ".")."""
    for column, item in CFQ_CODEBOOK.items():
        if column not in frame.columns:
            raise SourceDataError(f"{path}: column {column} is missing (the CFQ codebook lists it)")
        values = frame[column].astype("float64")
        bad = values.notna() & ~item.is_valid(values)
        if bad.any():
            raise SourceDataError(f"{path}: column {column} has the value {values[bad].iloc[0]:g} (SEQN "
                                  f"{frame.loc[bad, 'SEQN'].iloc[0]}), which the CFQ codebook does not document")
    return frame


def read_cfq(raw_dir: str | Path, cycle: str) -> pd.DataFrame:
    """One cycle's CFQ table (raw codes, checked)."""
    table = "CFQ"
    path = table_path(raw_dir, table, cycle)
    return check_codes(read_table(path), path)


def dsst_status(cfq: pd.DataFrame) -> pd.Series:
    """Why a DSST score is or is not there, from the CAPI flow of the codebook:

    * ``completed``: CFDRIGHT present (0-133);
    * ``not_attempted``: CFD010 missing (section not started: proxy interview, or the interview broke off);
    * ``distraction``: CFD010 = 2, could not be given with minimal distraction;
    * ``refused``: CFD030 = 7; ``unable_physical`` / ``unable_cognitive`` / ``unable_other``: CFD030 = 2 with
      CFD040 = 1 / 2 / 3 (or ``unable_other`` when CFD040 is missing);
    * ``stopped_early``: CFD050 = 2, stopped before the 2 minutes (no score);
    * ``score_missing``: anything else without a score (CDC: misplaced forms; sample completed, no result).
    """
    status = pd.Series("score_missing", index=cfq.index, dtype="object")
    status[cfq["CFD050"] == 2] = "stopped_early"
    unable = cfq["CFD030"] == 2
    status[unable] = cfq.loc[unable, "CFD040"].map({1: "unable_physical", 2: "unable_cognitive",
                                                    3: "unable_other"}).fillna("unable_other")
    status[cfq["CFD030"] == 7] = "refused"
    status[cfq["CFD010"] == 2] = "distraction"
    status[cfq["CFD010"].isna()] = "not_attempted"
    status[cfq["CFDRIGHT"].notna()] = "completed"
    return pd.Series(pd.Categorical(status, categories=list(DSST_STATUS)), index=cfq.index)


def death_cause(died: pd.Series, ucod: pd.Series, cause: str) -> pd.Series:
    """Competing-risks status from the linked mortality file: 0 alive at the end of follow-up (MORTSTAT 0),
    1 died with underlying cause (UCOD_LEADING) ``cause``, 2 died of any other cause - including a death whose
    UCOD_LEADING is blank (one in 1999-2008), as measures.cause_specific_death counts it for CVD death;
    missing when ``died`` is missing (not eligible for linkage)."""
    out = pd.Series(np.nan, index=died.index)
    out[died == 0] = 0.0
    dead = died == 1
    out[dead] = np.where(ucod[dead].fillna("") == cause, 1.0, 2.0)
    return out


def stage() -> str:
    """DVC stage ``fetch_nhanes_cognition``: the CFQ files into ``data/raw/nhanes_cognition``."""
    return fetch_study(FETCH_STUDY, [FETCH_STUDY])
