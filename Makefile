# `make demo` and `make test` do all the set-up they need on a fresh Debian machine.
VENV   ?= .venv
PYTHON ?= python3
STAMP  := $(VENV)/.installed
DEMO   := out/demo

.PHONY: setup demo test test-fast lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/setup-system.sh
	./scripts/setup-system.sh
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $(STAMP)

demo: setup
	$(VENV)/bin/smartedu sample --project case $(DEMO)/sample-case.zip --event $(DEMO)/sample-case.json
	$(VENV)/bin/smartedu check $(DEMO)/sample-case.zip --event $(DEMO)/sample-case.json --out $(DEMO)/sample-case --state $(DEMO)/.state
	@echo "--- $(DEMO)/sample-case/verdict.json"
	@cat $(DEMO)/sample-case/verdict.json
	@echo
	@echo "--- the page for people: $(DEMO)/sample-case/report.html"

test: setup
	$(VENV)/bin/python -m pytest -q

test-fast: setup
	$(VENV)/bin/python -m pytest -q tests/unit

bench: setup
	@for b in bench/bench_*.py; do echo "== $$b"; $(VENV)/bin/python $$b || exit 1; done

clean:
	rm -rf out .pytest_cache
