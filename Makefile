# mgops — developer entry points. `make run` starts the server; `make test` passes.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
# Debian packages the test suite starts as real servers on loopback.
TEST_DEBS := postgresql-15 redis-server prometheus prometheus-alertmanager chromium
# npm installs axe-core for the browser tests; Debian's npm only when none is there
# (a machine's own Node.js may carry npm and conflict with Debian's package).
NODE_DEBS := nodejs npm

.PHONY: install run test test-deps lint lock bench clean

$(UV):
	$(PYTHON) -m pip install --user --quiet uv || $(PYTHON) -m pip install --quiet uv

$(BIN)/python: | $(UV)
	$(UV) venv --quiet --python $(PYTHON) $(VENV)

install: $(BIN)/python
	$(UV) pip sync --quiet --compile-bytecode --python $(BIN)/python requirements-dev.lock
	$(UV) pip install --quiet --compile-bytecode --python $(BIN)/python --no-deps -e .

run: install
	$(BIN)/mgops serve

test-deps:
	@missing=""; for p in $(TEST_DEBS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	command -v npm >/dev/null 2>&1 || missing="$$missing $(NODE_DEBS)"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@if [ ! -d tests/e2e/node_modules/axe-core ]; then \
	  cd tests/e2e && npm install --silent --no-audit --no-fund; fi

test: install test-deps
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

lock: | $(UV)
	$(UV) pip compile --quiet --generate-hashes --no-emit-package mgops -o requirements.lock pyproject.toml
	$(UV) pip compile --quiet --generate-hashes --extra dev -o requirements-dev.lock pyproject.toml

bench: install
	$(BIN)/python bench/paging.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
