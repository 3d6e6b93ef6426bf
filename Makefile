# The README's commands. `make repro` runs the pipeline; `make test` runs the tests.
# Both create the environment first (.venv, from the lock requirements.txt) when it is missing or stale.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
UV     := $(BIN)/uv
export DVC_NO_ANALYTICS := 1
export PATH := $(abspath $(BIN)):$(PATH)

# The lock is resolved for this interpreter and platform (README.md, "The lock").
LOCK_PYTHON   := 3.11
LOCK_PLATFORM := x86_64-unknown-linux-gnu
# Python 3.11.x, or a clear message and no environment.
CHECK_PYTHON := import sys; v = sys.version.split()[0]; sys.exit(0 if sys.version_info[:2] == (3, 11) else \
	"Python 3.11.x is needed: the lock (requirements.txt) is resolved for Python 3.11, and {} is Python " + v + \
	". Install Python 3.11 and run: make setup PYTHON=/path/to/python3.11 (after rm -rf $(VENV) if it exists)")

.PHONY: setup lock audit repro test test-fast bench bench-r lint clean-outputs references browser

setup: $(VENV)/.installed

# uv, pinned with its hashes in the lock, is installed first by pip; uv then makes the environment exactly the
# lock (`pip sync`: installs what is missing, removes what the lock does not name), every file checked against
# its sha256. uv reads no pip configuration: it uses the default package index, the one pip uses here too.
$(VENV)/.installed: requirements.txt pyproject.toml
	@$(PYTHON) -c '$(subst {},$(PYTHON),$(CHECK_PYTHON))'
	$(PYTHON) -m venv $(VENV)
	@$(BIN)/python -c '$(subst {},$(VENV),$(CHECK_PYTHON))'
	@awk '/^uv==/ {p = 1; print; next} p && /^ +--hash=/ {print; next} {p = 0}' requirements.txt > $(VENV)/uv.txt
	$(BIN)/python -m pip install --quiet --quiet --require-hashes --no-deps -r $(VENV)/uv.txt
	$(UV) pip sync --quiet --require-hashes --compile-bytecode --python $(BIN)/python requirements.txt
	$(UV) pip install --quiet --no-deps --no-build-isolation --compile-bytecode --python $(BIN)/python -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

# The DVC repository lives in git: a fresh clone needs no set-up beyond this. params.yaml and the input files
# it names are checked first (`python -m analysis check`): a bad value stops here, before DVC removes any output.
repro: setup
	$(BIN)/python -m analysis check
	$(BIN)/dvc repro

# The browser tests (tests/test_browser.py, and the pipeline's pages in tests/test_pipeline.py) open pages in
# Debian's Chromium; `make test` installs it first only when it is missing.
CHROMIUM := $(shell command -v chromium || command -v chromium-browser)
NEED_BROWSER := $(if $(CHROMIUM),,browser)

# On both cores (pytest-xdist): each test module runs whole on one worker (--dist loadscope), so the end-to-end
# module (tests/test_pipeline.py) builds its clone of the pipeline once while the other modules run beside it.
# Modules are handed out in tests/conftest.py's order, longest first (--no-loadscope-reorder keeps that order
# instead of xdist's by number of tests): the end-to-end module starts at once on one worker, and the README's
# commands (tests/test_pipeline_readme.py, on a copy of the same build) go last, to the other worker.
TEST_WORKERS ?= 2
PYTEST_XDIST := -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder
test: setup $(NEED_BROWSER)
	$(BIN)/python -m pytest $(PYTEST_XDIST)

# Unit tests only: skips the end-to-end pipeline run and the tests marked slow (over ~20 s on 2 cores).
test-fast: setup $(NEED_BROWSER)
	$(BIN)/python -m pytest $(PYTEST_XDIST) -m "not integration and not slow"

bench: setup
	$(BIN)/python benchmarks/run.py

# Debian's Chromium for the browser tests (needs root; Playwright's own browser download does not work offline).
browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; }
	@chromium --version

# Every model family against R on identical data, side by side (benchmarks/bench_r.py; benchmarks/results/bench_r.md).
# Installs R and its packages from Debian (needs root; skipped when they are already there).
bench-r: setup
	Rscript -e 'for (p in c("survival", "survey", "lme4", "plm", "lavaan")) library(p, character.only = TRUE)' \
	  >/dev/null 2>&1 || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y r-base-core \
	  r-cran-survival r-cran-survey r-cran-lme4 r-cran-plm r-cran-lavaan; }
	$(BIN)/python benchmarks/bench_r.py $(BENCH_R_FLAGS)

