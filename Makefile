# Two commands on a fresh Debian 12 machine: `make demo` and `make test`. Everything they need
# (system packages, TimescaleDB, the Python environment) is installed by the targets below.
VENV    := .venv
PYTHON  := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
PROJECT := pyproject.toml edge_agent/pyproject.toml platform/pyproject.toml lab/pyproject.toml

.PHONY: demo test lint bench bench-agent chaos system system-test venv clean

demo: system venv
	$(VENV)/bin/livinglab demo $(DEMO_ARGS)

test: system-test venv lint
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

bench: system venv
	$(VENV)/bin/livinglab bench ingest $(BENCH_ARGS)

bench-agent: system venv
	$(VENV)/bin/livinglab bench agent $(BENCH_ARGS)

chaos: system venv
	$(VENV)/bin/livinglab chaos --runs 20 $(CHAOS_ARGS)

system:
	bash scripts/install-system.sh

system-test:
	bash scripts/install-system.sh --test

venv: $(STAMP)

$(STAMP): $(PROJECT)
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -e ./edge_agent -e './platform[pdf]' -e ./lab -e '.[dev]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) .lab
