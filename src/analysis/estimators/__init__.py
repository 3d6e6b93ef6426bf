"""Estimators: a library with no study in it. Each fits from a spec and returns data (records or a result
object), never plots and never study wording; studies turn results into their own records and words.

* :mod:`.records` - the tidy record every model returns (``RECORD_COLUMNS``), the model spec, shared helpers.
* :mod:`.vcov` - the one clustered (sandwich) covariance, with its small-sample factor.
* :mod:`.survival` - Cox proportional hazards (Efron ties) and its sandwich, the PH test.
* :mod:`.incidence` - Kaplan-Meier and Aalen-Johansen curves, survey- or attrition-weighted.
* :mod:`.glm` - logistic and linear GLMs, survey-weighted pseudo-likelihood or unweighted.
* :mod:`.mixed` - random-intercept models (statsmodels MixedLM with one optimizer selection; VB logistic).
* :mod:`.lmm` - the fast REML linear mixed model from per-group sufficient statistics.
* :mod:`.panel` - within-person panel estimators (pooled, RE, FE, FD, Mundlak, conditional logit, growth).
* :mod:`.sem` - the random-intercept cross-lagged panel model (RI-CLPM) by FIML.
* :mod:`.weights` - stabilised inverse-probability weights.
* :mod:`.runner` - one parallel-with-progress runner for independent fits.
"""
