# Set-up and the two everyday commands. Everything installs from pinned files into .venv (the
# project) and .venv-bqemulator (the local BigQuery emulator, a service with its own dependencies).
#   make run    set up, validate every stack, print the offline plan of prod, build the warehouse
#               from the fixtures in the local emulator and check every contract (no credentials)
#   make test   set up, lint (ruff), run the whole test suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The local BigQuery emulator is a service with its own dependency tree: its own virtualenv.
BQ_VENV := .venv-bqemulator
BQ_PY := $(BQ_VENV)/bin/python
STACK ?= prod

.PHONY: setup setup-program plan run check test clean

setup: $(VENV)/.installed $(BQ_VENV)/.installed

# The program's virtualenv only: what Pulumi runs (CI's preview, up and drift jobs need no emulator).
setup-program: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

# The spatial step copies the extension from its wheel into DuckDB's per-user extension
# directory (~/.duckdb): the server loads spatial at start and cannot download it offline.
$(BQ_VENV)/.installed: requirements-bqemulator.txt
	$(PYTHON) -m venv $(BQ_VENV)
	$(BQ_PY) -m pip install --quiet --disable-pip-version-check -r requirements-bqemulator.txt
	$(BQ_PY) -c 'import duckdb_extensions; duckdb_extensions.import_extension("spatial")'
	touch $@

check: setup
	$(PY) -m infra check

plan: check
	$(PY) -m infra plan --stack $(STACK) --json plan-$(STACK).json

run: plan
	$(PY) -m infra run --local --stack $(STACK)

# The suite runs on two workers (pytest-xdist): each test stands alone (its own scratch copy, its
# own emulator per worker), so the result is the same; the time is what two cores allow.
test: setup
	$(PY) -m ruff check .
	$(PY) -m pytest -q -n 2

clean:
	rm -rf $(VENV) $(BQ_VENV) .pytest_cache plan-*.json
