"""The SYNTHETIC cohort (analysis.studies.cohorts.synthetic): RAND names and codes in the written .dta, its label,
reproducibility from the seed, spec errors (refused by the schema, analysis.studies.cohorts.settings.Synthetic),
and a consistent wave-status / death-date history."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from analysis.core.config import ConfigError
from analysis.core.settings import validate
from analysis.studies.cohorts.settings import Synthetic, SyntheticNuisance, SyntheticTruth
from analysis.studies.cohorts.synthetic import (
    IWSTAT,
    MSTAT,
    SYNTHETIC_LABEL,
    simulate_cohort,
    write_synthetic,
)

#: Keys of ``cohorts.synthetic.truth`` (the effects the models must recover) and ``.nuisance``.
TRUTH_KEYS = tuple(SyntheticTruth.model_fields)
NUISANCE_KEYS = tuple(SyntheticNuisance.model_fields)

PERSONS = 3000
PERSON_VARIABLES = ("hhidpn", "ragender", "rabyear", "raedyrs", "radyear", "radmonth")
WAVE_VARIABLES = ("iwstat", "iwendy", "iwendm", "agey_e", "mstat", "cesd", "hearte", "stroke", "kcntm", "rcntm",
                  "fcntm", "socyr", "complac", "leftout", "isolate")
# Documented codes of each wave variable (RAND HRS Longitudinal File codebook; synthetic.py docstring).
CODES = {"iwstat": set(IWSTAT.values()), "mstat": set(MSTAT.values()), "cesd": set(range(9)), "hearte": {0, 1},
         "stroke": {0, 1}, "kcntm": {0, 1}, "rcntm": {0, 1}, "fcntm": {0, 1}, "socyr": {0, 1},
         "complac": {1, 2, 3}, "leftout": {1, 2, 3}, "isolate": {1, 2, 3}, "iwendm": set(range(1, 13))}
ITEMS = ("mstat", "cesd", "hearte", "stroke", "kcntm", "rcntm", "fcntm", "socyr", "complac", "leftout", "isolate")


@pytest.fixture(scope="module")
def spec(params) -> Synthetic:
    """params.yaml ``cohorts.synthetic``, validated (what the synthetic_cohort stage simulates from)."""
    return params.cohorts.synthetic


@pytest.fixture(scope="module")
def raw_spec(raw_params) -> dict:
    """The same block as plain YAML values, to edit and validate."""
    return copy.deepcopy(raw_params["cohorts"]["synthetic"])


def _refused(block: dict, match: str) -> None:
    """The schema refuses ``block`` as ``cohorts.synthetic``, with a message matching ``match``."""
    with pytest.raises(ConfigError, match=match):
        validate(Synthetic, block, "cohorts.synthetic")


@pytest.fixture(scope="module")
def simulated(spec):
    return simulate_cohort(spec, persons=PERSONS)


@pytest.fixture(scope="module")
def written(simulated, tmp_path_factory):
    """The .dta as the stage writes it, read back with and without the extended missing codes."""
    import pyreadstat

    path = tmp_path_factory.mktemp("synthetic") / "synthetic_rand.dta"
    write_synthetic(simulated[0], path)
    plain, meta = pyreadstat.read_dta(str(path), user_missing=False)
    coded, _ = pyreadstat.read_dta(str(path), user_missing=True)
    return path, plain, coded, meta


def _waves(spec) -> range:
    return range(1, spec.waves + 1)


def _wave_matrix(frame: pd.DataFrame, name: str, spec) -> np.ndarray:
    """Persons x waves of one wave variable, codes as NaN."""
    return np.column_stack([pd.to_numeric(frame[f"r{w}{name}"], errors="coerce").to_numpy(float)
                            for w in _waves(spec)])


# ---------------------------------------------------------------------------------------------
# The written file


def test_file_has_rand_names_in_rand_order(written, spec):
    _, plain, _, meta = written
    cognition = [*spec.cognition.items, spec.cognition.dementia_item]  # written after each wave's RAND items
    expected = list(PERSON_VARIABLES) + [name for w in _waves(spec) for name in
                                         [f"r{w}{v}" for v in WAVE_VARIABLES] + [t.format(w=w) for t in cognition]]
    assert list(meta.column_names) == expected
    assert list(plain.columns) == expected
    assert len(plain) == PERSONS and plain["hhidpn"].is_unique


def test_file_label_and_column_labels_say_synthetic(written):
    _, _, _, meta = written
    assert "SYNTHETIC" in meta.file_label
    assert meta.file_label == SYNTHETIC_LABEL[:80]
    assert all("SYNTHETIC" in label for label in meta.column_labels)


@pytest.mark.parametrize("name", sorted(CODES))
def test_wave_values_within_documented_codes(written, spec, name):
    _, plain, _, _ = written
    values = _wave_matrix(plain, name, spec)
    seen = set(np.unique(values[~np.isnan(values)]).astype(int))
    assert seen <= CODES[name], f"{name}: undocumented {sorted(seen - CODES[name])}"
    assert np.allclose(values[~np.isnan(values)] % 1, 0)


def test_person_values_within_documented_codes(written, spec):
    _, plain, _, _ = written
    assert set(plain["ragender"]) == {1.0, 2.0}
    assert plain["raedyrs"].between(0, 17).all() and (plain["raedyrs"] % 1 == 0).all()
    first = spec.first_year
    low, high = spec.age_range
    assert plain["rabyear"].between(first - high - 1, first - low).all()
    died = plain["radyear"].notna()
    assert (died == plain["radmonth"].notna()).all()
    assert plain.loc[died, "radmonth"].isin(range(1, 13)).all()
    last_year = first + 2 * (spec.waves - 1) + 1
    assert plain.loc[died, "radyear"].between(first, last_year).all()


def test_age_and_interview_dates_follow_the_biennial_design(written, spec):
    _, plain, _, _ = written
    first = spec.first_year
    year, month = _wave_matrix(plain, "iwendy", spec), _wave_matrix(plain, "iwendm", spec)
    index = (year - first) * 12 + month - 1
    gaps = np.diff(index, axis=1)
    assert np.all(gaps[~np.isnan(gaps)] == 24)
    age = _wave_matrix(plain, "agey_e", spec)
    born = plain["rabyear"].to_numpy()[:, None]
    assert np.nanmin(age) >= spec.age_range[0] - 1
    # age at the interview is year - birth year or one less (birthday not yet reached)
    delta = (year - born) - age
    assert set(np.unique(delta[~np.isnan(delta)])) <= {0.0, 1.0}


def test_item_nonresponse_is_stata_extended_missing(written, spec):
    """.d and .r appear in the items (about item_missing of the interviews), never in status or dates."""
    _, plain, coded, meta = written
    q = spec.nuisance.item_missing
    for name in ITEMS:
        values = pd.concat([coded[f"r{w}{name}"] for w in _waves(spec)])
        codes = values.map(lambda v: isinstance(v, str))
        interviewed = _wave_matrix(plain, "iwstat", spec) == 1
        assert set(values[codes]) <= {"d", "r"}
        share = codes.sum() / interviewed.sum()
        assert 0.3 * q < share < 2 * q, (name, share)
    for name in ("iwstat", "iwendy", "iwendm", "agey_e"):
        assert not any(f"r{w}{name}" in meta.missing_user_values for w in _waves(spec))


def test_extended_missing_read_as_nan(written, spec):
    _, plain, coded, _ = written
    for w in (1, 2):
        column = f"r{w}cesd"
        codes = coded[column].map(lambda v: isinstance(v, str))
        assert codes.any()
        assert plain.loc[codes, column].isna().all()
        assert plain.loc[~codes, column].equals(coded.loc[~codes, column].astype(float))


# ---------------------------------------------------------------------------------------------
# Wave status and death dates


def test_interviewed_until_death_or_dropout_then_never_again(written, spec):
    _, plain, _, _ = written
    status = _wave_matrix(plain, "iwstat", spec)
    assert (status[:, 0] == IWSTAT["responded"]).all()  # everyone enters at wave 1
    for row in status:
        left = np.flatnonzero(row != IWSTAT["responded"])
        if len(left):
            assert (row[left[0]:] != IWSTAT["responded"]).all()


def test_after_death_5_then_6(written, spec):
    _, plain, _, _ = written
    status = _wave_matrix(plain, "iwstat", spec)
    died = plain["radyear"].notna().to_numpy()
    assert died.any()
    for row, dead in zip(status, died):
        fives = np.flatnonzero(row == IWSTAT["died_this_wave"])
        sixes = np.flatnonzero(row == IWSTAT["died_earlier"])
        if not dead:
            assert len(fives) == 0 and len(sixes) == 0
            continue
        if len(fives) == 0:  # death after the last wave's status is impossible: deaths happen between waves
            pytest.fail(f"a dead person without a 5: {row}")
        assert len(fives) == 1
        assert (row[fives[0] + 1:] == IWSTAT["died_earlier"]).all()
        assert np.isin(row[:fives[0]], [IWSTAT["responded"], IWSTAT["alive_nonresponse"]]).all()


def test_death_dates_after_the_last_interview_and_before_the_death_wave(written, spec):
    _, plain, _, _ = written
    first = spec.first_year
    status = _wave_matrix(plain, "iwstat", spec)
    year, month = _wave_matrix(plain, "iwendy", spec), _wave_matrix(plain, "iwendm", spec)
    interview = (year - first) * 12 + month - 1
    death = ((plain["radyear"] - first) * 12 + plain["radmonth"] - 1).to_numpy()
    month0 = interview[:, 0]
    for i in np.flatnonzero(~np.isnan(death)):
        last = np.nanmax(interview[i])
        assert death[i] >= last, (i, death[i], last)  # same month at the earliest (month resolution)
        wave_of_death = int(np.flatnonzero(status[i] == IWSTAT["died_this_wave"])[0]) + 1
        # the death falls in the nominal interval (wave_of_death - 1, wave_of_death]
        start = month0[i] + 24 * (wave_of_death - 2)
        assert start <= death[i] < start + 24


# ---------------------------------------------------------------------------------------------
# Reproducibility, spec errors, the truth record


def test_same_seed_same_data_other_seed_other_data(spec, simulated):
    frame, truth = simulated
    again, truth_again = simulate_cohort(spec, persons=PERSONS)
    pd.testing.assert_frame_equal(frame, again)
    assert truth == truth_again
    other, truth_other = simulate_cohort(spec, persons=PERSONS, seed=spec.seed + 1)
    assert truth_other["seed"] == spec.seed + 1
    assert not frame["rabyear"].equals(other["rabyear"])
    assert not frame["r5cesd"].equals(other["r5cesd"])


@pytest.mark.parametrize("key", TRUTH_KEYS)
def test_missing_truth_key_is_named(raw_spec, key):
    bad = copy.deepcopy(raw_spec)
    del bad["truth"][key]
    _refused(bad, rf"cohorts\.synthetic: truth\.{key}: required key missing")


@pytest.mark.parametrize("key", ["persons", "waves", "age_range", "seed", "depression", "truth", "nuisance"])
def test_missing_top_key_is_named(raw_spec, key):
    bad = copy.deepcopy(raw_spec)
    del bad[key]
    _refused(bad, rf"cohorts\.synthetic: {key}: required key missing")


def test_first_year_has_a_default(raw_spec):
    """``first_year`` may be left out: the schema's default is RAND's first wave year, params.yaml's value."""
    bad = copy.deepcopy(raw_spec)
    del bad["first_year"]
    assert validate(Synthetic, bad, "cohorts.synthetic").first_year == 1992 == raw_spec["first_year"]


