# Two entry points for a fresh machine: `make run` and `make test` (see README).
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup run sim test lint bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

setup: $(BIN)/.installed

# The main job on the bundled scenario.
run: setup
	$(BIN)/agent sim topologies/scenarios/abilene-in3.yaml --policy shortest-path --episodes 3

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python bench/sim_vs_coordsim.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
