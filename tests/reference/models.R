# Reference numbers from R 4.2 (survival, survey, lme4) for tests/test_reference_r.py.
# Regenerate: PYTHONPATH=tests python tests/reference/make_data.py && Rscript tests/reference/models.R
# (Debian: apt-get install r-base-core r-cran-survival r-cran-survey r-cran-lme4). CI needs no R:
# expected.csv is committed.
suppressPackageStartupMessages({library(survival); library(survey); library(lme4); library(plm)})
here <- "tests/reference"
out <- list()
add <- function(model, fit_coef, fit_se) {
  out[[length(out) + 1]] <<- data.frame(model = model, term = names(fit_coef),
                                         estimate = unname(fit_coef), std_error = unname(fit_se))
}

cox <- read.csv(file.path(here, "cox.csv"))
cox$group <- factor(cox$group, levels = c("unexposed", "exposed"))
# design-based: survey weights, robust (sandwich) variance clustered by stratum x PSU
f <- coxph(Surv(followup_months, died) ~ group + z, data = cox, weights = weight, cluster = cluster, ties = "efron")
add("cox_design_based", coef(f), sqrt(diag(vcov(f))))
# multilevel: baseline hazards stratified by survey stratum, unweighted, clustered
f <- coxph(Surv(followup_months, died) ~ group + z + strata(stratum), data = cox, cluster = cluster, ties = "efron")
add("cox_multilevel", coef(f), sqrt(diag(vcov(f))))
# unweighted, model-based variance
f <- coxph(Surv(followup_months, died) ~ group + z, data = cox, ties = "efron")
add("cox_unweighted", coef(f), sqrt(diag(vcov(f))))

glm_data <- read.csv(file.path(here, "glm.csv"))
glm_data$group <- factor(glm_data$group, levels = c("Low", "Mid", "High"))
design <- svydesign(ids = ~cluster, weights = ~weight, data = glm_data)
f <- svyglm(case ~ group + age + sex, design = design, family = quasibinomial())
add("logistic_design_based", coef(f), sqrt(diag(vcov(f))))
f <- svyglm(y ~ score + age + sex, design = design)
add("linear_design_based", coef(f), sqrt(diag(vcov(f))))

mixed <- read.csv(file.path(here, "mixed.csv"))
mixed$isolation_group <- factor(mixed$isolation_group, levels = c("Low", "Moderate", "High"))
f <- lmer(phq9_score ~ isolation_group + age + (1 | stratum:psu), data = mixed, REML = TRUE)  # PSU within stratum only
add("linear_mixed", fixef(f), sqrt(diag(as.matrix(vcov(f)))))
vc <- as.data.frame(VarCorr(f))
out[[length(out) + 1]] <- data.frame(model = "linear_mixed_variance", term = vc$grp, estimate = vc$vcov,
                                     std_error = NA)

# Panel estimators (plm): cluster-robust by person without small-sample factor (vcovHC arellano, HC0)
panel <- pdata.frame(read.csv(file.path(here, "panel.csv")), index = c("person_id", "wave"))
robust <- function(f) sqrt(diag(vcovHC(f, method = "arellano", type = "HC0", cluster = "group")))
f <- plm(y ~ x + z + female + factor(wave), data = panel, model = "pooling")
add("panel_pooled_ols", coef(f), robust(f))
f <- plm(y ~ x + z, data = panel, model = "within", effect = "twoways")
add("panel_fixed_effects", coef(f), robust(f))
f <- plm(y ~ x + z + female + factor(wave), data = panel, model = "random", random.method = "swar")
add("panel_random_effects", coef(f), robust(f))
binary <- read.csv(file.path(here, "panel_binary.csv"))
f <- clogit(case ~ x + factor(wave) + strata(person_id), data = binary)
add("panel_conditional_logit", coef(f), sqrt(diag(vcov(f))))

expected <- do.call(rbind, out)
write.csv(expected, file.path(here, "expected.csv"), row.names = FALSE)
cat(sprintf("R %s, survival %s, survey %s, lme4 %s, plm %s\n", getRversion(), packageVersion("survival"),
            packageVersion("survey"), packageVersion("lme4"), packageVersion("plm")),
    file = file.path(here, "versions.txt"))
