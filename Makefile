# The two commands the README gives: `make demo` and `make test`. Both install what they need.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
NPM_STAMP := node_modules/.installed
FORGE := node_modules/.bin/forge
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)

.PHONY: deps system-deps lint typecheck pytest forge-test test catalogs demo clean

$(PY_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

# `npm install` with the committed lock installs exactly the pinned versions; `npm ci` is not used
# because npm 11 rejects a lock that omits other platforms' optional anvil/forge binaries.
$(NPM_STAMP): package.json package-lock.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

system-deps:
	@bash scripts/install-system-deps.sh

deps: $(PY_STAMP) $(NPM_STAMP)

lint: deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: deps
	$(BIN)/mypy core store chain device iot_gateway api chaintrace

pytest: deps system-deps
	$(BIN)/python -m pytest tests $(PYTEST_ARGS)

# Gas is checked on the deterministic tests only: fuzz and invariant means depend on the run count.
SNAPSHOT_ARGS := --no-match-test '^(testFuzz|invariant)_'

forge-test: deps
	$(FORGE) test
	FORGE=$(FORGE) bash scripts/check-gas-snapshot.sh $(SNAPSHOT_ARGS)
	$(BIN)/slither . --skip-clean --filter-paths 'tests/|node_modules/'

test: lint typecheck forge-test pytest

# After changing a consumer page's text: refresh api/locales' catalogs, then translate what is new
# (tests/api/test_page_catalogs.py fails on a message missing, untranslated or obsolete).
catalogs: deps
	$(BIN)/pybabel -q extract -F babel.cfg --no-location --width 100 -o messages.pot .
	$(BIN)/pybabel -q update -i messages.pot -d api/locales --width 100 --ignore-obsolete
	rm -f messages.pot

demo: deps
	$(BIN)/chaintrace demo

clean:
	rm -rf out cache .chaintrace .pytest_cache .mypy_cache .ruff_cache
