# lme4::lmer references for the REML linear mixed models (analysis.estimators.lmm through mixed.py and
# panel/multilevel.py). Reads counties.csv and persons.csv (make_data.py); writes expected.csv, effects.csv and
# versions.txt here. Run from the repository root: Rscript tests/reference/lmm/lmer.R
suppressPackageStartupMessages(library(lme4))
args <- commandArgs(trailingOnly = FALSE)
file_arg <- sub("^--file=", "", args[grep("^--file=", args)])
here <- if (length(file_arg)) dirname(normalizePath(file_arg)) else "tests/reference/lmm"
control <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12, maxfun = 1e5))

summarise <- function(model, fit) {
  b <- fixef(fit)
  se <- sqrt(diag(as.matrix(vcov(fit))))
  vc <- as.data.frame(VarCorr(fit))
  vc_term <- ifelse(is.na(vc$var2), ifelse(is.na(vc$var1), "residual", vc$var1), paste(vc$var1, vc$var2, sep = ":"))
  rbind(
    data.frame(model = model, quantity = "estimate", term = names(b), value = unname(b)),
    data.frame(model = model, quantity = "std_error", term = names(se), value = unname(se)),
    data.frame(model = model, quantity = "variance", term = vc_term, value = vc$vcov),
    data.frame(model = model, quantity = "reml_criterion", term = "", value = unname(REMLcrit(fit))),
    data.frame(model = model, quantity = "n_obs", term = "", value = nobs(fit))
  )
}

# Places-style: counties within states, random state intercept and slope of the (centred) exposure, correlated
counties <- read.csv(file.path(here, "counties.csv"))
counties$x <- counties$x - mean(counties$x)
fit_c <- lmer(y ~ x + c + (1 + x | state), data = counties, REML = TRUE, control = control)
re <- ranef(fit_c, condVar = TRUE)$state
post <- attr(re, "postVar")
effects <- data.frame(group = rownames(re), intercept = re[, "(Intercept)"], slope = re[, "x"],
                      intercept_sd = sqrt(post[1, 1, ]), slope_sd = sqrt(post[2, 2, ]))

# GSS-style growth model: waves within persons, random intercept and slope for time from the first wave
persons <- read.csv(file.path(here, "persons.csv"))
persons$t <- persons$wave - min(persons$wave)
fit_p <- lmer(y ~ x + z + female + factor(wave) + (1 + t | person_id), data = persons, REML = TRUE,
              control = control)

write.csv(rbind(summarise("counties", fit_c), summarise("persons", fit_p)), file.path(here, "expected.csv"),
          row.names = FALSE)
write.csv(effects, file.path(here, "effects.csv"), row.names = FALSE)
writeLines(c(R.version.string, paste("lme4", packageVersion("lme4")), paste("Matrix", packageVersion("Matrix"))),
           file.path(here, "versions.txt"))