def test_missing_nuisance_key_is_named(raw_spec):
    bad = copy.deepcopy(raw_spec)
    del bad["nuisance"][NUISANCE_KEYS[5]]
    _refused(bad, rf"nuisance\.{NUISANCE_KEYS[5]}: required key missing")


def test_contact_intercepts_need_four_numbers(raw_spec):
    bad = copy.deepcopy(raw_spec)
    bad["nuisance"]["contact_intercepts"] = [-1.5, -0.8, -0.9]
    _refused(bad, r"nuisance\.contact_intercepts: List should have at least 4 items")


@pytest.mark.parametrize("persons, problem", [(5, "greater than or equal to 10"), (9, "greater than or equal to 10"),
                                              (0, "greater than or equal to 10"), (100.5, "a valid integer"),
                                              ("1000", "a valid integer")])
def test_persons_below_10_or_not_whole_is_an_error(raw_spec, persons, problem):
    _refused(dict(raw_spec, persons=persons), rf"persons = {persons!r}: Input should be {problem}")


def test_persons_given_to_the_simulation_below_10_is_an_error(spec):
    """A test's own ``persons=`` is checked by the simulation itself (the schema checks params.yaml's)."""
    with pytest.raises(ValueError, match="persons is 5"):
        simulate_cohort(spec, persons=5)


