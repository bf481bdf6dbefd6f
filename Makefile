# The two Quick-start commands. Each creates .venv and installs what it needs when that is missing or stale:
# `make demo` the package and its runtime dependencies only, `make test` the test, dev, fast and train
# extras too. A ready marker per set, so a demo never triggers the heavy install and a test always does.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_READY := $(VENV)/.ready-demo
TEST_READY := $(VENV)/.ready-test

.PHONY: demo test lint clean

demo: $(DEMO_READY)
	$(BIN)/neuron-oracle validate

# Our sources are compiled first, for the implementations' children, which read bytecode but write none
# (tests/conftest.py says where the rest goes). One pytest worker per CPU (pytest-xdist), each taking
# from the other's share when it runs out (worksteal): a few long tests no longer end the run alone.
test: $(TEST_READY)
	$(BIN)/python -m compileall -q golden oracle neuron tests examples
	$(BIN)/python -m pytest -n auto --dist worksteal

lint: $(TEST_READY)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

$(DEMO_READY): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e .
	@echo "installed in $(VENV): the package and its runtime dependencies"
	@$(BIN)/python -m pip list --format=freeze --exclude pip --exclude setuptools | sed 's/^/  /'
	touch $(DEMO_READY)

$(TEST_READY): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev,fast,train]'
	touch $(DEMO_READY) $(TEST_READY)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
