"""The adapter on files in each real layout (RAND HRS + Harmonized HRS, H_ELSA, H_SHARE, H_CHARLS).

The files are generated (tests/support/real_layouts.py) with the true names, codes, wave
coverage, alternating Leave-Behind and Stata missing codes; each is read through the adapter with its
params.yaml block as shipped (only the paths set) and fitted. Errors name the file, variable and wave.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from analysis.core.settings import validate
from analysis.studies.cohorts.clean import (
    CleaningError,
    build_study_panel,
    capability_table,
    loneliness_definition,
    study_definitions,
)
from analysis.studies.cohorts.models import NO_CARRY, carry_forward, run_cohort_models, specification_keys
from analysis.studies.cohorts.settings import CohortStudy
from analysis.studies.cohorts.source import CohortFileError
from support.config import edited
from support.real_layouts import generate_layout, layout_block, layout_spec, write_layout

STUDIES = ("hrs", "elsa", "share", "charls")


@pytest.fixture(scope="module")
def raw_cohorts(raw_params) -> dict:
    """params.yaml's ``cohorts:`` block as plain YAML values (the layouts are generated from it)."""
    return copy.deepcopy(raw_params["cohorts"])


@pytest.fixture(scope="module")
def cohorts(params):
    """params.yaml's ``cohorts:`` settings, validated (a study's index is its block's, whatever its path)."""
    return params.cohorts


@pytest.fixture(scope="module")
def layouts(raw_cohorts, tmp_path_factory) -> dict:
    out = {}
    for i, study in enumerate(STUDIES):
        frames = generate_layout(study, raw_cohorts, n=300, seed=11 + i)
        paths = write_layout(frames, tmp_path_factory.mktemp(study), study)
        out[study] = (frames, paths)
    return out


@pytest.fixture(scope="module")
def panels(raw_cohorts, cohorts, layouts) -> dict:
    out = {}
    for study, (_, paths) in layouts.items():
        panel, _, _ = build_study_panel(study, layout_spec(raw_cohorts, study, paths), cohorts)
        out[study] = panel
    return out


def _observed_waves(panel: pd.DataFrame, column: str) -> list[int]:
    iw = panel.loc[panel["interviewed"] == 1]
    return sorted(iw.loc[iw[column].notna(), "wave"].unique().tolist())


def test_every_layout_reads_into_the_long_panel(panels):
    for study, panel in panels.items():
        assert panel["person_id"].nunique() == 300, study
        assert not panel.duplicated(["person_id", "wave"]).any()
        assert panel["depression_score"].notna().any() and panel["isolation_index"].notna().any()


def test_measures_start_where_the_study_starts_them(panels):
    """HRS: no CES-D at wave 1, Leave-Behind loneliness from wave 8, socmn (so the index) from wave 9;
    ELSA loneliness from wave 2; SHARE lnlys3 from wave 5, socyr from wave 4; CHARLS: no loneliness."""
    assert _observed_waves(panels["hrs"], "depression_score")[0] == 2
    assert _observed_waves(panels["hrs"], "loneliness")[0] == 8
    assert _observed_waves(panels["hrs"], "isolation_index")[0] == 9
    assert _observed_waves(panels["elsa"], "loneliness")[0] == 2
    assert _observed_waves(panels["share"], "loneliness")[0] == 5
    assert _observed_waves(panels["share"], "isolation_index")[0] == 4
    assert panels["charls"]["loneliness"].isna().all()


def test_hrs_leave_behind_alternates_and_the_mean_score_is_on_the_3_9_scale(panels, layouts):
    hrs = panels["hrs"]
    lone = hrs.loc[hrs["loneliness"].notna()]
    assert not (lone.groupby("person_id")["wave"].diff() == 1).any()  # never two consecutive waves
    frames, _ = layouts["hrs"]
    raw = frames["main"].set_index("hhidpn")["r9lblonely3"]
    raw = pd.to_numeric(raw, errors="coerce").dropna()
    got = hrs.loc[hrs["wave"] == 9].set_index("person_id")["loneliness"]
    ids = [str(int(i)) for i in raw.index]
    np.testing.assert_allclose(got.reindex(ids).dropna().to_numpy(), 3 * raw.to_numpy()[got.reindex(ids).notna()])


def test_stata_missing_codes_are_missing_not_numbers(panels, layouts):
    frames, _ = layouts["elsa"]
    column = frames["main"]["r3complac"]
    coded = column.map(lambda v: isinstance(v, str))
    assert coded.any() and set(column[coded]) <= {"d", "r", "m"}
    ids = frames["main"].loc[coded, "idauniq"].map(lambda v: str(int(v)))
    elsa = panels["elsa"].set_index(["person_id", "wave"])
    assert elsa.loc[[(i, 3) for i in ids if (i, 3) in elsa.index], "loneliness"].isna().all()


