# Fine-Gray (survival::finegray + coxph / svycoxph), Aalen-Johansen (survfit, multi-state factor status) and
# design-based prevalences (svymean, svyciprop logit, svyby) on design.csv (make_data.py). Run from the repo root:
#   python tests/reference/competing/make_data.py && Rscript tests/reference/competing/finegray.R
suppressPackageStartupMessages({library(survival); library(survey)})
here <- "tests/reference/competing"
d <- read.csv(file.path(here, "design.csv"))
d$group <- factor(d$group, levels = c("a", "b", "c"))
d$state <- factor(d$status, levels = 0:2, labels = c("censor", "alz", "other"))
dom <- d[d$domain == 1, ]
out <- list()
add <- function(what, term, value) out[[length(out) + 1]] <<- data.frame(what = what, term = term, value = value)
ctl <- coxph.control(eps = 1e-11, iter.max = 100)

# Fine-Gray data set of the domain rows, with the survey weight as user weight
fg <- finegray(Surv(time, state) ~ ., data = dom, etype = "alz", weights = weight)
add("finegray", "rows", nrow(fg)); add("finegray", "sum_fgwt", sum(fg$fgwt)); add("finegray", "events", sum(fg$fgstatus))
fit <- coxph(Surv(fgstart, fgstop, fgstatus) ~ x + group, data = fg, weights = fgwt, control = ctl)
for (k in names(coef(fit))) add("finegray_coxph", k, coef(fit)[[k]])
# design-based: the expanded rows in the design (the rows outside the domain with weight 0, as our fit), PSU sums
outside <- d[d$domain == 0, ]
outside$fgstart <- NA; outside$fgstop <- NA; outside$fgstatus <- NA; outside$fgwt <- 0
full <- rbind(fg[, c("stratum", "psu", "x", "group", "fgstart", "fgstop", "fgstatus", "fgwt")],
              outside[, c("stratum", "psu", "x", "group", "fgstart", "fgstop", "fgstatus", "fgwt")])
full$inside <- full$fgwt > 0
full$fgwt[!full$inside] <- 1  # svydesign needs positive weights; the rows leave by subset()
des <- svydesign(ids = ~psu, strata = ~stratum, weights = ~fgwt, nest = TRUE, data = full)
sfit <- svycoxph(Surv(fgstart, fgstop, fgstatus) ~ x + group, design = subset(des, inside), control = ctl)
for (k in names(coef(sfit))) { add("finegray_svycoxph", k, coef(sfit)[[k]]); add("finegray_svycoxph_se", k, sqrt(diag(vcov(sfit)))[[k]]) }

# Aalen-Johansen cumulative incidence of "alz" by group, weighted
for (g in levels(dom$group)) {
  aj <- survfit(Surv(time, state) ~ 1, data = dom[dom$group == g, ], weights = weight)
  s <- summary(aj, times = c(12, 36, 60, 100))
  for (i in seq_along(s$time)) add(paste0("aj_", g), as.character(s$time[i]), s$pstate[i, which(aj$states == "alz")])
}

# prevalences: svymean and svyciprop (logit, df = degf) on subset designs, svyby
pd <- svydesign(ids = ~psu, strata = ~stratum, weights = ~weight, nest = TRUE, data = d)
sub <- subset(pd, domain == 1 & !is.na(y))
m <- svymean(~y, sub); add("svymean", "all", coef(m)[[1]]); add("svymean_se", "all", SE(m)[[1]])
ci <- svyciprop(~y, sub, method = "logit", df = degf(sub)); add("svyciprop_low", "all", confint(ci)[1]); add("svyciprop_high", "all", confint(ci)[2])
add("degf", "all", degf(sub))
by <- svyby(~y, ~group, sub, svymean)
for (i in seq_along(levels(d$group))) { add("svyby", levels(d$group)[i], unname(coef(by))[i]); add("svyby_se", levels(d$group)[i], unname(SE(by))[i]) }
for (g in levels(d$group)) {
  sg <- subset(pd, domain == 1 & !is.na(y) & group == g)
  ci <- svyciprop(~y, sg, method = "logit", df = degf(sg))
  add("svyciprop_low", g, confint(ci)[1]); add("svyciprop_high", g, confint(ci)[2]); add("degf", g, degf(sg))
}
# cmprsk::crr, unweighted, on the untied times: the Fine-Gray estimate by its original implementation
if (requireNamespace("cmprsk", quietly = TRUE)) {
  X <- model.matrix(~ x + group, dom)[, -1]
  crr_fit <- cmprsk::crr(dom$time_exact, dom$status, X, failcode = 1, cencode = 0, gtol = 1e-12, maxiter = 100)
  for (k in names(crr_fit$coef)) add("crr", k, crr_fit$coef[[k]])
}
res <- do.call(rbind, out)
write.csv(res, file.path(here, "expected.csv"), row.names = FALSE)
writeLines(c(R.version.string, paste("survival", packageVersion("survival")), paste("survey", packageVersion("survey")),
             paste("cmprsk", packageVersion("cmprsk"))),
           file.path(here, "versions.txt"))
