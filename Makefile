# Mutirões — the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
export FLASK_APP := wsgi

# Operations target the local cluster (no Docker) unless DEPLOY=compose or DEPLOY=swarm.
DEPLOY ?= cluster
N ?= 3
FILE ?= backup.dump
CLUSTER := $(PY) -m cluster

.PHONY: help venv lock run test lint format tools docker clean bench cluster cluster-status cluster-down cluster-purge \
	quickstart build up down status health logs info mail scale-backends scale-workers restart-backends migrate \
	populate createsuperuser backup-db restore-db fail

help:
	@echo "make run      start the API on http://127.0.0.1:5000 (embedded SQLite mode, nothing else needed)"
	@echo "make test     install what the tests need, start private PostgreSQL and Redis, run ruff and pytest"
	@echo "make lock     refresh requirements.lock and requirements-dev.lock from setup.cfg (pip-tools, with hashes)"
	@echo "make lint     ruff (lint + format), the architecture contract (lint-imports) and the import-cycle report"
	@echo "make quickstart [DEPLOY=cluster|compose|swarm]  the distributed topology, demo data and its URLs:"
	@echo "              cluster = local processes (nginx :8080, Consul UI :8500), compose/swarm = containers"
	@echo "make up|down|status|health|logs|info|mail|scale-backends N=|scale-workers N=|restart-backends|migrate|"
	@echo "     populate|backup-db FILE=|restore-db FILE=|createsuperuser USERNAME= EMAIL=   [DEPLOY=...]"

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
	$(PIP_COMPILE) -c requirements-dev.lock -o docker/patroni.lock docker/patroni.in

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

test: venv tools docker lint
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# --- one set of verbs for every way to run the topology -------------------------------------------------------
# DEPLOY=cluster (default: local processes, no Docker), compose (docker-compose.distributed.yml) or swarm (the same
# file as a Docker Swarm stack). `make up DEPLOY=compose`, `make scale-backends N=5 DEPLOY=swarm`, ...
OPS = $(if $(filter cluster,$(DEPLOY)),$(CLUSTER),bash scripts/stack.sh $(DEPLOY))
OPS_NEEDS = venv $(if $(filter cluster,$(DEPLOY)),tools,docker)

docker:
	bash scripts/install-docker.sh

build: docker
	bash scripts/stack.sh $(if $(filter cluster,$(DEPLOY)),compose,$(DEPLOY)) build

up: $(OPS_NEEDS)
	$(OPS) up

down status health info mail restart-backends migrate populate: $(OPS_NEEDS)
	$(OPS) $@

logs: $(OPS_NEEDS)
	$(OPS) logs $(SERVICE)

scale-backends scale-workers: $(OPS_NEEDS)
	$(OPS) $@ $(N)

backup-db restore-db: $(OPS_NEEDS)
	$(OPS) $@ $(FILE)

# a drill: kill -9 the current one of TARGET = db-primary | redis-master | replica | worker
fail: $(OPS_NEEDS)
	$(OPS) fail $(TARGET)

createsuperuser: $(OPS_NEEDS)
	$(OPS) createsuperuser "$(USERNAME)" "$(EMAIL)"

# the right first run for the mode: images (containers), everything up, the demo data, the URLs
quickstart: $(if $(filter cluster,$(DEPLOY)),,build)
	$(MAKE) up DEPLOY=$(DEPLOY)
	$(MAKE) populate DEPLOY=$(DEPLOY)
	$(MAKE) info DEPLOY=$(DEPLOY)

# --- the local cluster's own names (kept: `make cluster` is what the README's first page shows) ------------------
cluster: venv tools
	$(CLUSTER) up

cluster-status cluster-down: venv
	$(CLUSTER) $(subst cluster-,,$@)

cluster-purge: venv
	$(CLUSTER) down --purge

# every benchmark in turn (about 40 minutes at 1,000,000 events), then one table: `make bench BENCH_ARGS="--only mixed"`
bench: venv tools
	$(PY) bench/all.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
