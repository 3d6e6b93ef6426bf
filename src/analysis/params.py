"""The whole of params.yaml: the shared sections at the top and every study's settings under its name.

Stages load only the shared sections and their own study (``analysis.studies.<name>.settings.load``), so
a stage's code deps stay its own study's folder. This module is for what reads every study at once: the
check that runs before ``dvc repro`` (``python -m analysis check``), the paper, and the JSON Schema that
editors use to check and complete params.yaml (``params.schema.json``, kept current by a test).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from analysis.core.config import MIRROR_ENV, REGISTRY, ConfigError, data_mirror
from analysis.core.fetch import FetchError, load_registry
from analysis.core.settings import SharedParams, params_path, read_params, study_names, validate
from analysis.studies.cohorts.inputs import cohort_file_problems
from analysis.studies.cohorts.settings import CohortsSettings
from analysis.studies.countries.settings import CountriesSettings
from analysis.studies.gss.settings import GssSettings
from analysis.studies.nhanes.settings import NhanesSettings
from analysis.studies.places.settings import PlacesSettings

SCHEMA_FILE = "params.schema.json"


class Params(SharedParams):
    """params.yaml: every knob of the analysis."""

    nhanes: NhanesSettings
    gss: GssSettings
    places: PlacesSettings
    countries: CountriesSettings
    cohorts: CohortsSettings


assert set(study_names()) == {"nhanes", "gss", "places", "countries", "cohorts"}, (
    "a study folder without its section in analysis.params.Params (or the reverse)")


def load(path: str | Path | None = None) -> Params:
    """The whole of params.yaml, validated; one ConfigError lists every problem."""
    path, data = read_params(path)
    return validate(Params, data, path)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of params.yaml (draft 2020-12), for editors (yaml-language-server) and the docs."""
    schema = Params.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "connected-health params.yaml"
    return schema


def schema_text() -> str:
    return json.dumps(json_schema(), indent=1, sort_keys=True) + "\n"


def input_problems(params: Params, registry: str | Path = REGISTRY) -> list[str]:
    """Every input file the configuration names, checked without reading the data: the registry of public
    files (and, with a mirror set, each file in the mirror), and each cohort study's own files (present, and
    their waves in agreement with the study's ``waves:``)."""
    problems: list[str] = []
    try:
        sources = load_registry(registry)
    except (ConfigError, FetchError, OSError) as err:
        return [str(err)]
    mirror = data_mirror(params.data.mirror)
    if mirror is not None:
        if not mirror.is_dir():
            problems.append(f"data mirror {mirror} (${MIRROR_ENV} or data.mirror) is not a folder")
        else:
            absent = [s for s in sources.values() if not (mirror / s.mirror).exists()]
            problems += [f"{registry}: {s.key}: {mirror / s.mirror} not found in the mirror" for s in absent[:5]]
            if len(absent) > 5:
                problems.append(f"... and {len(absent) - 5} more files of {registry} missing from the mirror")
    problems += cohort_file_problems(params.cohorts)
    return problems


def check(path: str | Path | None = None, registry: str | Path = REGISTRY) -> str:
    """``python -m analysis check``: the whole configuration and every input file it names, before anything
    runs. Raises a ConfigError listing every problem; returns a one-line summary when all is well."""
    params = load(path)
    problems = input_problems(params, registry)
    if problems:
        raise ConfigError("input files named by the configuration:\n" + "\n".join(f"  {p}" for p in problems))
    configured = [k for k, s in params.cohorts.studies.items() if s.path]
    return (f"{params_path(path)}: valid ({len(study_names())} studies, {len(load_registry(registry))} public "
            f"files{' in the mirror' if data_mirror(params.data.mirror) else ''}"
            f"{', cohort files: ' + ', '.join(configured) if configured else ''})")


if __name__ == "__main__":  # python -m analysis.params > params.schema.json
    print(schema_text(), end="")
