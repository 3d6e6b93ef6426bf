# lme4::glmer references for analysis.estimators.glmm (Laplace ML, nAGQ = 1).
# Reads data.csv and boundary.csv (make_data.py); writes expected.csv and versions.txt here.
# Each data set is fit twice: "tight" (bobyqa in both stages with rhoend 1e-10, PIRLS tolerance 1e-12:
# the optimum itself, what the Python fit is compared with) and "default" (glmer's default control, for
# information: how far lme4's own stopping rule leaves it from the optimum).
# Run from the repository root: Rscript tests/reference/glmer/glmer.R
suppressPackageStartupMessages(library(lme4))
args <- commandArgs(trailingOnly = FALSE)
file_arg <- sub("^--file=", "", args[grep("^--file=", args)])
here <- if (length(file_arg)) dirname(normalizePath(file_arg)) else "tests/reference/glmer"

controls <- list(
  tight = glmerControl(optimizer = "bobyqa", tolPwrss = 1e-12,
                       optCtrl = list(rhoend = 1e-10, maxfun = 1e5)),
  default = glmerControl()
)
rows <- list()
for (case in c("data", "boundary")) {
  d <- read.csv(file.path(here, paste0(case, ".csv")))
  d$exposure <- factor(d$exposure, levels = c("Low", "Moderate", "High"))
  d$stratum <- factor(d$stratum)
  d$psu <- factor(d$psu)
  for (fit_name in names(controls)) {
    fit <- glmer(y ~ exposure + age + (1 | stratum) + (1 | stratum:psu), data = d, family = binomial,
                 nAGQ = 1, control = controls[[fit_name]])
    b <- fixef(fit)
    se <- sqrt(diag(as.matrix(vcov(fit))))
    th <- getME(fit, "theta")
    add <- function(quantity, name, value)
      rows[[length(rows) + 1]] <<- data.frame(case = case, fit = fit_name, quantity = quantity,
                                               name = name, value = value)
    for (i in seq_along(b)) { add("fixef", names(b)[i], b[[i]]); add("se", names(b)[i], se[[i]]) }
    for (i in seq_along(th)) add("theta", names(th)[i], th[[i]])
    add("loglik", "logLik", as.numeric(logLik(fit)))
    add("deviance", "deviance", deviance(fit))
    add("optinfo", "hessian_available", as.numeric(!is.null(fit@optinfo$derivs$Hessian)))
  }
}
out <- do.call(rbind, rows)
write.csv(out, file.path(here, "expected.csv"), row.names = FALSE)
writeLines(c(R.version.string, paste("lme4", packageVersion("lme4")), paste("Matrix", packageVersion("Matrix")),
             paste("minqa", packageVersion("minqa"))), file.path(here, "versions.txt"))
options(digits = 10)
print(out)
