# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
IHUB   := $(VENV)/bin/ihub
HOST   ?= 127.0.0.1
PORT   ?= 8683
DATA   ?= ./data
NEWMAN := .tools/node_modules/.bin/newman
# The search engine: elasticsearch, or opensearch (`make install ENGINE=opensearch` adds its client,
# the optional set interaction-hub[opensearch]; `make test ENGINE=opensearch` runs the whole suite on it).
ENGINE ?= elasticsearch
comma  := ,
EXTRAS := test$(if $(filter opensearch,$(ENGINE)),$(comma)opensearch)
# Serving needs the runtime dependencies alone (`runtime` names no extra); the test tools (pytest,
# playwright, mypy, schemathesis, ...) are for the targets that test.
RUN_EXTRAS := $(if $(filter opensearch,$(ENGINE)),opensearch,runtime)

.PHONY: install run test test-unit test-ctk test-cluster bench clean

# Installs come from uv.lock: exact versions, each file checked against its hash. `--locked` stops
# when pyproject.toml changed without `.venv/bin/uv lock` (README, "Dependencies"). uv sits in the
# venv at the version the Dockerfile's UV_VERSION names; `--inexact` keeps it (and pip) there.
UV_VERSION := 0.13.9
UV         := $(VENV)/bin/uv

# The venv is brought up to date when the lock changes, one stamp per set of extras.
$(VENV)/.installed-%: pyproject.toml uv.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q uv==$(UV_VERSION)
	$(UV) sync -q --locked --inexact $(foreach extra,$(filter-out runtime,$(subst $(comma), ,$*)),--extra $(extra))
	touch $@

$(NEWMAN):
	mkdir -p .tools
	npm install --silent --no-audit --no-fund --prefix .tools newman@6

install: $(VENV)/.installed-$(EXTRAS) $(NEWMAN)

# `make run DEMO=1` first fills an empty store with demo customer histories.
run: $(VENV)/.installed-$(RUN_EXTRAS)
	$(if $(DEMO),$(IHUB) demo --if-empty --events 5000 --data-dir $(DATA))
	$(IHUB) serve --host $(HOST) --port $(PORT) --data-dir $(DATA)

# Everything: unit, conformance over HTTP (both stores), integration against real Kafka and
# Elasticsearch (started by scripts/services), the official CTK on both stores, and the OpenSearch
# checks (scripts/test-all), whose client is installed whatever ENGINE says. ENGINE=opensearch: all
# of it on OpenSearch instead.
test: $(VENV)/.installed-test$(comma)opensearch $(NEWMAN)
	IHUB_SEARCH_ENGINE=$(ENGINE) scripts/test-all

# The fast tests alone: tests/unit, no services, under a minute. With the OpenSearch client, as for
# `make test`: a unit test checks that each engine gets its own client.
test-unit: $(VENV)/.installed-test$(comma)opensearch
	$(PY) -m pytest -q -p no:cacheprovider tests/unit

# The official TMF683 CTK on a fresh embedded store, no services (`scripts/run-ctk search`: full mode).
test-ctk: install
	scripts/run-ctk

# The fault tests on a local three-broker Kafka and two-node Elasticsearch cluster (scripts/services
# cluster, its own ports), started here and stopped afterwards; figures in artifacts/cluster-*.json.
test-cluster: install
	scripts/services cluster up
	$(PY) -m pytest -p no:cacheprovider -s tests/cluster/faults.py; rc=$$?; scripts/services cluster down; exit $$rc

bench: install
	$(PY) bench/embedded.py

clean:
	rm -rf $(VENV) .tools build *.egg-info
