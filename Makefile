# The few commands people type. `make demo` and `make test` do all the set-up themselves.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
MANAGE := $(BIN)/python manage.py
PYTEST_ARGS ?= -n 2

.PHONY: help demo test lint check-migrations services devcluster devcluster-stop \
	devcluster-status screenshots lock clean

help:
	@echo "make demo   install, migrate, seed demo logins, run web+worker+beat on 127.0.0.1:8000"
	@echo "make test   install, start PostgreSQL and Redis if down, lint, check, run every test"
	@echo "make lint   ruff (lint and format check), mypy and the import contracts"
	@echo "make devcluster        build (once, cached) and start the local API servers test-a, test-b"
	@echo "make devcluster-stop   stop every local API server"
	@echo "make screenshots       refresh the README's pictures (docs/screenshots) from the browser tests"
	@echo "make lock   re-resolve requirements/*.in into exact pins"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' 2>/dev/null \
	  || { echo "make: Python 3.11 is required (set PYTHON=/path/to/python3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.base: $(BIN)/python requirements/base.txt
	$(BIN)/pip install -q -r requirements/base.txt
	@touch $@

$(VENV)/.dev: $(VENV)/.base requirements/dev.txt
	$(BIN)/pip install -q -r requirements/dev.txt
	@touch $@

demo: $(VENV)/.base
	$(BIN)/python scripts/demo

services:
	scripts/services ensure
	scripts/browser ensure

# The local Kubernetes API servers the integration tests use. The build is cached in
# ~/.cache/driftcontrol (about 5 minutes the first time), so it runs here, with its
# progress visible, rather than silently inside the test session.
devcluster:
	scripts/devcluster build
	scripts/devcluster start --name test-a
	scripts/devcluster start --name test-b

devcluster-stop:
	scripts/devcluster stop --all

devcluster-status:
	scripts/devcluster status

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DEBUG=1 $(BIN)/mypy
	$(BIN)/lint-imports --no-cache

check-migrations: $(VENV)/.dev
	DEBUG=1 $(MANAGE) check
	DEBUG=1 $(MANAGE) makemigrations --check --dry-run

test: $(VENV)/.dev services lint check-migrations devcluster
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The README's pictures: the browser tests, writing their screenshots to docs/screenshots.
screenshots: $(VENV)/.dev services devcluster
	SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots $(BIN)/python -m pytest -p no:xdist -q tests/browser

lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install -q -r requirements/base.in
	{ echo "# Exact pins for running DriftControl (Python 3.11). Regenerate with 'make lock'."; \
	  .lock-venv/bin/pip freeze; } > requirements/base.txt
	.lock-venv/bin/pip install -q -r requirements/dev.in
	{ echo "# Exact pins for tests, linters and type checks. Regenerate with 'make lock'."; \
	  echo "-r base.txt"; .lock-venv/bin/pip freeze | grep -vxFf requirements/base.txt; } \
	  > requirements/dev.txt
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) var/static
