"""The cohort files a user configures, checked before anything runs (``python -m analysis check``): each
``path`` (and ``join`` path) exists and is a readable format, and the file's waves agree with the study's
``waves:``: the interview-status item (``r{w}iwstat`` in the RAND layout) must exist for every wave listed,
and a wave the file has but ``waves:`` leaves out is an error too (its interviews would otherwise be dropped
without a word). Only the files' metadata are read (no data). The clean stage applies the same rule."""

from __future__ import annotations

import re

from analysis.studies.cohorts.settings import CohortsSettings
from analysis.studies.cohorts.source import CohortFileError, check_file, file_columns


def wave_problems(key: str, template: str, columns: list[str], waves: list[int], files: str) -> list[str]:
    """Disagreements between the waves of a file (the waves whose ``template`` column it has) and ``waves``."""
    pattern = re.compile("^" + re.escape(template.lower()).replace(re.escape("{w}"), r"(\d+)") + "$")
    present = sorted({int(m.group(1)) for c in columns if (m := pattern.match(c.lower()))})
    problems = []
    missing = [w for w in waves if w not in present]
    if missing:
        problems.append(f"cohorts.studies.{key}.waves lists waves {missing}, but {files} has no "
                        f"{template.format(w=missing[0])} (its waves: {present or 'none'})")
    extra = [w for w in present if w not in waves]
    if extra:
        problems.append(f"{files} has waves {extra} ({template.format(w=extra[0])}, ...) that "
                        f"cohorts.studies.{key}.waves leaves out: add each with the year it started")
    return problems


def cohort_file_problems(cohorts: CohortsSettings) -> list[str]:
    """Every problem with the configured cohort files (none configured: none)."""
    problems: list[str] = []
    for key, spec in cohorts.studies.items():
        if not spec.path:
            continue
        try:
            files = [check_file(spec.path, f"params.yaml cohorts.studies.{key}.path")]
            files += [check_file(j.path, f"params.yaml cohorts.studies.{key}.join[{i}].path ({j.label})")
                      for i, j in enumerate(spec.join)]
            columns = [c for f in files for c in file_columns(f)]
        except (CohortFileError, OSError, ValueError) as err:
            problems.append(str(err))
            continue
        template = {**cohorts.variables, **spec.variables}.get("interview_status")
        if isinstance(template, str):
            problems += wave_problems(key, template, columns, sorted(spec.waves), " + ".join(map(str, files)))
    return problems
