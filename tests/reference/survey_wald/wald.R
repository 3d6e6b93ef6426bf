# Design-based Wald tests and subgroup fits for tests/estimators/test_survey_wald.py: svyglm and svycoxph with an
# exposure x modifier interaction on svydesign(ids = ~psu, strata = ~stratum, weights = ~weight, nest = TRUE),
# regTermTest(fit, ~term, method = "Wald") of the interaction terms (F = W / q on (q, degf - p + 1), R's
# default ddf), and the model without the interaction within each level of the modifier (subset(design, ...)).
# Run from the repository root (or `make references`):
#   python tests/reference/survey_wald/make_data.py && Rscript tests/reference/survey_wald/wald.R
# Convergence is tightened (coxph eps 1e-11, glm epsilon 1e-12); svyglm is refitted from its solution so the
# variance is evaluated at the estimate (as tests/reference/survey/survey.R does).
suppressPackageStartupMessages({library(survival); library(survey)})
here <- "tests/reference/survey_wald"
options(survey.lonely.psu = "adjust")
cox_control <- coxph.control(eps = 1e-11, iter.max = 100)
glm_control <- glm.control(epsilon = 1e-12, maxit = 100)
svyglm_at_solution <- function(formula, design, ...) {
  first <- svyglm(formula, design = design, control = glm_control, ...)
  do.call(svyglm, list(formula, design = design, start = coef(first), control = glm_control, ...))
}
out <- list()
add_test <- function(model, fit, term, domain) {
  tt <- regTermTest(fit, term, method = "Wald")
  out[[length(out) + 1]] <<- data.frame(kind = "wald", model = model, term = deparse(term), estimate = NA,
                                         std_error = NA, F = as.numeric(tt$Ftest), df_num = tt$df, df_den = tt$ddf,
                                         p = as.numeric(tt$p), design_df = degf(domain), n = nrow(domain))
}
add_coefs <- function(model, fit, domain) {
  out[[length(out) + 1]] <<- data.frame(kind = "coefficient", model = model, term = names(coef(fit)),
                                         estimate = unname(coef(fit)), std_error = unname(sqrt(diag(vcov(fit)))),
                                         F = NA, df_num = NA, df_den = NA, p = NA, design_df = degf(domain),
                                         n = nrow(domain))
}

sim <- read.csv(file.path(here, "design.csv"))
sim$group <- factor(sim$group, levels = c("low", "mid", "high"))
sim$female <- factor(sim$female, levels = c("no", "yes"))
design <- svydesign(ids = ~psu, strata = ~stratum, weights = ~weight, nest = TRUE, data = sim)
complete <- with(sim, !is.na(x) & weight > 0)
dom <- subset(design, complete)

# x = TRUE: survey 4.1.1's model.matrix.svycoxph rebuilds the matrix WITH an intercept column when the fit does
# not store it, so regTermTest's term index is shifted by one and it tests the wrong coefficients (here
# grouphigh:femaleyes and x:femaleyes for ~group:female, and an out-of-bounds error for ~x:female).
f <- svycoxph(Surv(months, event) ~ group + x + female + group:female + x:female, design = dom,
              control = cox_control, x = TRUE)
add_test("cox", f, ~group:female, dom)
add_test("cox", f, ~x:female, dom)
f <- svyglm_at_solution(case ~ group + x + female + group:female, design = dom, family = quasibinomial())
add_test("logistic", f, ~group:female, dom)
f <- svyglm_at_solution(y ~ group + x + female + group:female + x:female, design = dom)
add_test("linear", f, ~group:female, dom)
add_test("linear", f, ~x:female, dom)

for (level in c("no", "yes")) {
  sub <- subset(design, complete & female == level)
  add_coefs(paste0("cox_female_", level),
            svycoxph(Surv(months, event) ~ group + x, design = sub, control = cox_control), sub)
  add_coefs(paste0("logistic_female_", level),
            svyglm_at_solution(case ~ group + x, design = sub, family = quasibinomial()), sub)
  add_coefs(paste0("linear_female_", level), svyglm_at_solution(y ~ group + x, design = sub), sub)
}

write.csv(do.call(rbind, out), file.path(here, "expected.csv"), row.names = FALSE)
cat(sprintf("R %s, survival %s, survey %s\n", getRversion(), packageVersion("survival"), packageVersion("survey")),
    file = file.path(here, "versions.txt"))
