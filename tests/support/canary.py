"""A restricted-layout cohort file with canaries: values that must never reach anything under reports/.

The file is a small SYNTHETIC cohort written in the RAND HRS layout (``hhidpn``, ``r{w}...``), standing in for
a user's real HRS file, with two kinds of canary planted in it:

* every person id is a distinctive 11-digit number (``97531`` followed by six digits): an id in a report
  means an individual-level row was published;
* one person has an exact, impossible-in-aggregate value (education ``13.371337`` years): a report that
  shows it shows that person's row.

``tiny_persons`` makes the file small enough that its groups, events and exclusions fall below the
suppression threshold, to check that those cells are suppressed.
"""

from __future__ import annotations

import copy
from pathlib import Path

from analysis.core.settings import validate
from analysis.studies.cohorts.settings import Synthetic
from analysis.studies.cohorts.synthetic import simulate_cohort, write_synthetic

CANARY_ID_BASE = 97_531_000_000
CANARY_EDUCATION = 13.371337
CANARY_EDUCATION_TEXT = "13.371337"


def canary_ids(n: int) -> list[int]:
    return [CANARY_ID_BASE + 7 * i + 3 for i in range(n)]


def canary_strings(n: int) -> list[str]:
    """Every text that must not appear in a report: the ids and the exact value."""
    return [str(i) for i in canary_ids(n)] + [CANARY_EDUCATION_TEXT]


def write_canary_cohort(path: Path, synthetic_spec: dict, *, persons: int, waves: int, seed: int) -> int:
    """Write the canary file; returns the number of persons (ids ``canary_ids(persons)``)."""
    spec = validate(Synthetic, {**copy.deepcopy(synthetic_spec), "waves": waves}, "cohorts.synthetic")
    frame, _ = simulate_cohort(spec, persons=persons, seed=seed)
    frame["hhidpn"] = [float(i) for i in canary_ids(len(frame))]
    frame.loc[frame.index[0], "raedyrs"] = CANARY_EDUCATION
    write_synthetic(frame, path)
    return len(frame)
