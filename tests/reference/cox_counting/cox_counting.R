# survival::coxph references for analysis.estimators.cox_counting (Efron ties, (start, stop] rows, case weights),
# convergence tightened. Run from the repository root:
#   python tests/reference/cox_counting/make_data.py && Rscript tests/reference/cox_counting/cox_counting.R
suppressPackageStartupMessages(library(survival))
here <- "tests/reference/cox_counting"
d <- read.csv(file.path(here, "data.csv"))
d$group <- factor(d$group, levels = c("a", "b"))
control <- coxph.control(eps = 1e-12, iter.max = 100, toler.chol = 1e-15)
fits <- list(
  counting = coxph(Surv(start, stop, event) ~ x + group + z, data = d, ties = "efron", control = control),
  counting_weighted = coxph(Surv(start, stop, event) ~ x + group + z, data = d, weights = weight, ties = "efron",
                            control = control),
  right_censored = coxph(Surv(stop, event) ~ x + group + z, data = d, ties = "efron", control = control)
)
# model-based variance (inverse information); with non-integer weights coxph reports a robust one and keeps this
naive <- function(f) if (is.null(f$naive.var)) vcov(f) else f$naive.var
out <- do.call(rbind, lapply(names(fits), function(m) {
  f <- fits[[m]]
  data.frame(model = m, term = names(coef(f)), estimate = unname(coef(f)),
             std_error = unname(sqrt(diag(naive(f)))), loglik = f$loglik[2])
}))
write.csv(out, file.path(here, "expected.csv"), row.names = FALSE)
writeLines(c(R.version.string, paste("survival", packageVersion("survival"))), file.path(here, "versions.txt"))