# Reference numbers from R (tests/reference/README.md, tests/reference/survey/survey.R): installs R from Debian
# (needs root) and reruns the R scripts. survey.R also fits the analysis table (data/processed, from `make repro`),
# exported to a temporary folder that is removed afterwards; without the table only its simulated fits are redone.
references: setup
	apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y r-base-core r-cran-survival r-cran-survey r-cran-lme4 r-cran-plm
	PYTHONPATH=tests $(BIN)/python tests/reference/make_data.py && Rscript tests/reference/models.R
	$(BIN)/python tests/reference/glmer/make_data.py && Rscript tests/reference/glmer/glmer.R
	$(BIN)/python tests/reference/panel_weighted/make_data.py && Rscript tests/reference/panel_weighted/panel_weighted.R
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	if [ -f data/processed/nhanes.parquet ]; then \
	  $(BIN)/python tests/reference/survey/make_data.py --table "$$tmp" && Rscript tests/reference/survey/survey.R "$$tmp"; \
	else \
	  $(BIN)/python tests/reference/survey/make_data.py && Rscript tests/reference/survey/survey.R; \
	fi
	$(BIN)/python tests/reference/survey_wald/make_data.py && Rscript tests/reference/survey_wald/wald.R
	$(BIN)/python tests/reference/survey_entry/make_data.py && Rscript tests/reference/survey_entry/survey_entry.R
	$(BIN)/python tests/reference/cox_counting/make_data.py && Rscript tests/reference/cox_counting/cox_counting.R

clean-outputs:
	rm -rf data/raw/* data/interim/* data/processed/* reports/*/* reports/paper.* .dvc/cache

# Regenerate the lock from requirements.in (README.md, "The lock"). Every pin already in requirements.txt is kept
# unless requirements.in forces a change; `make lock LOCK_FLAGS=--upgrade` moves every package to its newest
# allowed release, `LOCK_FLAGS="--upgrade-package NAME"` one package. Review the diff, then `make setup test`.
lock: setup
	$(UV) pip compile --quiet --generate-hashes --python-version $(LOCK_PYTHON) \
		--python-platform $(LOCK_PLATFORM) --custom-compile-command "make lock" $(LOCK_FLAGS) \
		requirements.in -o requirements.txt
	@{ printf '%s\n' \
	  "# THE LOCK: every package of the environment at an exact version, with the sha256 of its files, for" \
	  "# Python $(LOCK_PYTHON) on Linux x86-64. Generated from requirements.in (the direct dependencies) by" \
	  "# \`make lock\`; do not edit by hand. \`make setup\` installs exactly this (hashes required)."; \
	  cat requirements.txt; \
	} > requirements.txt.tmp && mv requirements.txt.tmp requirements.txt

# Known vulnerabilities of every locked package, read from the lock's pins and hashes (nothing is installed).
# pip-audit asks a vulnerability service over the network (the package index's JSON API by default; OSV with
# `make audit AUDIT_FLAGS="-s osv"`). --strict: a package it could not look up fails the audit, so an unreachable
# service can never pass as "no known vulnerabilities". Last result and date: benchmarks/README.md, "Audit".
audit: setup
	@$(BIN)/pip-audit --strict --require-hashes --disable-pip --progress-spinner off $(AUDIT_FLAGS) \
	  -r requirements.txt || { status=$$?; printf '%s\n' \
	  "make audit FAILED (pip-audit exit $$status): either known vulnerabilities are listed above, or the" \
	  "vulnerability service could not be reached or could not look a package up (the error above names it)," \
	  "in which case NOTHING was audited. This project's machines reach the package index but no vulnerability" \
	  "service: run \`make audit\` where the internet is reachable (benchmarks/README.md, \"Audit\")." >&2; \
	  exit $$status; }

# ruff, pinned in the lock, with the settings in pyproject.toml. (notebooks/ is left out: its jupytext scripts hold
# IPython magics such as `%matplotlib inline`, which are not Python syntax.)
lint: setup
	$(BIN)/ruff check src tests benchmarks
