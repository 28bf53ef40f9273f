# fragility-forecast developer commands. `make run` and `make test` work on a fresh machine.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# A Python 3.12 interpreter: plain python3.12 first, then the pyenv form used on these machines.
PYTHON ?= $(shell for c in python3.12 "env PYENV_VERSION=3.12.1 python3.12"; do \
	if $$c -c 'import sys; assert sys.version_info[:2] == (3, 12)' >/dev/null 2>&1; then echo "$$c"; break; fi; done)
export PYTENSOR_FLAGS ?= base_compiledir=$(HOME)/.cache/fragility-pytensor
PYTEST_ARGS ?=

.PHONY: install run lint test test-slow test-fast bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@if [ -z "$(PYTHON)" ]; then echo "No Python 3.12 found: install python3.12 or set PYTHON=/path/to/python3.12" >&2; exit 1; fi
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# Local demo: reads are public (bound to 127.0.0.1) so the page works without a key; set
# FRAGILITY_PUBLIC_READ=0 to require one.
run: install
	FRAGILITY_PUBLIC_READ=$${FRAGILITY_PUBLIC_READ:-1} $(VENV)/bin/fragility demo --serve

# The rules, enforced: ruff (line length, pyflakes, pycodestyle, import order, complexity) and the
# import-linter contracts of pyproject.toml (layers indicators -> models -> service; nothing imports tests).
lint: install
	$(VENV)/bin/ruff check .
	PYTHONPATH=$(CURDIR) $(VENV)/bin/lint-imports

test: install lint
	$(PY) -m tests.preflight
	$(PY) -m pytest $(PYTEST_ARGS)

# The heavier tests (real fits at recovery size, fault injection, browser): about 15 min on 2 cores.
test-slow: install
	$(PY) -m pytest --run-slow -m slow $(PYTEST_ARGS)

test-fast: install
	$(PY) -m pytest -m "not slow and not e2e" $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) fragility.db artifacts
