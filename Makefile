# The README's commands. `make repro` runs the pipeline; `make test` runs the tests.
# Both create the environment first (.venv, pinned requirements.txt) when it is missing or stale.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
export DVC_NO_ANALYTICS := 1
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: setup repro test test-fast bench lint clean-outputs references

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] >= (3, 11), "Python 3.11+ needed, found " + sys.version' 
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

# The DVC repository lives in git: a fresh clone needs no set-up beyond this. params.yaml and the input files
# it names are checked first (`python -m analysis check`): a bad value stops here, before DVC removes any output.
repro: setup
	$(BIN)/python -m analysis check
	$(BIN)/dvc repro

test: setup
	$(BIN)/python -m pytest

# Unit tests only (skips the end-to-end pipeline run).
test-fast: setup
	$(BIN)/python -m pytest -m "not integration"

bench: setup
	$(BIN)/python benchmarks/run.py

# Reference numbers from R (tests/reference/README.md, tests/reference/survey/survey.R): installs R from Debian
# (needs root) and reruns the R scripts. survey.R also fits the analysis table (data/processed, from `make repro`),
# exported to a temporary folder that is removed afterwards; without the table only its simulated fits are redone.
references: setup
	apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y r-base-core r-cran-survival r-cran-survey r-cran-lme4 r-cran-plm
	$(BIN)/python tests/reference/make_data.py && Rscript tests/reference/models.R
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

clean-outputs:
	rm -rf data/raw/* data/interim/* data/processed/* reports/*/* reports/paper.* .dvc/cache
