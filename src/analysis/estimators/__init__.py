"""Estimators: a library with no study in it. Each fits from a spec and returns data (records or a result
object), never plots and never study wording; studies turn results into their own records and words.

* :mod:`.records` - the record contract every model returns (``RECORD_COLUMNS``, the vocabularies of ``model``,
  ``design``, ``vcov`` and ``interval``, checked by pandera), the model spec, shared helpers.
* :mod:`.vcov` - the one clustered (sandwich) covariance, with its small-sample factor.
* :mod:`.survival` - Cox proportional hazards (Efron ties) and its sandwich, the PH test.
* :mod:`.survey` - design-based (Taylor-linearised) Cox and GLM fits, t intervals on the design df.
* :mod:`.cox_time_varying` - Cox model with time-varying covariates on (start, stop] rows.
* :mod:`.discrete_time` - the discrete-time complementary log-log hazard on unit-intervals.
* :mod:`.incidence` - Kaplan-Meier and Aalen-Johansen curves, survey- or attrition-weighted.
* :mod:`.glm` - logistic and linear GLMs, survey-weighted pseudo-likelihood or unweighted.
* :mod:`.group_fixed_effects` - linear regression with a fixed effect per group, SE clustered by group.
* :mod:`.mixed` - random-intercept (and random-slope) models: the linear ones by REML through :mod:`.lmm`, the
  Laplace GLMM.
* :mod:`.lmm` - the fast REML linear mixed model from per-group sufficient statistics (lme4's estimates); every
  linear mixed model of the package (:mod:`.mixed`, :mod:`.panel.multilevel`, :mod:`.within_between`) fits with it.
* :mod:`.panel` - panel estimators, one module each (pooled and RE, FE and FD, Mundlak, conditional logit,
  growth model), the covariance a named option (``cov_type``), and the specification tests.
* :mod:`.sem` - the random-intercept cross-lagged panel model (RI-CLPM) by FIML.
* :mod:`.weights` - stabilised inverse-probability weights.
* :mod:`.runner` - one parallel-with-progress runner for independent fits.
"""
