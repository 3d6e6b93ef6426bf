# lme4::lmer reference for analysis.estimators.random_intercept (REML, random state intercept).
# Reads data.csv (make_data.py); writes expected.csv and versions.txt here.
# Run from the repository root: Rscript tests/reference/random_intercept/lmer.R
suppressPackageStartupMessages(library(lme4))
args <- commandArgs(trailingOnly = FALSE)
file_arg <- sub("^--file=", "", args[grep("^--file=", args)])
here <- if (length(file_arg)) dirname(normalizePath(file_arg)) else "tests/reference/random_intercept"
d <- read.csv(file.path(here, "data.csv"))
fit <- lmer(y ~ x + c + (1 | state), data = d, REML = TRUE,
            control = lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-10, maxfun = 1e5)))
b <- fixef(fit)
se <- sqrt(diag(as.matrix(vcov(fit))))
vc <- as.data.frame(VarCorr(fit))
out <- rbind(
  data.frame(quantity = "estimate", term = names(b), value = unname(b)),
  data.frame(quantity = "std_error", term = names(se), value = unname(se)),
  data.frame(quantity = "variance", term = vc$grp, value = vc$vcov),
  data.frame(quantity = "reml_criterion", term = "", value = unname(REMLcrit(fit)))
)
write.csv(out, file.path(here, "expected.csv"), row.names = FALSE)
writeLines(c(R.version.string, paste("lme4", packageVersion("lme4")), paste("Matrix", packageVersion("Matrix"))),
           file.path(here, "versions.txt"))
