"""Adjustment sets from a causal diagram: textbook cases with known answers, and the back-door criterion's
no-descendant condition that pgmpy's validator leaves out."""

from __future__ import annotations

import pytest

from analysis.estimators.dag import ADJUSTMENT_COLUMNS, adjustment_report, causal_dag

# Peters, Janzing & Schoelkopf, Elements of Causal Inference (2017), Figure 6.5, p. 115 (also the example of
# R caugi::all_backdoor_sets): the minimal back-door sets for X -> Y are {A} and {K}.
ELEMENTS_6_5 = [("C", "X"), ("X", "F"), ("X", "D"), ("A", "X"), ("A", "K"), ("K", "Y"), ("D", "Y"), ("D", "G"),
                ("Y", "H")]


def test_textbook_minimal_sets_and_validity():
    report = adjustment_report(ELEMENTS_6_5, "X", "Y", {"A": ["A"], "K": ["K"], "C": ["C"], "none": [],
                                                         "A and D": ["A", "D"]}).set_index("covariate_set")
    assert list(report.columns) == [c for c in ADJUSTMENT_COLUMNS if c != "covariate_set"]
    assert report.loc["A", "backdoor_sets"] == "{A}; {K}"
    assert report.loc["A", "minimal_set"] in ("A", "K")
    assert report.loc["A", "valid_backdoor"] and report.loc["K", "valid_backdoor"]
    # C alone leaves X <- A -> K -> Y open; nothing leaves it open too
    assert not report.loc["C", "valid_backdoor"] and not report.loc["none", "valid_backdoor"]
    # D is on the causal path X -> D -> Y: blocking is not enough, a mediator is never in a back-door set
    assert report.loc["A and D", "mediators"] == "D" and not report.loc["A and D", "valid_backdoor"]


def test_confounder_mediator_and_latent():
    """L confounds X -> Y, M mediates it; with an unmeasured U -> X, U -> Y nothing measured suffices."""
    edges = [("L", "X"), ("L", "Y"), ("X", "M"), ("M", "Y"), ("X", "Y")]
    sets = {"L": ["L"], "L and M": ["L", "M"]}
    measured = adjustment_report(edges, "X", "Y", sets).set_index("covariate_set")
    assert measured.loc["L", "valid_backdoor"] and measured.loc["L", "minimal_set"] == "L"
    assert not measured.loc["L and M", "valid_backdoor"] and measured.loc["L and M", "mediators"] == "M"
    latent = adjustment_report([*edges, ("U", "X"), ("U", "Y")], "X", "Y", sets, latents=["U"]).set_index(
        "covariate_set")
    assert not latent["valid_backdoor"].any()
    assert latent.loc["L", "minimal_set"].startswith("no measured set") and latent.loc["L", "latent_confounders"] == "U"


@pytest.mark.parametrize("edges, latents, message", [
    ([("A", "B"), ("B", "A")], [], "cycle"),
    ([("A", "B", "C")], [], "edge 0"),
    ([("A", "B")], ["U"], "latent nodes"),
])
def test_bad_diagrams_are_named(edges, latents, message):
    with pytest.raises(ValueError, match=message):
        causal_dag(edges, latents)


def test_unknown_nodes_are_named():
    with pytest.raises(ValueError, match="'Z' is not a node"):
        adjustment_report(ELEMENTS_6_5, "Z", "Y", {})
    with pytest.raises(ValueError, match=r"covariate set 'bad': \['Q'\]"):
        adjustment_report(ELEMENTS_6_5, "X", "Y", {"bad": ["Q"]})
