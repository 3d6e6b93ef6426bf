# Delayed-entry (left-truncated) design-based Cox reference for tests/estimators/test_survey_entry.py:
# svycoxph(Surv(entry, exit, event) ~ x + group) on svydesign(ids = ~psu, strata = ~stratum, weights = ~weight,
# nest = TRUE), on the domain weight > 0. Efron ties (coxph's default), convergence tightened.
# Run from the repository root: python tests/reference/survey_entry/make_data.py && Rscript tests/reference/survey_entry/survey_entry.R
suppressPackageStartupMessages({library(survival); library(survey)})
here <- "tests/reference/survey_entry"
sim <- read.csv(file.path(here, "design.csv"))
sim$group <- factor(sim$group, levels = c("a", "b"))
design <- svydesign(ids = ~psu, strata = ~stratum, weights = ~weight, nest = TRUE, data = sim)
dom <- subset(design, weight > 0)
control <- coxph.control(eps = 1e-11, iter.max = 100)
out <- list()
add <- function(model, fit) {
  out[[length(out) + 1]] <<- data.frame(model = model, term = names(coef(fit)), estimate = unname(coef(fit)),
                                         std_error = unname(sqrt(diag(vcov(fit)))), df = degf(dom), n = nrow(dom))
}
add("entry", svycoxph(Surv(entry, exit, event) ~ x + group, design = dom, control = control))
add("no_entry", svycoxph(Surv(exit, event) ~ x + group, design = dom, control = control))
write.csv(do.call(rbind, out), file.path(here, "expected.csv"), row.names = FALSE)
writeLines(c(R.version.string, paste("survival", packageVersion("survival")), paste("survey", packageVersion("survey"))),
           file.path(here, "versions.txt"))
