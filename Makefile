# Mutirões — the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
export FLASK_APP := wsgi

.PHONY: help venv run test lint format test-deps migrate seed createsuperuser clean

help:
	@echo "make run      start the API on http://127.0.0.1:5000 (embedded SQLite mode, nothing else needed)"
	@echo "make test     install what the tests need, start private PostgreSQL and Redis, run ruff and pytest"
	@echo "make lint     ruff check and format check only"
	@echo "make migrate  apply the database migrations (MUTIROES_DATABASE_URL, or the embedded SQLite file)"

$(VENV)/.installed: setup.cfg
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[dev]'
	touch $@

venv: $(VENV)/.installed

run: venv
	$(PY) -m mutiroes.embedded

test-deps:
	bash scripts/install-test-deps.sh

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: venv test-deps lint
	$(VENV)/bin/pytest $(PYTEST_ARGS)

migrate: venv
	$(VENV)/bin/flask db upgrade

seed: venv
	$(VENV)/bin/flask seed
	$(VENV)/bin/flask seed-demo

createsuperuser: venv
	$(VENV)/bin/flask createsuperuser --username "$(USERNAME)" --email "$(EMAIL)"

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
