# Set-up and the two everyday commands. Everything installs into .venv from pinned files.
#   make plan   set up, validate every stack, print the offline plan of prod (no credentials)
#   make test   set up, run the whole test suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STACK ?= prod

.PHONY: setup plan check test clean

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

check: setup
	$(PY) -m infra check

plan: check
	$(PY) -m infra plan --stack $(STACK) --json plan-$(STACK).json

test: setup
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) .pytest_cache plan-*.json
