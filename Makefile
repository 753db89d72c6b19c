# The two commands of the README. Both set everything up first (idempotent) and then run.
#   make demo   set up, then run the main job on the embedded default (synthetic data)
#   make test   set up, then lint (ruff format --check, ruff check) and run the test suite
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: setup demo test lint bench

setup:
	@VENV=$(VENV) bash scripts/setup.sh

demo: setup
	$(BIN)/posekit demo

lint: setup
	$(BIN)/ruff format --check src tests benchmarks examples
	$(BIN)/ruff check src tests benchmarks examples

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: setup
	@for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done
