# tankerwatch: `make run` and `make test` do all the set-up on a fresh machine.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test check lint ui validate bench soak demo-data lock clean

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet uv==0.13.8
	$(BIN)/uv pip sync --quiet --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/tankerwatch run

# The report tests render the published page in a headless browser.
/usr/bin/chromium:
	apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium

# The PostgreSQL instance test starts a real server from Debian's binaries.
/usr/lib/postgresql/15/bin/postgres:
	apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql

# The full suite, as CI runs it (.ci/run): lint, then every test.
test: install lint /usr/bin/chromium /usr/lib/postgresql/15/bin/postgres
	$(BIN)/python -m pytest

# The loop to live in while changing code: lint and every test not marked slow (the end-to-end runs).
check: install lint /usr/bin/chromium
	$(BIN)/python -m pytest -m "not slow" -q

# Python by ruff, SQL by sqlfluff (DuckDB dialect, lower case); settings in pyproject.toml.
lint: install
	$(BIN)/ruff check .
	$(BIN)/sqlfluff lint --processes 2 sql

# The Dagster UI (http://127.0.0.1:3000) and beside it the server of the gate pages and reports its links open
# (tankerwatch/docs_server.py, http://127.0.0.1:$(DOCS_PORT)); both stop together. In production set
# TANKERWATCH_DOCS_BASE_URL to where a proxy serves the same paths.
DOCS_PORT ?= 3001

# The instance `tankerwatch run` records into too; an operator's own dagster.yaml in it is kept.
DAGSTER_HOME ?= $(CURDIR)/.dagster_home

ui: install
	mkdir -p $(DAGSTER_HOME)
	test -f $(DAGSTER_HOME)/dagster.yaml || cp dagster.yaml $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/python -m tankerwatch.docs_server --port $(DOCS_PORT) & docs=$$!; \
	trap 'kill $$docs 2>/dev/null' EXIT INT TERM; \
	DAGSTER_HOME=$(DAGSTER_HOME) TANKERWATCH_DOCS_PORT=$(DOCS_PORT) $(BIN)/dagster dev -w workspace.yaml

validate: install
	$(BIN)/dagster definitions validate -w workspace.yaml

# Speed and memory of ingest, models, gates and a night; targets and latest results: docs/performance.md.
bench: install
	$(BIN)/python bench/ingest_bench.py
	$(BIN)/python -m bench.model_bench
	$(BIN)/python bench/gates_bench.py
	$(BIN)/python -m bench.nightly_bench

# Many runs in a row with random kills and publisher faults (loopback only); exits non-zero if anything was
# lost or corrupted. Bounded by default (8 runs or 5 minutes); e.g. make soak SOAK_ARGS="--runs 40 --max-minutes 60".
soak: install
	$(BIN)/python -m tankerwatch.soak $(SOAK_ARGS)

demo-data: install
	$(BIN)/python demo/generate.py

# Regenerate the lock after changing pyproject.toml dependencies.
lock:
	$(BIN)/uv pip compile --quiet --python-version 3.11 --extra dev pyproject.toml -o requirements.lock

clean:
	rm -rf $(VENV) data .dagster_home
