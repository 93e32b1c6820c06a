# Two commands on a fresh Debian 12 machine: `make demo` and `make test`. Everything they need
# (system packages, TimescaleDB, the Python environment) is installed by the targets below.
VENV    := .venv
PYTHON  := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
PROJECT := pyproject.toml edge_agent/pyproject.toml platform/pyproject.toml lab/pyproject.toml

.PHONY: demo test lint bench bench-agent bench-all chaos dashboards system system-test venv clean

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

# The Grafana dashboards' JSON, from lab/src/livinglab_lab/dashboards (commit the result).
dashboards: venv
	$(PYTHON) -m livinglab_lab.dashboards

# Every benchmark, one after another; the last line of each (its JSON, which carries the
# benchmark's own checks) goes into one file. A benchmark that fails stops the run.
BENCH_ALL := .lab/bench/all.jsonl
bench-all: system venv
	mkdir -p $(dir $(BENCH_ALL)) && : > $(BENCH_ALL)
	for name in ingest agent query export dashboards; do \
	  bash -o pipefail -c "$(VENV)/bin/livinglab bench $$name | tee .lab/bench/$$name.out" || exit 1; \
	  tail -n 1 .lab/bench/$$name.out >> $(BENCH_ALL); \
	done
	@echo "JSON lines in $(BENCH_ALL)"

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
