# Quorum — the two commands that matter: `make run` and `make test`.
# Everything else is a step they use. Run `make help` for the list.

SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
RUN := $(UV) run --frozen --no-sync

.DEFAULT_GOAL := help
.PHONY: help install run test up down status proto proto-check lint format \
        unit demo bench chaos images manifests clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet "uv==$(UV_VERSION)"

.venv/.installed: uv.lock pyproject.toml package-lock.json | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	npm install --no-audit --no-fund --loglevel=error  # `npm ci` trips over buf's optional per-platform packages
	touch $@

install: .venv/.installed ## install Python and Node dependencies from the lock files

run: install ## start Kafka, MongoDB and the four services; Ctrl-C stops them
	$(RUN) python -m quorum_devtools.run

test: install ## lint, type-check, check generated code, run every test (starts what it needs)
	$(RUN) python -m quorum_devtools.check

up: install ## start the local Kafka broker and MongoDB only
	$(RUN) python -m quorum_devtools.infra up

down: install ## stop the local Kafka broker and MongoDB
	$(RUN) python -m quorum_devtools.infra down

status: install ## are the local servers running?
	$(RUN) python -m quorum_devtools.infra status

proto: install ## regenerate libs/contracts from proto/
	$(RUN) python -m quorum_devtools.protogen
	node_modules/.bin/buf lint

proto-check: install ## fail when the generated contracts are stale
	$(RUN) python -m quorum_devtools.protogen --check

lint: install ## ruff, formatting, buf lint and mypy
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	node_modules/.bin/buf lint
	$(RUN) mypy

format: install ## apply ruff's fixes and formatting
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

demo: install ## the newcomer scenario told through the client (starts the platform if needed)
	$(RUN) python -m quorum_devtools.demo

chaos: install ## the long fault-injection run: every process, the broker and mongod SIGKILLed 3 times each under load (minutes; SEED=n repeats a run)
	$(RUN) pytest tests/e2e/test_fault_injection.py --chaos -s -q $(if $(SEED),--fault-seed $(SEED))

bench: install ## throughput, latency, growth and CPU against the reference pipeline, in one run
	$(RUN) python -m quorum_devtools.bench

TAG ?= dev
images: ## build the four service images (TAG=dev; needs a Docker engine)
	for s in gateway ideas validation notifications; do \
	  docker build --build-arg SERVICE=$$s -t quorum-$$s:$(TAG) . || exit 1; done

manifests: install ## render and validate the Kubernetes manifests (needs kubectl, no cluster)
	$(RUN) pytest tests/deploy -o addopts="" -v --no-header -p no:cacheprovider

unit: install ## the fast tests only (no servers)
	$(RUN) pytest tests/unit -q

clean: ## remove local data, caches and the virtualenv (stops servers first)
	-$(RUN) python -m quorum_devtools.infra down
	rm -rf .local .venv .tools node_modules .mypy_cache .ruff_cache .pytest_cache
