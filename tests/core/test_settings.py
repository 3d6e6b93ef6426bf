"""The typed configuration (analysis.core.settings, each study's settings.py, analysis.params): every bad
value a student can type stops before any work with one message naming the key, its line, the value and what
is allowed; labels state values from the values; the JSON Schema for editors is current."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from analysis import params as params_module
from analysis.core.config import ConfigError
from analysis.core.settings import load_shared
from analysis.studies.cohorts.inputs import wave_problems
from analysis.studies.nhanes.settings import load as load_nhanes
from support.config import ROOT


def write(tmp_path: Path, raw: dict, text: str | None = None) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(text if text is not None else yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def problem(tmp_path: Path, raw: dict, edit) -> str:
    """The ConfigError message of the whole file after ``edit(raw)``."""
    raw = copy.deepcopy(raw)
    edit(raw)
    with pytest.raises(ConfigError) as err:
        params_module.load(write(tmp_path, raw))
    return str(err.value)


def test_the_project_params_are_valid(params):
    assert params.nhanes.models.alpha == 0.05 and params.compute.n_jobs >= 1
    assert params.nhanes.models.key("exam_weight") == "nhanes.models.exam_weight"


@pytest.mark.parametrize("edit, expected", [
    (lambda r: r["nhanes"]["models"].__setitem__("exam_weigth", r["nhanes"]["models"].pop("exam_weight")),
     r"nhanes\.models\.exam_weigth: unknown key \(did you mean 'exam_weight'\?\)"),
    (lambda r: r["nhanes"]["models"].__setitem__("common_sampel", r["nhanes"]["models"].pop("common_sample")),
     r"nhanes\.models\.common_sampel: unknown key \(did you mean 'common_sample'\?\)"),
    (lambda r: r["nhanes"]["indices"]["isolation_index"].__setitem__("min_item", 3),
     r"nhanes\.indices\.isolation_index\.min_item: unknown key \(did you mean 'min_items'\?\)"),
    (lambda r: r.__setitem__("gs", r["gss"]),
     r"unknown top-level key 'gs' \(did you mean 'gss'\?\)"),
])
def test_a_typo_in_a_key_names_the_key_and_the_likely_one(tmp_path, raw_params, edit, expected):
    message = problem(tmp_path, raw_params, edit)
    assert __import__("re").search(expected, message), message
    assert ", line " in message  # where in the file


@pytest.mark.parametrize("key, value, expected", [
    (("nhanes", "models", "alpha"), 1.5, "nhanes.models.alpha = 1.5: Input should be less than 1"),
    (("nhanes", "phq9_cutoff"), -5, "nhanes.phq9_cutoff = -5: Input should be greater than or equal to 1"),
    (("nhanes", "phq9_cutoff"), "ten", "nhanes.phq9_cutoff = 'ten': Input should be a valid integer"),
    (("nhanes", "phq9_cutoff"), "10", "nhanes.phq9_cutoff = '10': Input should be a valid integer"),
    (("nhanes", "models", "lonely_psu"), "ajust", "nhanes.models.lonely_psu = 'ajust': Input should be 'adjust'"),
    (("compute", "n_jobs"), 0, "compute.n_jobs = 0: Input should be greater than or equal to 1"),
    (("gss", "panels"), ["2006-2010", "2007-2011"], "gss.panels[1] = '2007-2011'"),
])
def test_wrong_types_and_out_of_range_values_name_key_value_and_what_is_allowed(tmp_path, raw_params, key, value,
                                                                                 expected):
    def edit(raw):
        block = raw
        for k in key[:-1]:
            block = block[k]
        block[key[-1]] = value
    message = problem(tmp_path, raw_params, edit)
    assert expected in message, message


def test_contradictions_between_fields(tmp_path, raw_params):
    def domain(raw):
        raw["nhanes"]["cycles"] = ["2003-2004", "2005-2006", "2007-2008"]
    message = problem(tmp_path, raw_params, domain)
    assert "nhanes.weight_domains[0].cycles: ['1999-2000', '2001-2002'] not among cycles" in message

    def group(raw):
        raw["nhanes"]["indices"]["isolation_index"]["groups"][-1]["max"] = 7
    message = problem(tmp_path, raw_params, group)
    assert "nhanes.indices.isolation_index" in message and "cover the scale 0-4" in message

    def exposure(raw):
        raw["nhanes"]["models"]["exposures"]["isolation_kategory"] = {"label": "x", "type": "categorical"}
    message = problem(tmp_path, raw_params, exposure)
    assert "nhanes.models.exposures: 'isolation_kategory' is not a column of the NHANES analysis table" in message

    def formula(raw):
        raw["nhanes"]["models"]["covariate_sets"]["health"] += " + bmii"
    message = problem(tmp_path, raw_params, formula)
    assert "nhanes.models.covariate_sets.health: 'bmii' is not a column" in message

    def cohort_groups(raw):
        del raw["cohorts"]["studies"]["share"]["isolation_index"]["groups"]
    message = problem(tmp_path, raw_params, cohort_groups)
    assert "cohorts.studies.share.isolation_index" in message and "0-3" in message


def test_every_problem_is_listed_at_once_with_its_line(tmp_path, raw_params):
    def two(raw):
        raw["nhanes"]["models"]["alpha"] = 2
        raw["gss"]["panel_models"]["alpha"] = -1
    message = problem(tmp_path, raw_params, two)
    assert "2 problems" in message and "nhanes.models.alpha" in message and "gss.panel_models.alpha" in message
    text = (tmp_path / "params.yaml").read_text().splitlines()
    line = int(message.split("nhanes.models.alpha")[0].rsplit("line ", 1)[1].split(":")[0])
    assert text[line - 1].strip().startswith("alpha:")


def test_a_yaml_syntax_error_names_line_and_column(tmp_path):
    path = write(tmp_path, {}, "data:\n  mirror: null\nnhanes:\n  cycles: [1999-2000\n  study: x\n")
    with pytest.raises(ConfigError, match=r"params.yaml, line \d+, column \d+: not valid YAML"):
        params_module.load(path)


def test_a_study_stage_rejects_a_top_level_typo_too(tmp_path, raw_params):
    raw = copy.deepcopy(raw_params)
    raw["gs"] = {}
    with pytest.raises(ConfigError, match="unknown top-level key 'gs'"):
        load_nhanes(write(tmp_path, raw))
    with pytest.raises(ConfigError, match="unknown top-level key 'gs'"):
        load_shared(write(tmp_path, raw))


def test_labels_state_the_values_they_name(tmp_path, raw_params):
    raw = copy.deepcopy(raw_params)
    raw["nhanes"]["phq9_cutoff"] = 15
    raw["nhanes"]["indices"]["isolation_index"]["groups"] = [
        {"label": "Connected ({min}-{max})", "min": 0, "max": 1}, {"label": "Isolated ({min}+)", "min": 2, "max": 4}]
    nh = load_nhanes(write(tmp_path, raw)).nhanes
    assert nh.models.regression["depression_phq9"].label == "Depression (PHQ-9 >= 15)"
    assert [g.label for g in nh.indices["isolation_index"].groups] == ["Connected (0-1)", "Isolated (2+)"]
    assert nh.indices["isolation_index"].label_or("isolation_index") == "Social isolation index (0-4)"
    assert nh.sensitivity.subgroups[1].labels == ["< 65", "65+"]
    raw["nhanes"]["models"]["regression"]["depression_phq9"]["label"] = "PHQ-9 >= {cutof}"
    with pytest.raises(ConfigError, match=r"uses \{cutof\}; the placeholders here are \{phq9_cutoff\}"):
        load_nhanes(write(tmp_path, raw))


def test_cohort_waves_must_agree_with_the_file():
    columns = ["hhidpn", *(f"r{w}iwstat" for w in range(1, 13))]
    problems = wave_problems("hrs", "r{w}iwstat", columns, list(range(1, 16)), "randhrs.dta")
    assert problems == ["cohorts.studies.hrs.waves lists waves [13, 14, 15], but randhrs.dta has no r13iwstat "
                        "(its waves: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])"]
    problems = wave_problems("hrs", "r{w}iwstat", columns, list(range(1, 11)), "randhrs.dta")
    assert problems == ["randhrs.dta has waves [11, 12] (r11iwstat, ...) that cohorts.studies.hrs.waves leaves out: "
                        "add each with the year it started"]
    assert wave_problems("hrs", "r{w}iwstat", columns, list(range(1, 13)), "randhrs.dta") == []


def test_check_names_a_missing_cohort_file_and_a_missing_mirror(tmp_path, raw_params, monkeypatch):
    raw = copy.deepcopy(raw_params)
    raw["cohorts"]["studies"]["elsa"]["path"] = str(tmp_path / "h_elsa_g3.dta")
    monkeypatch.setenv("ANALYSIS_DATA_MIRROR", str(tmp_path / "no-mirror"))
    with pytest.raises(ConfigError) as err:
        params_module.check(write(tmp_path, raw), ROOT / "data/sources.yaml")
    assert "h_elsa_g3.dta (params.yaml cohorts.studies.elsa.path) does not exist" in str(err.value)
    assert "no-mirror" in str(err.value) and "is not a folder" in str(err.value)


def run_cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "ANALYSIS_PROJECT_ROOT": str(cwd)}
    return subprocess.run([sys.executable, "-m", "analysis", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def test_a_bad_value_stops_a_stage_before_it_writes_anything(tmp_path, raw_params):
    raw = copy.deepcopy(raw_params)
    raw["nhanes"]["phq9_cutoff"] = "ten"
    write(tmp_path, raw)
    result = run_cli(["nhanes", "models"], tmp_path)
    assert result.returncode == 1
    assert "nhanes.phq9_cutoff = 'ten': Input should be a valid integer" in result.stderr
    assert not (tmp_path / "reports").exists() and not (tmp_path / "data").exists()
    result = run_cli(["check"], tmp_path)
    assert result.returncode == 1 and "nhanes.phq9_cutoff" in result.stderr


def test_an_unknown_study_is_named(tmp_path):
    result = run_cli(["nhanse", "models"], ROOT)
    assert result.returncode == 1 and "no study 'nhanse'" in result.stderr


def test_the_json_schema_is_current():
    """params.schema.json (committed, used by editors through the modeline of params.yaml) is what the models
    export; regenerate it with `python -m analysis.params > params.schema.json` after changing a model."""
    committed = (ROOT / "params.schema.json").read_text(encoding="utf-8")
    assert committed == params_module.schema_text(), "params.schema.json is stale: regenerate it"
    schema = json.loads(committed)
    assert "exam_weight" in json.dumps(schema) and schema["additionalProperties"] is False
    assert (ROOT / "params.yaml").read_text().startswith("# yaml-language-server: $schema=params.schema.json")


def test_the_params_stage_writes_each_stage_its_keys_and_a_bad_value_writes_nothing(tmp_path, raw_params):
    """`python -m analysis params` (the first DVC stage): one file per stage of analysis.stage_params, holding the
    stage's keys and their values as in params.yaml; with a bad value anywhere, one clear error and no file."""
    from analysis.stage_params import STAGE_PARAMS

    write(tmp_path, raw_params)
    result = run_cli(["params"], tmp_path)
    assert result.returncode == 0, result.stderr
    files = {f.stem: json.loads(f.read_text()) for f in (tmp_path / "data/params").iterdir()}
    assert set(files) == set(STAGE_PARAMS)
    assert files["models_nhanes"]["nhanes.phq9_cutoff"] == raw_params["nhanes"]["phq9_cutoff"]
    assert files["clean_places"] == {"places.clean": raw_params["places"]["clean"]}
    assert "[params] done in" in result.stderr
    raw = copy.deepcopy(raw_params)
    raw["gss"]["panels"] = "all"  # a problem in a section no NHANES stage reads still stops the whole pipeline
    write(tmp_path, raw)
    (tmp_path / "data").rename(tmp_path / "kept")
    result = run_cli(["params"], tmp_path)
    assert result.returncode == 1 and "gss.panels" in result.stderr
    assert not (tmp_path / "data").exists()


