# Two entry points: `make run` (service on the embedded default data) and `make test`
# (`make test-slow` adds the slow checks).
# The interpreter is found by itself: PYTHON=... overrides, otherwise the first Python >= 3.12 found.
SHELL := /bin/bash
VENV ?= .venv
HOST ?= 127.0.0.1
PORT ?= 8000
# The fast tier runs in this many pytest-xdist workers (one test file at a time each; the fits are shared).
TEST_WORKERS ?= 2

PY_CANDIDATES := $(PYTHON) python3.14 python3.13 python3.12 \
	$(sort $(wildcard /root/.pyenv/versions/3.1[2-9]*/bin/python3)) \
	$(wildcard /usr/local/bin/python3.1[2-9] /usr/bin/python3.1[2-9]) python3 python

FIND_PYTHON = for p in $(PY_CANDIDATES); do \
	  if command -v "$$p" >/dev/null 2>&1 && \
	     "$$p" -c 'import sys, venv; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then \
	    command -v "$$p"; exit 0; fi; \
	done; exit 1

.PHONY: run test test-integration test-slow install lint data clean fuzz load

$(VENV)/.installed: pyproject.toml constraints.txt
	@py="$$($(FIND_PYTHON))" || { echo "error: no Python >= 3.12 found; install one or run 'make PYTHON=/path/to/python3.12 ...'" >&2; exit 2; }; \
	echo "using $$py ($$($$py --version))"; \
	rm -rf $(VENV) && "$$py" -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $@

install: $(VENV)/.installed

run: install
	$(VENV)/bin/totaldemand up --host $(HOST) --port $(PORT)

# The default suite is the fast tier: small fits, the app in-process, two workers. `make test-integration`
# runs live servers, worker processes, the browser, PostgreSQL, Dask, fuzzing, full fits and the checks that
# compile a whole model graph; `make test-slow` the
# statistical checks (SBC, the second simulated world's recovery, chain-round equivalence). CI runs all three.
test: install
	$(VENV)/bin/python -m pytest -q -m "not slow and not integration" -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

test-integration: install
	$(VENV)/bin/python -m pytest -q -m "integration and not slow"

test-slow: install
	$(VENV)/bin/python -m pytest -q -m slow

lint: install
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

# Schemathesis against a live server with more generated examples per operation than the test suite.
fuzz: install
	TOTALDEMAND_FUZZ_EXAMPLES=$${EXAMPLES:-200} $(VENV)/bin/python -m pytest -q tests/service/test_fuzz.py

# 50 concurrent clients against the real server while a fit job runs (benchmarks/serve_load.py).
load: install
	$(VENV)/bin/python benchmarks/serve_load.py

data: install
	PYTHON=$(VENV)/bin/python bash scripts/build_default_data.sh

clean:
	rm -rf $(VENV) var
