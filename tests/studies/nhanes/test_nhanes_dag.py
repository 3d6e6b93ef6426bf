"""The NHANES causal diagram of params.yaml: which covariate set estimates the total effect of isolation."""

from __future__ import annotations

from analysis.studies.nhanes.dag import ASSUMPTIONS, dag_adjustment_table, dag_table_for_readers


def test_socioeconomic_set_is_the_total_effect_and_health_holds_mediators(params):
    table = dag_adjustment_table(params.nhanes)
    measured = table[table["assumption"] == ASSUMPTIONS["measured"]].set_index("covariate_set")
    assert list(measured.index) == list(params.nhanes.models.covariate_sets)
    assert measured.loc["socioeconomic", "valid_backdoor"]
    assert measured.loc["socioeconomic", "minimal_set"] == "age, education, income_poverty_ratio, race_ethnicity, sex"
    assert not measured.loc["age_sex", "valid_backdoor"]  # education and income confound
    assert not measured.loc["health", "valid_backdoor"]
    assert set(measured.loc["health", "mediators"].split(", ")) == {"bmi", "diabetes", "hypertension",
                                                                     "smoking_status"}
    latent = table[table["assumption"] == ASSUMPTIONS["latent"]]
    assert not latent["valid_backdoor"].any() and (latent["latent_confounders"] == "baseline_illness").all()
    shown = dag_table_for_readers(table)
    assert set(shown["Estimates"]) >= {"total effect", "not the total effect: adjusts for mediators (a direct effect)"}
