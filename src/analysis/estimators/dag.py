"""Adjustment sets from a causal diagram, by pgmpy (not by hand).

A study writes its assumptions as a directed acyclic graph (nodes, edges, unmeasured nodes); this module asks
pgmpy 1.1 (``pgmpy.base.DAG`` with exposure/outcome/adjustment roles, ``pgmpy.identification.Adjustment``;
Perkovic et al. 2017) which sets of measured nodes identify the total effect of an exposure on an outcome,
and checks each candidate covariate set a study fits:

* ``valid_backdoor``: Pearl's back-door criterion, both of its conditions: (i) no member is a descendant of
  the exposure, (ii) the set blocks every back-door path. pgmpy's validator (``Adjustment().validate``, and
  the older ``CausalInference.is_valid_backdoor_adjustment_set``) tests (ii) only: on the NHANES diagram it
  accepts a set holding the mediators BMI and hypertension. Condition (i) is therefore added here, from the
  graph's descendants (networkx);
* ``mediators``: the members that are descendants of the exposure (adjusting for them estimates a controlled
  direct effect, not the total effect, and can open collider paths);
* the minimal adjustment set (``Adjustment(variant="minimal")``) and every inclusion-minimal adjustment set
  (those of ``variant="all"`` with no valid proper subset), over measured nodes only: with an unmeasured confounder
  of exposure and outcome there is none, which the record says.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import networkx as nx
import pandas as pd

if TYPE_CHECKING:
    from pgmpy.base import DAG


def _pgmpy():
    """pgmpy's ``DAG`` and ``Adjustment``, imported on first use: pgmpy (with scikit-learn) costs about 1.5 s CPU
    at import, which every stage that imports this module but draws no diagram would pay (issue 23)."""
    with warnings.catch_warnings():  # pgmpy 1.1 warns at import about its own deprecated estimators
        warnings.simplefilter("ignore", FutureWarning)
        from pgmpy.base import DAG
        from pgmpy.identification import Adjustment
    return DAG, Adjustment


#: How a record writes an empty set of nodes (an em dash: the manuscript refuses the word "none" as a placeholder).
NO_NODES = "\u2014"
ADJUSTMENT_COLUMNS = ["exposure", "outcome", "covariate_set", "variables", "valid_backdoor", "mediators",
                      "minimal_set", "backdoor_sets", "latent_confounders"]


def causal_dag(edges: Iterable[Sequence[str]], latents: Iterable[str] = ()) -> list[tuple[str, str]]:
    """The diagram's ``(parent, child)`` pairs, checked: each edge two node names, no cycle, every latent node
    in some edge. Raises ValueError naming the fault."""
    pairs = []
    for i, edge in enumerate(edges):
        if len(edge) != 2 or not all(isinstance(node, str) and node for node in edge):
            raise ValueError(f"edge {i} is {edge!r}; write each edge as [parent, child]")
        pairs.append((edge[0], edge[1]))
    graph = nx.DiGraph(pairs)
    if not nx.is_directed_acyclic_graph(graph):
        raise ValueError(f"the diagram has a cycle: {nx.find_cycle(graph)}")
    unknown = set(latents) - set(graph.nodes)
    if unknown:
        raise ValueError(f"latent nodes {sorted(unknown)} are not in any edge")
    return pairs


def _names(nodes) -> str:
    return ", ".join(sorted(nodes)) if nodes else NO_NODES


def _roles_dag(pairs, latents, exposure: str, outcome: str, adjustment=None) -> DAG:
    roles = {"exposures": exposure, "outcomes": outcome}
    if adjustment:
        roles["adjustment"] = list(adjustment)
    return _pgmpy()[0](pairs, latents=set(latents), roles=roles)


def adjustment_report(edges: Iterable[Sequence[str]], exposure: str, outcome: str,
                      candidate_sets: Mapping[str, Sequence[str]], latents: Iterable[str] = ()) -> pd.DataFrame:
    """One row per candidate covariate set (:data:`ADJUSTMENT_COLUMNS`): is it a valid back-door set for the
    total effect of ``exposure`` on ``outcome``, which of its variables are mediators (descendants of the
    exposure), and the diagram's minimal adjustment set and every minimal set (measured nodes)."""
    latents = list(latents)
    pairs = causal_dag(edges, latents)
    graph = nx.DiGraph(pairs)
    for node in (exposure, outcome):
        if node not in graph:
            raise ValueError(f"'{node}' is not a node of the diagram (nodes: {', '.join(sorted(graph))})")
    descendants = nx.descendants(graph, exposure)
    confounding_latents = {u for u in latents if nx.has_path(graph, u, exposure) and nx.has_path(graph, u, outcome)}
    Adjustment = _pgmpy()[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        minimal, found = Adjustment(variant="minimal").identify(_roles_dag(pairs, latents, exposure, outcome))
        every, found_all = Adjustment(variant="all").identify(_roles_dag(pairs, latents, exposure, outcome))
    minimal_text = (_names(minimal.get_role_dict().get("adjustment", [])) if found
                    else "no measured set: an unmeasured confounder cannot be adjusted for")
    valid_sets = [frozenset(g.get_role_dict().get("adjustment", [])) for g in every] if found_all else []
    # pgmpy's "all" lists every valid set; the inclusion-minimal ones are those with no valid proper subset
    sets = sorted("{" + _names(v) + "}" for v in valid_sets if not any(o < v for o in valid_sets))
    rows = []
    for name, variables in candidate_sets.items():
        missing = [v for v in variables if v not in graph]
        if missing:
            raise ValueError(f"covariate set '{name}': {missing} are not nodes of the diagram; add them (with their "
                             "edges) or leave them out of the set")
        mediators = set(variables) & descendants
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            blocks = bool(Adjustment().validate(_roles_dag(pairs, latents, exposure, outcome, variables)))
        rows.append({"exposure": exposure, "outcome": outcome, "covariate_set": name,
                     "variables": _names(variables), "valid_backdoor": blocks and not mediators,
                     "mediators": _names(mediators), "minimal_set": minimal_text,
                     "backdoor_sets": "; ".join(sets) if sets else "no measured set",
                     "latent_confounders": _names(confounding_latents)})
    return pd.DataFrame(rows, columns=ADJUSTMENT_COLUMNS)