def test_hrs_contact_items_come_from_the_joined_harmonized_file(panels):
    hrs = panels["hrs"]
    assert hrs["contact_family_friends"].notna().any() and hrs["contact_family"].isna().all()


def test_charls_education_codes_become_years(panels, layouts):
    frames, _ = layouts["charls"]
    codes = frames["main"].set_index("ID")["raeduc_c"]
    got = panels["charls"].groupby("person_id")["education_years"].first()
    mapping = {1: 0, 2: 3, 3: 3, 4: 6, 5: 9, 6: 12, 7: 12, 8: 15, 9: 16, 10: 19}
    assert (got.reindex(codes.index).to_numpy() == codes.map(mapping).to_numpy()).all()


def test_capability_table_states_each_studys_definitions(cohorts, panels):
    for study, panel in panels.items():
        cap = capability_table(panel, study, study_definitions(study, cohorts.studies[study], cohorts))
        assert set(cap["study"]) == {study}
        assert cap["share_observed"].between(0, 1).all()
        iso = cap.loc[cap["measure"] == "isolation_index", "definition"].iloc[0]
        assert study.upper() in iso and "weekly" in iso
    charls = capability_table(panels["charls"], "charls", study_definitions("charls", cohorts.studies["charls"],
                                                                             cohorts))
    assert (charls.loc[charls["measure"] == "loneliness", "share_observed"] == 0).all()
    assert "not measured" in charls.loc[charls["measure"] == "loneliness", "definition"].iloc[0]


def test_each_layout_fits_and_a_missing_exposure_is_said(cohorts, panels):
    # the typed settings the models_cohorts stage passes, cut down to two estimators
    spec = edited(cohorts.models, estimators=["two_way_fe", "cloglog_hazard"])
    carry = {k: v.carry_forward for k, v in cohorts.studies.items()}
    panel = pd.concat(list(panels.values()), ignore_index=True)
    records, curves = run_cohort_models(panel, spec, carry=carry)
    # every study has cumulative-incidence curves; HRS (isolation from wave 9) from its first interview with
    # the index, at time 0 there
    assert set(curves["study"]) == set(STUDIES)
    hrs_curves = curves.loc[curves["study"] == "hrs"]
    assert set(hrs_curves["outcome"]) == {"cvd", "death"} and hrs_curves["time_months"].min() == 0
    for study in STUDIES:
        sub = records.loc[records["study"] == study]
        assert len(sub) and sub["estimate"].notna().all(), study
    charls = records.loc[records["study"] == "charls"]
    assert set(charls["exposure"]) == {"isolation_index"}
    assert charls["note"].str.contains("loneliness not measured in this study: fitted without it").all()
    hrs = records.loc[(records["study"] == "hrs") & (records["model"] == "fixed_effects")]
    assert set(hrs["sample"]) == {"main", NO_CARRY}  # the sensitivity run is a sample of its own, same model
    assert {"two_way_fe", "two_way_fe_no_carry"} <= set(specification_keys(hrs))
    carried, plain = hrs.loc[hrs["sample"] == "main"], hrs.loc[hrs["sample"] == NO_CARRY]
    assert carried["note"].str.contains("carried forward at most 1 wave").all()
    assert plain["note"].str.contains("no carry-forward").all()
    assert carried["n"].iloc[0] > plain["n"].iloc[0]  # carrying links more interviews to an exposure
    assert set(records.loc[records["study"] != "hrs", "sample"]) == {"main"}


def test_carry_forward_by_hand():
    """Person 1: loneliness 4 at wave 8, none at 9 (carried: 4), none at 10 (2 waves old: not carried);
    person 2: 5 at wave 8, not interviewed at 9, none at 10 (2 waves old: not carried)."""
    panel = pd.DataFrame({"person_id": ["1"] * 3 + ["2"] * 3, "wave": [8, 9, 10] * 2,
                          "interviewed": [1, 1, 1, 1, 0, 1], "loneliness": [4, np.nan, np.nan, 5, np.nan, np.nan]})
    out, filled = carry_forward(panel, ["loneliness"], 1)
    assert filled == 1
    np.testing.assert_array_equal(out["loneliness"].to_numpy(), [4, 4, np.nan, 5, np.nan, np.nan])
    two, filled2 = carry_forward(panel, ["loneliness"], 2)
    assert filled2 == 3  # person 1 waves 9 and 10 from wave 8, person 2 wave 10 from wave 8
    np.testing.assert_array_equal(two["loneliness"].to_numpy(), [4, 4, 4, 5, np.nan, 5])
    same, none = carry_forward(panel, ["loneliness"], 0)
    assert none == 0 and same["loneliness"].isna().sum() == 4


def test_misnamed_variable_names_the_files_and_variable(raw_cohorts, cohorts, layouts, tmp_path):
    frames, _ = layouts["hrs"]
    join = frames["join"].rename(columns=lambda c: c.replace("rfcnt", "rfcntm"))
    paths = write_layout({"main": frames["main"], "join": join}, tmp_path, "hrs")
    with pytest.raises(CohortFileError) as err:
        build_study_panel("hrs", layout_spec(raw_cohorts, "hrs", paths), cohorts)
    message = str(err.value)
    assert "H_HRS_d.dta" in message and "r{w}rfcnt" in message and "every wave" in message


