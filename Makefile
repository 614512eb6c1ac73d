# The two front-door commands: `make run` and `make test`. Needs only Python 3.11+.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test bench bench-scale bench-history chaos soak lint typecheck schemas units lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## run: embedded broker + worker + HTTP + demo data (Ctrl-C stops everything)
run: $(STAMP)
	$(BIN)/monitor up $(ARGS)

## test: lint, type-check and the whole test suite (unit, rule packs, integration on a real broker);
## TEST_WORKERS tests run at once (they mostly wait on brokers and timeouts, not on the CPU)
TEST_WORKERS ?= 3
test: $(STAMP)
	$(BIN)/ruff check events rules monitor tests
	$(BIN)/ruff format --check events rules monitor tests
	$(BIN)/mypy
	$(BIN)/monitor rules check rules/packs
	$(BIN)/monitor rules test rules/packs/tests
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

## bench: engine throughput and tick cost, then worker throughput through the embedded broker (figures only)
bench: $(STAMP)
	$(BIN)/python -m tests.benchmarks.engine
	$(BIN)/python -m tests.benchmarks.worker

## bench-history: start-up of a worker after TRANSITIONS alert transitions, on an empty and on its own data directory
TRANSITIONS ?= 1000000
bench-history: $(STAMP)
	$(BIN)/python -m tests.benchmarks.history --transitions $(TRANSITIONS)

## bench-scale: one worker holding ITEMS tracked dossiers: memory per item, idle tick, deadline-to-alert delay, restart
ITEMS ?= 1000000
bench-scale: $(STAMP)
	$(BIN)/python -m tests.benchmarks.scale --items $(ITEMS)

## soak: two workers SOAK_MINUTES (120) under mixed load and a fault every 10 minutes; CSV and charts in soak-results/
SOAK_MINUTES ?= 120
soak: $(STAMP)
	$(BIN)/python -m tests.soak.soak --minutes $(SOAK_MINUTES) $(SOAK_ARGS)

## chaos: every fault scenario RUNS times at CHAOS_ITEMS tasks (freezes, crashes, churn, clock jump, disk full, lost broker): a table
RUNS ?= 3
chaos: $(STAMP)
	$(BIN)/python -m tests.faults.chaos --items $(or $(CHAOS_ITEMS),3000) --runs $(RUNS)

lint: $(STAMP)
	$(BIN)/ruff check events rules monitor tests
	$(BIN)/ruff format --check events rules monitor tests

typecheck: $(STAMP)
	$(BIN)/mypy

## schemas: regenerate the JSON Schemas in deploy/schemas from the models
schemas: $(STAMP)
	$(BIN)/monitor schemas --out deploy/schemas
	$(BIN)/monitor dashboards --out deploy/grafana/dashboards

## units: rebuild the bundled unit registry (rules/packs/units) from the vietnamadminunits wheel (UNITS_VERSION)
UNITS_VERSION ?= 1.0.4
units: $(STAMP)
	rm -rf .units-download && $(BIN)/python -m pip download --quiet --no-deps --dest .units-download vietnamadminunits==$(UNITS_VERSION)
	$(BIN)/python -m rules.units.refresh --wheel .units-download/vietnamadminunits-$(UNITS_VERSION)-py3-none-any.whl
	rm -rf .units-download
	$(BIN)/monitor rules check rules/packs

## lock: regenerate requirements.lock (the Docker image's dependencies, pinned with hashes) from pyproject.toml
lock: $(STAMP)
	$(BIN)/python -m monitor.devtools.lockfile --pyproject pyproject.toml --out requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .monitor-data test-artifacts