@pytest.mark.parametrize("change, key", [({"waves": 1}, r"waves = 1: Input should be greater than or equal to 2"),
                                         ({"waves": 31}, r"waves = 31: Input should be less than or equal to 30"),
                                         ({"age_range": [80, 50]},
                                          r"age_range: \[80(\.0)?, 50(\.0)?\] must be \[youngest, oldest\]"),
                                         ({"age_range": [50]}, r"age_range: List should have at least 2 items")])
def test_other_invalid_values_are_named(raw_spec, change, key):
    _refused(dict(raw_spec, **change), key)


def test_truth_record(spec, simulated):
    frame, truth = simulated
    assert truth["label"] == SYNTHETIC_LABEL and "SYNTHETIC" in truth["label"]
    assert truth["truth"] == {k: float(getattr(spec.truth, k)) for k in TRUTH_KEYS}
    assert list(truth["truth"]) == list(TRUTH_KEYS)
    assert truth["persons"] == PERSONS and truth["waves"] == spec.waves and truth["seed"] == spec.seed
    status = np.column_stack([frame[f"r{w}iwstat"].astype(float) for w in _waves(spec)])
    assert truth["person_waves_interviewed"] == int((status == IWSTAT["responded"]).sum())
    assert truth["deaths"] > 0 and truth["cvd_events"] > 0 and truth["dropouts"] > 0
    # the deaths counted are those of persons still in the study; every one of them has a death date
    assert truth["deaths"] <= int(frame["radyear"].notna().sum())
    assert 0 <= truth["cesd_eta_clipped_share"] < 0.001  # default parameters: clipping is rare
