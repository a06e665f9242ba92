# One entry point per job; each target sets up its own environment (.venv) on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# The seed counts fixed before the studies ran (studies/preregistration.md): 42 and 15 paired seeds, fresh from 10.
STUDY_SEEDS     := $(shell seq 10 51)
DEVIATION_SEEDS := $(shell seq 10 24)

.PHONY: smoke test unit book study deviations regimes miniature clean-venv help

help:
	@echo "make smoke  - the reproduction pipeline on the offline smoke profile, then the book (_build/html)"
	@echo "make test   - run the unit tests and execute the notebooks (pytest --nbmake)"
	@echo "make unit   - the fast tier: tests not marked slow (no pipelines, notebooks or training runs)"
	@echo "make book   - build the Jupyter Book into _build/html"
	@echo "make miniature - pretrain the miniature's teacher and student again and record them as the shipped weights"
	@echo "make study  - every Stage 2 method over 42 paired seeds (10-51, studies/preregistration.md) on the smoke profile: runs/smoke/cub/summary.json and studies/results/study.md (the book's study)"
	@echo "make regimes - the regime map: the study's claims with 4x the epochs and 4x the labelled images per class, on the seeds fixed by studies/regimes-preregistration.md: studies/results/regimes.{md,json,png}"
	@echo "make deviations - the declared deviations measured on the miniature over 15 paired seeds (10-24; reads make study's runs): studies/results/deviations.md"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "Python 3.10+ is needed; run: make PYTHON=python3.11 ...")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	@touch $(STAMP)

smoke: $(STAMP)
	$(BIN)/python -m pand_core.pipeline --profile smoke --runs runs --book

test: $(STAMP)
	$(BIN)/python -m pytest --nbmake --nbmake-timeout=900 --durations=12 tests notebooks

unit: $(STAMP)
	$(BIN)/lint-imports --no-cache  # the layers and no import circles (pyproject.toml)
	$(BIN)/python -m pytest -m "not slow" -q tests

miniature: $(STAMP)
	$(BIN)/python -m pand_core.miniature build

book: $(STAMP)
	$(BIN)/python -m pand_core.book.firstrun   # first-run caches built here, not inside a notebook's output
	$(BIN)/jupyter-book build . -W --keep-going
	@echo "open _build/html/index.html"

study: $(STAMP)
	$(BIN)/python -m pand_core.study --profile smoke --seeds $(STUDY_SEEDS) --runs runs --report studies/results/study.md

deviations: $(STAMP)
	$(BIN)/python -m pand_core.deviations --seeds $(DEVIATION_SEEDS) --runs runs --report studies/results/deviations.md

regimes: $(STAMP)
	$(BIN)/python -m pand_core.regimes --runs runs --results studies/results

clean-venv:
	rm -rf $(VENV)
