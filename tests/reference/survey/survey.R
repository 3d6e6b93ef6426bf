# Design-based (Taylor-linearisation) references for tests/estimators/test_survey.py: svycoxph and svyglm on
# svydesign(ids = ~psu, strata = ~stratum, weights = ~weight, nest = TRUE), each model on a domain
# (subset(design, ...)) of the full design. Run from the repository root:
#   python tests/reference/survey/make_data.py --table DIR && Rscript tests/reference/survey/survey.R DIR
# coxph ties: Efron (its default). (or `make references`). DIR holds table.csv/levels.csv exported from the analysis table (never committed).
# Without DIR only the simulated references are refitted; the table rows of expected.csv are kept.
# Convergence is tightened (coxph eps 1e-11, glm epsilon 1e-12) so the numbers are the limits, not the
# last iterate; the variance formulas are the package's own. glm() returns the working weights of its last
# IRLS iteration, evaluated at the previous iterate, and svyglm's variance uses them: svyglm_at_solution()
# refits from the solution (start = coef) so the variance is evaluated at the estimate (on the analysis
# table this moves the SEs by about 1e-6, relative).
suppressPackageStartupMessages({library(survival); library(survey)})
here <- "tests/reference/survey"
args <- commandArgs(trailingOnly = TRUE)
cox_control <- coxph.control(eps = 1e-11, iter.max = 100)
glm_control <- glm.control(epsilon = 1e-12, maxit = 100)
out <- list()
svyglm_at_solution <- function(formula, design, ...) {
  first <- svyglm(formula, design = design, control = glm_control, ...)
  do.call(svyglm, list(formula, design = design, start = coef(first), control = glm_control, ...))
}
add <- function(model, fit, domain, lonely) {
  out[[length(out) + 1]] <<- data.frame(model = model, term = names(coef(fit)), estimate = unname(coef(fit)),
                                         std_error = unname(sqrt(diag(vcov(fit)))), df = degf(domain),
                                         n = nrow(domain), lonely_psu = lonely)
}

# --- the tiny simulated design (design.csv, written by make_data.py) ---------------------------------------
sim <- read.csv(file.path(here, "design.csv"))
sim$group <- factor(sim$group, levels = c("low", "mid", "high"))
sim$female <- factor(sim$female, levels = c("no", "yes"))
design <- svydesign(ids = ~psu, strata = ~stratum, weights = ~weight, nest = TRUE, data = sim)
complete <- with(sim, !is.na(x) & weight > 0)
dom <- subset(design, complete)
women <- subset(design, complete & female == "yes")

options(survey.lonely.psu = "adjust")  # stratum S6 has a single PSU
f <- svycoxph(Surv(months, event) ~ group + x + female, design = dom, control = cox_control)
add("sim_cox", f, dom, "adjust")
f <- svyglm_at_solution(case ~ group + x + female, design = dom, family = quasibinomial())
add("sim_logistic", f, dom, "adjust")
f <- svyglm_at_solution(y ~ group + x + female, design = dom)
add("sim_linear", f, dom, "adjust")
f <- svyglm_at_solution(case ~ group + x, design = women, family = quasibinomial())
add("sim_logistic_women", f, women, "adjust")
f <- svycoxph(Surv(months, event) ~ group + x, design = women, control = cox_control)
add("sim_cox_women", f, women, "adjust")
options(survey.lonely.psu = "remove")
f <- svyglm_at_solution(y ~ group + x + female, design = dom)
add("sim_linear_remove", f, dom, "remove")
f <- svycoxph(Surv(months, event) ~ group + x + female, design = dom, control = cox_control)
add("sim_cox_remove", f, dom, "remove")

# --- the analysis table (exported at run time to a temporary folder) ---------------------------------------
old <- if (file.exists(file.path(here, "expected.csv"))) read.csv(file.path(here, "expected.csv")) else NULL
if (length(args) >= 1) {
  table <- read.csv(file.path(args[1], "table.csv"))
  levels <- read.csv(file.path(args[1], "levels.csv"))
  for (v in unique(levels$variable)) table[[v]] <- factor(table[[v]], levels = levels$level[levels$variable == v])
  options(survey.lonely.psu = "adjust")
  design <- svydesign(ids = ~psu, strata = ~stratum, weights = ~weight_interview, nest = TRUE, data = table)
  covariates <- c("age", "sex", "race_ethnicity", "education", "income_poverty_ratio", "smoking_status", "bmi",
                  "hypertension", "diabetes")
  rhs <- paste(c("isolation_category", covariates), collapse = " + ")
  domain_of <- function(outcomes) {
    keep <- complete.cases(table[, c(outcomes, "isolation_category", covariates)]) & table$weight_interview > 0
    subset(design, keep)
  }
  dom <- domain_of(c("followup_months", "died"))
  f <- svycoxph(as.formula(paste("Surv(followup_months, died) ~", rhs)), design = dom,
                control = cox_control)
  add("table_cox_all_cause_death", f, dom, "adjust")
  dom <- domain_of("depression_phq9")
  f <- svyglm_at_solution(as.formula(paste("depression_phq9 ~", rhs)), design = dom, family = quasibinomial())
  add("table_logistic_depression_phq9", f, dom, "adjust")
  dom <- domain_of("phq9_score")
  f <- svyglm_at_solution(as.formula(paste("phq9_score ~", rhs)), design = dom)
  add("table_linear_phq9_score", f, dom, "adjust")
} else if (!is.null(old)) {
  message("no table folder given: keeping the table_* rows of expected.csv")
  out[[length(out) + 1]] <- old[startsWith(old$model, "table_"), ]
}

expected <- do.call(rbind, out)
write.csv(expected, file.path(here, "expected.csv"), row.names = FALSE)
cat(sprintf("R %s, survival %s, survey %s\n", getRversion(), packageVersion("survival"), packageVersion("survey")),
    file = file.path(here, "versions.txt"))
