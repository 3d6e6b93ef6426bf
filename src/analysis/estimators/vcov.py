"""The one clustered (sandwich) covariance of this package, and its small-sample convention.

Every cluster-robust standard error in the project uses ``V = G/(G-1) * sum_g D_g D_g'``: the
with-replacement linearisation variance, with ``D_g`` the sum over cluster ``g`` of each row's influence
(score contribution times the bread) and ``G`` the number of clusters. ``G/(G-1)`` is the factor Stata
applies to ``vce(cluster)`` for likelihood models; R ``plm``'s and ``coxph``'s plain sandwich omits it
(the tests compare against R with the factor divided out). Estimators either compute the sandwich here
(:func:`cluster_sandwich`, from per-row contributions) or take a library's *uncorrected* cluster covariance
(statsmodels ``use_correction=False``, linearmodels ``debiased=False, auto_df=False, count_effects=False``)
and apply the same factor (:func:`with_small_sample_factor`), so the convention is defined once.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import pandas as pd

Covariance = TypeVar("Covariance", np.ndarray, pd.DataFrame)


def small_sample_factor(n_clusters: int) -> float:
    """``G/(G-1)``; 1 for a single cluster (no correction is defined there)."""
    g = int(n_clusters)
    return g / (g - 1) if g > 1 else 1.0


def n_clusters(clusters) -> int:
    """Number of distinct clusters (missing labels are not allowed in an analytic sample)."""
    return int(pd.Series(np.asarray(clusters)).nunique())


def cluster_sandwich(influence: np.ndarray, clusters, small_sample: bool = True) -> np.ndarray:
    """``c * sum_g D_g D_g'`` with ``D_g`` the sum over cluster ``g`` of the rows of ``influence``.

    ``influence`` holds one row per observation: its score contribution times the bread (for a Cox model,
    the dfbeta residuals). ``c = G/(G-1)`` when ``small_sample`` (this package's convention), else 1.
    """
    influence = np.asarray(influence, dtype=float)
    codes, uniques = pd.factorize(np.asarray(clusters), sort=True)
    sums = np.zeros((len(uniques), influence.shape[1]))
    np.add.at(sums, codes, influence)
    factor = small_sample_factor(len(uniques)) if small_sample else 1.0
    return factor * sums.T @ sums


def with_small_sample_factor(uncorrected: Covariance, clusters) -> tuple[Covariance, int]:
    """A library's uncorrected cluster covariance times ``G/(G-1)``; returns (covariance, G)."""
    g = n_clusters(clusters)
    return uncorrected * small_sample_factor(g), g
