# The R side of benchmarks/bench_r.py: every model family fitted once, each fit timed alone (data in memory,
# packages loaded), estimates kept. Usage: Rscript benchmarks/bench_r.R DATA_FOLDER OUT.json
suppressPackageStartupMessages({
  library(survival); library(survey); library(lme4); library(plm); library(lavaan)
})
args <- commandArgs(trailingOnly = TRUE)
folder <- args[1]; out <- args[2]
read <- function(name, ...) read.csv(file.path(folder, name), ...)
survey_data <- read("survey.csv")
lmm <- read("lmm.csv", colClasses = c(person = "character"))
fe <- read("fe.csv")
cox_tv <- read("cox_tv.csv")
wide <- read("riclpm.csv")
results <- list()
timed <- function(name, expr, estimates) {
  t0 <- proc.time()[["elapsed"]]
  fit <- expr()
  seconds <- proc.time()[["elapsed"]] - t0
  results[[name]] <<- list(seconds = seconds, estimates = as.list(estimates(fit)))
  cat(sprintf("  R      %-24s %8.3f s\n", name, seconds))
}

vs <- grep("^v[0-9]+$", names(lmm), value = TRUE)
lmm_formula <- as.formula(paste("y ~", paste(vs, collapse = " + "), "+ (1 + slope_time | person)"))
timed("lmm", function() {
  f <- lmer(lmm_formula, data = lmm, REML = TRUE)
  list(f = f, se = sqrt(diag(as.matrix(vcov(f)))))
}, function(r) {
  # (untimed) the same model refitted from lmer's estimate with tight tolerances: how far the default stopped
  tight <- update(r$f, start = getME(r$f, "theta"), control = lmerControl(
    optimizer = "nloptwrap", optCtrl = list(xtol_abs = 1e-12, ftol_abs = 1e-14, maxeval = 100000)))
  b <- fixef(r$f); names(b)[1] <- "const"
  bt <- fixef(tight); names(bt) <- paste0("tight:", c("const", names(bt)[-1]))
  c(b, REMLcrit = REMLcrit(r$f), bt, "tight:REMLcrit" = REMLcrit(tight))
})
timed("cox_weighted_clustered", function() {
  coxph(Surv(time, event) ~ x + age + female + z, data = survey_data, weights = w, cluster = cluster,
        ties = "efron")
}, function(f) coef(f)["x"])
design <- svydesign(ids = ~psu, strata = ~stratum, weights = ~w, nest = TRUE, data = survey_data)
timed("cox_age_scale", function() {
  svycoxph(Surv(age_entry, age_exit, event) ~ x + female + z, design = design)
}, function(f) coef(f))
tv_rhs <- setdiff(names(cox_tv), c("person_id", "start", "stop", "death"))
tv_formula <- as.formula(paste("Surv(start, stop, death) ~", paste(tv_rhs, collapse = " + ")))
timed("cox_time_varying", function() coxph(tv_formula, data = cox_tv, ties = "efron"), function(f) coef(f))
timed("svyglm", function() {
  svyglm(y_bin ~ x + age + female + z, design = design, family = quasibinomial())
}, function(f) { b <- coef(f); names(b)[1] <- "Intercept"; b })
fe_x <- setdiff(names(fe), c("person_id", "wave", "y"))
fe_formula <- as.formula(paste("y ~", paste(fe_x, collapse = " + ")))
timed("two_way_fe", function() {
  f <- plm(fe_formula, data = pdata.frame(fe, index = c("person_id", "wave")), model = "within",
           effect = "twoways")
  list(f = f, se = sqrt(diag(vcovHC(f, cluster = "group"))))
}, function(r) coef(r$f))
timed("glmer", function() {
  glmer(y_bin ~ x + age + female + z + (1 | cluster), data = survey_data, family = binomial)
}, function(f) { b <- fixef(f); names(b)[1] <- "Intercept"; b })
waves <- sum(grepl("^x[0-9]+$", names(wide)))
t2 <- 2:waves
riclpm <- paste(c(
  paste("RIx =~", paste0("1*x", 1:waves, collapse = " + ")),
  paste("RIy =~", paste0("1*y", 1:waves, collapse = " + ")),
  paste0("wx", 1:waves, " =~ 1*x", 1:waves), paste0("wy", 1:waves, " =~ 1*y", 1:waves),
  paste0("wx", t2, " ~ a_x*wx", t2 - 1, " + b_yx*wy", t2 - 1),
  paste0("wy", t2, " ~ a_y*wy", t2 - 1, " + b_xy*wx", t2 - 1),
  "wx1 ~~ wx1", "wy1 ~~ wy1", "wx1 ~~ wy1",
  paste0("wx", t2, " ~~ vu*wx", t2), paste0("wy", t2, " ~~ vv*wy", t2), paste0("wx", t2, " ~~ cuv*wy", t2),
  "RIx ~~ RIx", "RIy ~~ RIy", "RIx ~~ RIy",
  paste0("x", 1:waves, " ~~ 0*x", 1:waves), paste0("y", 1:waves, " ~~ 0*y", 1:waves),
  paste0("x", 1:waves, " ~ 1"), paste0("y", 1:waves, " ~ 1")
), collapse = "\n")
timed("riclpm", function() {
  lavaan(riclpm, data = wide, missing = "ml", meanstructure = TRUE)
}, function(f) {
  p <- parameterEstimates(f)
  sapply(c("a_x", "a_y", "b_xy", "b_yx"), function(l) p$est[p$label == l][1])
})

json <- function(x) {
  if (is.list(x)) {
    if (is.null(names(x))) return(paste0("[", paste(sapply(x, json), collapse = ","), "]"))
    return(paste0("{", paste(sprintf('"%s":%s', names(x), sapply(x, json)), collapse = ","), "}"))
  }
  if (length(x) > 1) return(json(as.list(x)))
  sprintf("%.17g", x)
}
writeLines(json(results), out)
