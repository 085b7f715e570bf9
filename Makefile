# Mutirões — the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
export FLASK_APP := wsgi

# Operations target the local cluster (no Docker) unless DEPLOY=compose: `make scale-backends N=5 DEPLOY=compose`.
DEPLOY ?= cluster
N ?= 3
FILE ?= backup.dump
CLUSTER := $(PY) -m cluster
COMPOSE ?= $(shell command -v docker-compose >/dev/null 2>&1 && echo docker-compose || echo docker compose) \
	-f docker-compose.distributed.yml

.PHONY: help venv lock run test lint format tools migrate seed createsuperuser clean \
	cluster cluster-status cluster-down cluster-purge quickstart build up down populate scale-backends scale-workers \
	restart-backends backup-db restore-db status health logs info bench

help:
	@echo "make run      start the API on http://127.0.0.1:5000 (embedded SQLite mode, nothing else needed)"
	@echo "make test     install what the tests need, start private PostgreSQL and Redis, run ruff and pytest"
	@echo "make lock     refresh requirements.lock and requirements-dev.lock from setup.cfg (pip-tools, with hashes)"
	@echo "make lint     ruff (lint + format), the architecture contract (lint-imports) and the import-cycle report"
	@echo "make migrate  apply the database migrations (MUTIROES_DATABASE_URL, or the embedded SQLite file)"
	@echo "make cluster  the distributed topology as local processes: nginx on http://127.0.0.1:8080, Consul UI on"
	@echo "              http://127.0.0.1:8500/ui/ (cluster-status, cluster-down, scale-backends N=, restart-backends...)"
	@echo "make up DEPLOY=compose   the same topology with docker-compose.distributed.yml (see README)"

# The venv holds exactly the dev lock (runtime + test toolchain + the build backend), then the project itself, built
# by the locked setuptools (no build isolation: nothing unpinned is fetched).
$(VENV)/.installed: requirements-dev.lock setup.cfg
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --require-hashes -r requirements-dev.lock
	$(PIP) install --quiet --no-deps --no-build-isolation -e .
	touch $@

venv: $(VENV)/.installed

# Lock files for Python 3.11 on Linux, with hashes, from setup.cfg: requirements-dev.lock (install_requires + the dev
# extra + the build backend) for the venv above and CI, and requirements.lock (install_requires only, at the same
# versions) for everything that runs the app: the images and the local cluster install from it the same way,
#     pip install --require-hashes -r requirements.lock && pip install --no-deps .
# `make lock` keeps the current pins that setup.cfg still allows; `make lock LOCK_ARGS=--upgrade` moves every pin to
# the newest allowed version.
PIP_COMPILE := $(VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links
lock: venv
	$(PIP_COMPILE) $(LOCK_ARGS) --extra dev --all-build-deps -o requirements-dev.lock setup.cfg
	$(PIP_COMPILE) -c requirements-dev.lock -o requirements.lock setup.cfg

run: venv
	$(PY) -m mutiroes.embedded

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(PY) scripts/import_graph.py

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

tools:
	bash scripts/install-tools.sh

test: venv tools lint
	$(VENV)/bin/pytest $(PYTEST_ARGS)

migrate: venv
ifeq ($(DEPLOY),compose)
	$(COMPOSE) run --rm migrate
else
	$(VENV)/bin/flask db upgrade
endif

seed: venv
	$(VENV)/bin/flask seed
	$(VENV)/bin/flask seed-demo

createsuperuser: venv
ifeq ($(DEPLOY),compose)
	$(COMPOSE) run --rm backend flask --app wsgi createsuperuser --username "$(USERNAME)" --email "$(EMAIL)"
else
	$(VENV)/bin/flask createsuperuser --username "$(USERNAME)" --email "$(EMAIL)"
endif

# --- local cluster (no Docker): everything under .cluster/, supervised by supervisor ---------------------------
cluster: venv tools
	$(CLUSTER) up

cluster-status: venv
	$(CLUSTER) status

cluster-down: venv
	$(CLUSTER) down

cluster-purge: venv
	$(CLUSTER) down --purge

cluster-migrate cluster-populate cluster-createsuperuser: venv
	@case "$@" in \
	  cluster-migrate) $(CLUSTER) flask db upgrade ;; \
	  cluster-populate) $(CLUSTER) flask seed && $(CLUSTER) flask seed-demo ;; \
	  cluster-createsuperuser) $(CLUSTER) flask createsuperuser --username "$(USERNAME)" --email "$(EMAIL)" ;; \
	esac

# --- compose (docker-compose.distributed.yml) and shared operations ----------------------------------------------
.env:
	cp .env.example .env
	@echo "created .env from .env.example: set real secrets before going anywhere near production"

quickstart: .env build up migrate populate info

build:
	$(COMPOSE) build

up: .env
	$(COMPOSE) up -d

down:
	$(COMPOSE) down

populate:
ifeq ($(DEPLOY),compose)
	$(COMPOSE) run --rm backend sh -c "flask --app wsgi seed && flask --app wsgi seed-demo"
else
	$(MAKE) cluster-populate
endif

scale-backends: venv
ifeq ($(DEPLOY),compose)
	$(COMPOSE) up -d --no-recreate --scale backend=$(N) backend
else
	$(CLUSTER) scale-backends $(N)
endif

scale-workers: venv
ifeq ($(DEPLOY),compose)
	$(COMPOSE) up -d --no-recreate --scale worker=$(N) worker
else
	$(CLUSTER) scale-workers $(N)
endif

restart-backends: venv
ifeq ($(DEPLOY),compose)
	COMPOSE="$(COMPOSE)" bash scripts/compose-rolling-restart.sh
else
	$(CLUSTER) restart-backends
endif

backup-db: venv
ifeq ($(DEPLOY),compose)
	$(COMPOSE) exec -T postgres pg_dump -U mutiroes -Fc mutiroes > $(FILE)
else
	$(CLUSTER) backup-db $(FILE)
endif

restore-db: venv
ifeq ($(DEPLOY),compose)
	$(COMPOSE) exec -T postgres pg_restore -U mutiroes --clean --if-exists -d mutiroes < $(FILE)
else
	$(CLUSTER) restore-db $(FILE)
endif

status: venv
ifeq ($(DEPLOY),compose)
	$(COMPOSE) ps
else
	$(CLUSTER) status
endif

health: venv
ifeq ($(DEPLOY),compose)
	curl -fsS http://127.0.0.1:$${MUTIROES_HTTP_PORT:-8080}/health && curl -fsS http://127.0.0.1:$${MUTIROES_HTTP_PORT:-8080}/health/
else
	$(CLUSTER) health
endif

logs: venv
ifeq ($(DEPLOY),compose)
	$(COMPOSE) logs --tail=100 $(SERVICE)
else
	$(CLUSTER) logs $(SERVICE)
endif

info: venv
ifeq ($(DEPLOY),compose)
	@echo "API: http://127.0.0.1:$${MUTIROES_HTTP_PORT:-8080}/api/  Consul UI: http://127.0.0.1:8500/ui/  rq-dashboard: http://127.0.0.1:9181/"
else
	$(CLUSTER) info
endif

bench: venv tools
	$(PY) bench/http_throughput.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
