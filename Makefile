# The two set-up commands of the README: `make demo` and `make test`. Both work on a fresh machine with only
# Python >= 3.11 and make: they create .venv when it is missing and install what they need into it.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DEMO_EVENTS ?= 50000
DEMO_DIR    ?= demo
DEMO_DB     := $(DEMO_DIR)/okta-calls.db
HOST ?= 127.0.0.1
PORT ?= 8001

.PHONY: demo demo-data test install install-test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

## demo: build a demo archive of $(DEMO_EVENTS) generated events and serve it on http://$(HOST):$(PORT)/
demo: demo-data
	$(BIN)/okta-calls serve $(DEMO_DB) --host $(HOST) --port $(PORT)

demo-data: install
	mkdir -p $(DEMO_DIR)
	rm -f $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm $(DEMO_DB)-journal
	$(BIN)/okta-calls generate $(DEMO_EVENTS) --seed 1 -o $(DEMO_DIR)/events.ndjson.gz
	$(BIN)/okta-calls ingest $(DEMO_DB) $(DEMO_DIR)/events.ndjson.gz

## test: install the test extras and run the whole suite
test: install-test
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python benchmarks/bench_ingest.py --events 100000

clean:
	rm -rf $(DEMO_DIR) build *.egg-info .pytest_cache
