"""E-values (VanderWeele & Ding, Ann Intern Med 2017): how strong unmeasured confounding would have to be
to explain away an association.

The E-value of a risk ratio RR > 1 is ``RR + sqrt(RR (RR - 1))``: the minimum strength of association, on
the risk-ratio scale, that an unmeasured confounder would need with both the exposure and the outcome,
conditional on the measured covariates, to fully explain away the observed RR. A protective RR < 1 is
inverted first. The E-value of the confidence interval is that of the limit closest to 1 (1 when the
interval includes 1).

Hazard and odds ratios are first converted to the risk-ratio scale (VanderWeele 2017, "On a square-root
transformation of the odds ratio for a common outcome"; VanderWeele, Ding & Mathur 2019):

* rare outcome (cumulative incidence or prevalence below ``rare_below``, 15% by convention): RR ~ HR ~ OR;
* common outcome: RR ~ sqrt(OR) for an odds ratio, and RR ~ (1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1/HR)) for a
  hazard ratio.

Which conversion was used is returned beside every E-value.
"""

from __future__ import annotations

import math

RARE_BELOW = 0.15


def evalue_rr(rr: float) -> float:
    """E-value of a risk ratio (a protective one is inverted first); NaN for a missing or non-positive RR."""
    if rr is None or not math.isfinite(rr) or rr <= 0:
        return math.nan
    rr = rr if rr >= 1 else 1 / rr
    return rr + math.sqrt(rr * (rr - 1))


def to_risk_ratio(ratio: float, measure: str, outcome_share: float, rare_below: float = RARE_BELOW
                  ) -> tuple[float, str]:
    """``ratio`` (measure "RR", "HR" or "OR") on the risk-ratio scale, and the conversion used.

    ``outcome_share`` is the proportion of the sample with the outcome (events / n): below ``rare_below``
    the outcome counts as rare and HR and OR approximate the RR directly."""
    if measure not in ("RR", "HR", "OR"):
        raise ValueError(f"E-values need a ratio measure (RR, HR or OR), not {measure!r}")
    if ratio is None or not math.isfinite(ratio) or ratio <= 0:
        return math.nan, "no estimate"
    rare = outcome_share < rare_below
    if measure == "RR" or rare:
        return ratio, ("none" if measure == "RR" else
                       f"rare outcome ({100 * outcome_share:.1f}% < {100 * rare_below:g}%): RR ~ {measure}")
    if measure == "OR":
        return math.sqrt(ratio), f"common outcome ({100 * outcome_share:.1f}%): RR ~ sqrt(OR)"
    converted = (1 - 0.5 ** math.sqrt(ratio)) / (1 - 0.5 ** math.sqrt(1 / ratio))
    return converted, f"common outcome ({100 * outcome_share:.1f}%): RR ~ (1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1/HR))"


def evalues(ratio: float, ci_low: float, ci_high: float, measure: str, outcome_share: float,
            rare_below: float = RARE_BELOW) -> dict:
    """E-values of a point estimate and of the CI limit closest to 1, with the conversion used."""
    rr, conversion = to_risk_ratio(ratio, measure, outcome_share, rare_below)
    low, _ = to_risk_ratio(ci_low, measure, outcome_share, rare_below)
    high, _ = to_risk_ratio(ci_high, measure, outcome_share, rare_below)
    if not all(math.isfinite(v) for v in (rr, low, high)):
        ci_evalue = math.nan
    elif low <= 1 <= high:
        ci_evalue = 1.0
    else:
        ci_evalue = evalue_rr(low if rr > 1 else high)
    return {"risk_ratio": rr, "evalue_estimate": evalue_rr(rr), "evalue_ci": ci_evalue, "conversion": conversion}
