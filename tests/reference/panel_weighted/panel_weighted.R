# Weighted panel estimators in R: the reference for analysis.estimators.panel with PanelLayout(weighted=True).
# Run from the repository root: Rscript tests/reference/panel_weighted/panel_weighted.R
# Writes expected.csv (model, term, estimate, std_error) and versions.txt.
# Coefficients: weighted least squares by lm(): pooled, and the two-way FE as the weighted LSDV (person and wave
# dummies), the WLS estimator linearmodels' weighted PanelOLS computes. plm(..., weights =) agrees for pooling
# (checked below) but not for the within model on an unbalanced panel: plm demeans with unweighted person
# means and then weights (0.4836 vs the weighted LSDV's 0.4839 for x here), which is not the WLS fit of the
# fixed-effects model, so it is not the reference. plm has no covariance for weighted fits ("vcovXX functions not implemented for weighted panel
# regressions"), so the SEs are sandwich::vcovCL(type = "HC0", cadjust = FALSE) on the weighted lm() fits (the
# LSDV for FE: by Frisch-Waugh-Lovell its residuals and partialled regressors equal the within fit's), i.e.
# the plain cluster-by-person sandwich; ours multiplies it by G/(G-1).
suppressPackageStartupMessages({library(plm); library(sandwich)})
here <- "tests/reference/panel_weighted"
d <- read.csv(file.path(here, "data.csv"), colClasses = c(person_id = "character"))
pd <- pdata.frame(d, index = c("person_id", "wave"))
plm_fits <- list(
  pooled_ols = plm(y ~ x + z + female + factor(wave), data = pd, model = "pooling", weights = weight)
)
lm_fits <- list(
  pooled_ols = lm(y ~ x + z + female + factor(wave), data = d, weights = weight),
  fixed_effects = lm(y ~ x + z + factor(person_id) + factor(wave), data = d, weights = weight),
  pooled_ols_unweighted = lm(y ~ x + z + female + factor(wave), data = d),
  fixed_effects_unweighted = lm(y ~ x + z + factor(person_id) + factor(wave), data = d)
)
rows <- list()
for (name in names(lm_fits)) {
  fit <- lm_fits[[name]]
  v <- vcovCL(fit, cluster = ~person_id, type = "HC0", cadjust = FALSE)
  for (term in c("x", "z")) {
    estimate <- unname(coef(fit)[term])
    if (name == "pooled_ols") {
      stopifnot(abs(coef(plm_fits[[name]])[term] - estimate) < 1e-8)  # plm and the weighted lm agree
    }
    rows[[length(rows) + 1]] <- data.frame(model = name, term = term, estimate = estimate,
                                           std_error = sqrt(v[term, term]))
  }
}
write.csv(do.call(rbind, rows), file.path(here, "expected.csv"), row.names = FALSE)
writeLines(c(R.version.string, paste("plm", packageVersion("plm")), paste("sandwich", packageVersion("sandwich"))),
           file.path(here, "versions.txt"))
