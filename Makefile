# Switchyard — `make run` for the embedded demo, `make test` for the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
HOST ?= 127.0.0.1
FAKE_UPSTREAM_PORT ?= 9100
PYTEST_ARGS ?=
# The billing, admission, reports and reconcile tests run again on SQLite (the embedded default,
# where money columns hold integer units); `make test SQLITE_TESTS=` leaves that run out.
SQLITE_TESTS ?= tests/billing tests/reports tests/gateway/test_admission_budget.py \
	tests/gateway/test_admission_unit.py tests/gateway/test_key_view.py
BENCH_ARGS ?=
# Debian's Chromium, driven by Playwright in tests/browser (never Playwright's own download).
CHROMIUM := /usr/bin/chromium
NODE_CLIENTS := tests/clients

# The cluster on loopback (bench/cluster.py): nginx, GATEWAYS gateway processes, a worker, one beat.
GATEWAYS ?= 2
CLUSTER_PORT ?= 8080
# More options of bench.cluster, e.g. CLUSTER_ARGS="--no-demo --state-file /tmp/cluster.json".
CLUSTER_ARGS ?=
# Debian's nginx, in front of the cluster's gateways (make cluster, make cluster-test).
NGINX := /usr/sbin/nginx

.PHONY: install run test lint format bench bench-reports fake-upstream cluster cluster-test

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Switchyard needs Python 3.11: set PYTHON=/path/to/python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

# Quiet on purpose: what the processes log follows, and the demo's credentials come last, in a
# box, once the gateway answers (also in var/demo-credentials.txt, mode 0600).
run: install
	@$(BIN)/python manage.py migrate --noinput --verbosity 0
	@$(BIN)/python manage.py demo_setup --no-box --upstream-url http://127.0.0.1:$(FAKE_UPSTREAM_PORT)/v1 --gateway-url http://$(HOST):$(PORT)
	@# Ctrl-C makes every process stop and demo_run exit with 130: that is a clean stop.
	@SWITCHYARD_HOST=$(HOST) SWITCHYARD_PORT=$(PORT) FAKE_UPSTREAM_PORT=$(FAKE_UPSTREAM_PORT) \
		$(BIN)/python manage.py demo_run --gateway-url http://$(HOST):$(PORT) || [ $$? -eq 130 ]

# The cluster suite (tests/cluster) starts its own cluster; `make test` leaves it out.
test: install $(CHROMIUM) $(NODE_CLIENTS)/node_modules/.package-lock.json
	scripts/with-services $(BIN)/python -m pytest $(PYTEST_ARGS)
	$(if $(SQLITE_TESTS),$(BIN)/python -m pytest --ds=config.settings.test_sqlite $(SQLITE_TESTS))

# nginx in front of GATEWAYS gateway processes, a Celery worker, one beat and the fake upstream
# with make run's demo data, on a throwaway PostgreSQL and Redis; Ctrl-C stops everything.
cluster: install $(NGINX)
	scripts/with-services $(BIN)/python -m bench.cluster --gateways $(GATEWAYS) --port $(CLUSTER_PORT) $(CLUSTER_ARGS)

# The cross-process proofs of design.md §11 against a cluster of real processes behind nginx.
cluster-test: install $(NGINX)
	scripts/with-services $(BIN)/python -m pytest tests/cluster $(PYTEST_ARGS)

# The Node clients of the README's recipes (tests/clients), as locked, with the machine's node and npm.
$(NODE_CLIENTS)/node_modules/.package-lock.json: $(NODE_CLIENTS)/package.json $(NODE_CLIENTS)/package-lock.json
	npm ci --prefix $(NODE_CLIENTS) --no-audit --no-fund --loglevel=error

$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian's chromium for the browser tests (apt-get)…"; \
		apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "tests/browser need Debian's chromium at $(CHROMIUM): sudo apt-get install chromium" >&2; exit 1; \
	fi

$(NGINX):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian's nginx for the cluster (apt-get)…"; \
		apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null; \
	else \
		echo "the cluster needs Debian's nginx at $(NGINX): sudo apt-get install nginx" >&2; exit 1; \
	fi

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# Reports and dashboard timings over 1,000,000 usage records in a throwaway PostgreSQL.
bench-reports: install
	scripts/with-services $(BIN)/python -m bench.reports $(BENCH_ARGS)

fake-upstream: install
	$(BIN)/python -m bench.fake_upstream --port $(FAKE_UPSTREAM_PORT)