def test_join_file_not_set_is_named(raw_cohorts, cohorts, layouts):
    _, paths = layouts["hrs"]
    block = layout_block(raw_cohorts, "hrs", paths)
    block["join"][0]["path"] = None
    spec = validate(CohortStudy, block, "cohorts.studies.hrs")
    with pytest.raises(CohortFileError, match=r"cohorts\.studies\.hrs\.join\[0\]\.path"):
        build_study_panel("hrs", spec, cohorts)


def test_waves_that_disagree_with_the_file_stop_the_clean_stage(raw_cohorts, cohorts, layouts):
    """A wave map that leaves out waves the file has (their interviews would be dropped without a word), or
    lists waves the file lacks, is an error naming the file, the item and the waves: the same rule as the check
    before the run (cohorts/inputs.py)."""
    _, paths = layouts["hrs"]
    block = layout_block(raw_cohorts, "hrs", paths)
    block["waves"] = {w: y for w, y in block["waves"].items() if int(w) <= 12}
    with pytest.raises(CohortFileError, match=r"has waves \[13, 14, 15\] \(r13iwstat, \.\.\.\) that "
                                              r"cohorts\.studies\.hrs\.waves leaves out"):
        build_study_panel("hrs", validate(CohortStudy, block, "cohorts.studies.hrs"), cohorts)
    block["waves"] = {**{w: y for w, y in layout_block(raw_cohorts, "hrs", paths)["waves"].items()}, 16: 2022}
    with pytest.raises(CohortFileError, match=r"cohorts\.studies\.hrs\.waves lists waves \[16\], but .* has no "
                                              r"r16iwstat"):
        build_study_panel("hrs", validate(CohortStudy, block, "cohorts.studies.hrs"), cohorts)


def test_wrong_studys_file_says_which_study_it_is(raw_cohorts, cohorts, layouts):
    _, hrs_paths = layouts["hrs"]
    _, elsa_paths = layouts["elsa"]
    spec = layout_spec(raw_cohorts, "hrs", {"main": elsa_paths["main"], "join": hrs_paths["join"]})
    with pytest.raises(CohortFileError) as err:
        build_study_panel("hrs", spec, cohorts)
    assert "h_elsa_g3.dta" in str(err.value) and "ELSA" in str(err.value) and "hhidpn" in str(err.value)


def test_loneliness_score_out_of_range_names_file_column(raw_cohorts, cohorts, layouts, tmp_path):
    frames, _ = layouts["share"]
    main = frames["main"].copy()
    first = main["r6lnlys3"].map(lambda v: not isinstance(v, str) and pd.notna(v)).idxmax()
    main.loc[first, "r6lnlys3"] = 3.5
    paths = write_layout({"main": main}, tmp_path, "share")
    with pytest.raises(CleaningError) as err:
        build_study_panel("share", layout_spec(raw_cohorts, "share", paths), cohorts)
    message = str(err.value)
    assert "H_SHARE_f.dta" in message and "r6lnlys3" in message and "3.5" in message and "1-3" in message


def test_reversed_item_codes_for_harmonized_hrs_items(raw_cohorts, cohorts):
    hrs = raw_cohorts["studies"]["hrs"]
    items = {"items": ["r{w}complac", "r{w}leftout", "r{w}isolate"], "codes": {1: 3, 2: 2, 3: 1}}
    assert "reversed" in loneliness_definition(validate(CohortStudy, {**hrs, "loneliness": items}, "hrs"))
    assert "not measured" in loneliness_definition(validate(CohortStudy, {**hrs, "loneliness": None}, "hrs"))
    assert "x 3" in loneliness_definition(cohorts.studies["hrs"])


def test_a_bad_code_in_the_joined_file_names_that_file(raw_cohorts, cohorts, layouts, tmp_path):
    """A value outside its codes in a column of the Harmonized HRS file (joined to RAND) names the H_HRS file,
    not the RAND one: the user must know which file to fix."""
    frames, _ = layouts["hrs"]
    join = frames["join"].copy()
    column = next(c for c in join.columns if c.endswith("kcnt") and join[c].map(
        lambda v: not isinstance(v, str) and pd.notna(v)).any())
    first = join[column].map(lambda v: not isinstance(v, str) and pd.notna(v)).idxmax()
    join.loc[first, column] = 5
    paths = write_layout({"main": frames["main"], "join": join}, tmp_path, "hrs")
    with pytest.raises(CleaningError) as err:
        build_study_panel("hrs", layout_spec(raw_cohorts, "hrs", paths), cohorts)
    message = str(err.value)
    assert "H_HRS_d.dta" in message and column in message and "5" in message
    assert "randhrs" not in message.lower()
