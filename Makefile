# fragility-forecast developer commands. `make run` and `make test` work on a fresh machine.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
RUNTIME_STAMP := $(VENV)/.installed-runtime
# The installer: uv, pinned, bootstrapped into .uv/ from PyPI with the 3.12 interpreter's own pip.
# Every install reads uv.lock (`make lock` after editing pyproject.toml; `make upgrade-lock` to take new releases).
UV_VERSION := 0.13.9
UV := .uv/bin/uv
# A Python 3.12 interpreter: plain python3.12 first, then the pyenv form used on these machines.
PYTHON ?= $(shell for c in python3.12 "env PYENV_VERSION=3.12.1 python3.12"; do \
	if $$c -c 'import sys; assert sys.version_info[:2] == (3, 12)' >/dev/null 2>&1; then echo "$$c"; break; fi; done)
export PYTENSOR_FLAGS ?= base_compiledir=$(HOME)/.cache/fragility-pytensor
export UV_PROJECT_ENVIRONMENT := $(VENV)
export UV_PYTHON_DOWNLOADS := never
PYTEST_ARGS ?=
# Test processes (pytest-xdist): a test mostly waits on one thing at a time (a server, a fit's single
# thread), so two processes on two cores halve make test (1,453 s -> 710 s measured idle). Whole files go to
# one process (--dist loadfile): a module's fixtures (servers, fitted models) are built once.
TEST_WORKERS ?= 2
XDIST := -n $(TEST_WORKERS) --dist loadfile

.PHONY: install install-runtime lock upgrade-lock run lint test test-slow test-fast test-calibration test-docker test-deploy bench clean

install: $(STAMP)

$(UV):
	@if [ -z "$(PYTHON)" ]; then echo "No Python 3.12 found: install python3.12 or set PYTHON=/path/to/python3.12" >&2; exit 1; fi
	$(PYTHON) -m venv .uv
	.uv/bin/python -m pip install --quiet --disable-pip-version-check 'uv==$(UV_VERSION)'

# The interpreter's real path: uv needs a file, and PYTHON may be a command (`env PYENV_VERSION=... python3.12`).
PYTHON_EXE = $(shell $(PYTHON) -c 'import sys; print(sys.executable)')

# Everything, dev tools included (tests, lint, benchmarks); --locked fails if uv.lock is older than pyproject.toml.
$(STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --extra dev --python "$(PYTHON_EXE)"
	@touch $(STAMP) $(RUNTIME_STAMP)

# What the service needs, no dev tools (`make run`); --inexact keeps dev tools installed by `make test`.
install-runtime: $(RUNTIME_STAMP)

$(RUNTIME_STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --inexact --python "$(PYTHON_EXE)"
	@touch $(RUNTIME_STAMP)

# Re-resolve after editing pyproject.toml (keeps current pins where they still fit).
lock: $(UV)
	$(UV) lock --python "$(PYTHON_EXE)"

# Take the newest releases the ranges of pyproject.toml allow.
upgrade-lock: $(UV)
	$(UV) lock --upgrade --python "$(PYTHON_EXE)"

# Local demo: reads are public (bound to 127.0.0.1) so the page works without a key; set
# FRAGILITY_PUBLIC_READ=0 to require one.
run: install-runtime
	FRAGILITY_PUBLIC_READ=$${FRAGILITY_PUBLIC_READ:-1} $(VENV)/bin/fragility demo --serve

# The rules, enforced: ruff (line length, pyflakes, pycodestyle, import order, complexity, dead noqa) and the
# import-linter contracts of pyproject.toml (layers indicators -> models -> service, and service's own
# layers cli -> ... -> crud -> db; nothing imports tests).
lint: install
	$(VENV)/bin/ruff check .
	PYTHONPATH=$(CURDIR) $(VENV)/bin/lint-imports

test: install lint
	$(PY) -m tests.preflight
	$(PY) -m pytest $(XDIST) $(PYTEST_ARGS)

# The heavier tests (real fits at recovery size, fault injection, browser): 29 min on 2 cores in one process
# (warm compile cache).
test-slow: install
	$(PY) -m pytest $(XDIST) --run-slow -m "slow and not calibration" $(PYTEST_ARGS)

# Spillover and event calibration on synthetic truth (issues 17 and 27): 20-panel suites, about 40 min on 2
# cores; not in CI's hour: run before a stop that changes the count model, its figures in the note.
test-calibration: install
	$(PY) -m pytest --run-slow -s -m calibration $(PYTEST_ARGS)

test-fast: install
	$(PY) -m pytest $(XDIST) -m "not slow and not e2e" $(PYTEST_ARGS)

# The image built from the Dockerfile and smoke-tested in a container, as CI does (.ci/docker-smoke:
# installs Debian's docker.io and starts dockerd if needed, so run as root; 5-10 min cold on 2 cores).
test-docker:
	.ci/docker-smoke

# The compose stack on local stand-ins for PostgreSQL and the object store: a fit through the worker on
# Dask, killed workers restarted, nothing lost (.ci/compose-check; 9 min measured, 15 with the stand-ins' first
# build; not in CI's hour).
test-deploy:
	.ci/compose-check

clean:
	rm -rf $(VENV) .uv fragility.db artifacts
