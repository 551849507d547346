# Two commands for a newcomer: `make run` serves CoGov, `make test` runs the whole suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# pytest-xdist workers for `make test` (one per core). The long tests come first (tests/conftest.py) and each
# worker takes at most 4 tests at a time (--maxschedchunk), so the workers end together.
TEST_WORKERS ?= auto

FRONTEND := services/web/frontend
BUNDLE := services/web/static/build/manifest.json

.PHONY: run test lint install bundle messages translations clean bench bench-full

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# Node packages for the JS Automerge peers the tests drive (skipped, with a note, when npm is missing).
node_modules/.package-lock.json: package-lock.json
	@if command -v npm >/dev/null; then npm ci --no-audit --no-fund --loglevel=error; else echo "npm not found: JS peer tests will be skipped"; fi

install: $(VENV)/.installed translations

# The interface's catalogs (docs/translating.md): `make messages` extracts every marked string into the
# template and updates each language's .po; `make translations` compiles the .po files to the .mo the app reads.
LOCALE := services/web/locale
LANGUAGES := ar zh fr ru es
CATALOGS := $(foreach lang,$(LANGUAGES),$(LOCALE)/$(lang)/LC_MESSAGES/messages.mo)

messages: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k lazy_gettext -k formatted -k plural_forms:1,2 --no-location --ignore-dirs '.* _* node_modules tests bench stubs' \
		--sort-output --project=CoGov --copyright-holder='CoGov contributors' -o $(LOCALE)/messages.pot .
	$(BIN)/pybabel update -i $(LOCALE)/messages.pot -d $(LOCALE) --no-fuzzy-matching --ignore-obsolete --width=0

$(LOCALE)/%/LC_MESSAGES/messages.mo: $(LOCALE)/%/LC_MESSAGES/messages.po | $(VENV)/.installed
	$(BIN)/pybabel compile --statistics -d $(LOCALE) -l $*

translations: $(CATALOGS)

# The live editor's bundle (esbuild), rebuilt when its sources or lockfile change; never committed.
# Without npm the pages still work, without the live editor.
$(FRONTEND)/node_modules/.package-lock.json: $(FRONTEND)/package-lock.json
	@if command -v npm >/dev/null; then cd $(FRONTEND) && npm ci --no-audit --no-fund --loglevel=error; else echo "npm not found: the live editor will not be built"; fi

$(BUNDLE): $(FRONTEND)/node_modules/.package-lock.json $(FRONTEND)/package.json $(FRONTEND)/build.mjs $(wildcard $(FRONTEND)/src/*.js)
	@if command -v npm >/dev/null; then cd $(FRONTEND) && npm run --silent build; fi

bundle: $(BUNDLE)

run: install bundle
	$(BIN)/cogov db upgrade
	$(BIN)/cogov demo --if-empty
	@echo "CoGov: http://$(HOST):$(PORT)/   API docs: http://$(HOST):$(PORT)/api/docs"
	$(BIN)/cogov serve --host $(HOST) --port $(PORT)

# The checks CI enforces before any test runs: ruff's lint rules and formatting, and mypy
# (strict for networks/, norms/ and services/kit/; see pyproject.toml).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint install node_modules/.package-lock.json bundle
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist load --maxschedchunk 4 $(PYTEST_ARGS)

# CoGov's live sync side by side with the reference automerge-repo sync server (bench/compare.py):
# `make bench` is the quick run (about 10 minutes), `make bench-full` the full one (about an hour).
# Both write their table into bench/RESULTS.md.
REFERENCE := bench/reference
$(REFERENCE)/node_modules/.package-lock.json: $(REFERENCE)/package-lock.json
	npm ci --prefix $(REFERENCE) --no-audit --no-fund --loglevel=error

bench: install $(REFERENCE)/node_modules/.package-lock.json
	$(BIN)/python -m bench.compare

bench-full: install $(REFERENCE)/node_modules/.package-lock.json
	$(BIN)/python -m bench.compare --full

clean:
	rm -rf $(VENV) node_modules $(FRONTEND)/node_modules $(REFERENCE)/node_modules services/web/static/build .pytest_cache .hypothesis .mypy_cache .ruff_cache
