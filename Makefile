# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
IHUB   := $(VENV)/bin/ihub
HOST   ?= 127.0.0.1
PORT   ?= 8683
DATA   ?= ./data
NEWMAN := .tools/node_modules/.bin/newman

.PHONY: install run test test-unit test-ctk test-cluster bench clean

# The venv is rebuilt when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

$(NEWMAN):
	mkdir -p .tools
	npm install --silent --no-audit --no-fund --prefix .tools newman@6

install: $(VENV)/.installed $(NEWMAN)

# `make run DEMO=1` first fills an empty store with demo customer histories.
run: $(VENV)/.installed
	$(if $(DEMO),$(IHUB) demo --if-empty --events 5000 --data-dir $(DATA))
	$(IHUB) serve --host $(HOST) --port $(PORT) --data-dir $(DATA)

# Everything: unit, conformance over HTTP (both stores), integration against real Kafka and
# Elasticsearch (started by scripts/services), and the official CTK on both stores.
test: install
	scripts/test-all

# The fault tests on a local three-broker Kafka and two-node Elasticsearch cluster (scripts/services
# cluster, its own ports), started here and stopped afterwards; figures in artifacts/cluster-*.json.
test-cluster: install
	scripts/services cluster up
	$(PY) -m pytest -p no:cacheprovider -s tests/cluster/faults.py; rc=$$?; scripts/services cluster down; exit $$rc

bench: install
	$(PY) bench/embedded.py

clean:
	rm -rf $(VENV) .tools build *.egg-info