def test_a_stage_stops_when_its_params_file_is_out_of_date(tmp_path, raw_params, monkeypatch):
    """Under DVC ($DVC_STAGE), a stage compares its data/params/<stage>.json (its recorded dependency) with
    params.yaml: after an edit and `dvc repro --single-item`, it stops and says what to run, instead of making a
    result DVC would record as made from the old values. Without DVC (a test, a user's own run) nothing is checked."""
    from analysis.stage_params import write_slices

    path = write(tmp_path, raw_params)
    write_slices(path, tmp_path / "data/params")
    monkeypatch.setenv("ANALYSIS_PROJECT_ROOT", str(tmp_path))
    monkeypatch.setenv("DVC_STAGE", "models_nhanes")
    assert load_nhanes(path).nhanes.phq9_cutoff == raw_params["nhanes"]["phq9_cutoff"]  # up to date: loads
    raw = copy.deepcopy(raw_params)
    raw["nhanes"]["phq9_cutoff"] += 2
    raw["gss"]["evenings_per_year"] = {"never": 0}  # a key models_nhanes does not read: not named
    write(tmp_path, raw)
    with pytest.raises(ConfigError) as err:
        load_nhanes(path)
    message = str(err.value)
    assert message.startswith("data/params/models_nhanes.json: out of date with ") and "gss" not in message
    assert "nhanes.phq9_cutoff" in message and "without --single-item" in message
    with pytest.raises(ConfigError, match="nhanes.phq9_cutoff"):
        params_module.load(path)  # the paper stage's whole-file load checks its own file the same way
    monkeypatch.setenv("DVC_STAGE", "index")  # a stage that reads no key has no file: nothing to compare
    assert load_shared(path).data is not None
    monkeypatch.delenv("DVC_STAGE")
    assert load_nhanes(path).nhanes.phq9_cutoff == raw["nhanes"]["phq9_cutoff"]
