# The two commands a user needs: `make run` and `make test`.
# Each creates the virtualenv and installs what it needs first.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
PROTOS := $(wildcard protos/rollout/v1/*.proto)

.PHONY: run test unit lint gen gen-check bench chaos clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@rm -f $(VENV)/.installed-*
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

## Start server, worker, PostgreSQL and Valkey (data kept in ./.rollout/).
run: $(STAMP)
	$(PY) -m server.embedded

## Everything CI checks: generated code drift, buf lint, mypy, the test suite.
test: $(STAMP) gen-check lint
	$(PY) -m pytest -q

unit: $(STAMP)
	$(PY) -m pytest -q tests/unit

lint: $(STAMP)
	$(VENV)/bin/buf lint
	@if git rev-parse -q --verify main >/dev/null 2>&1; then $(VENV)/bin/buf breaking --against '.git#branch=main' && echo "buf breaking: no break against main"; \
	  else echo "buf breaking: no main branch in this checkout, skipped"; fi
	$(VENV)/bin/ruff check server workers bench chaos rolloutctl router tests tools migrations
	$(PY) -m mypy
	$(VENV)/bin/lint-imports

## Regenerate the committed Python code from protos/.
gen: $(STAMP)
	$(PY) tools/gen_protos.py gen/python

## Fail when regenerating would change the committed code.
gen-check: $(STAMP)
	@tmp=$$(mktemp -d) && $(PY) tools/gen_protos.py $$tmp \
	  && diff -r -x __pycache__ $$tmp/rollout gen/python/rollout \
	  && rm -rf $$tmp && echo "generated code is up to date" \
	  || { echo "generated code is stale: run 'make gen' and commit"; rm -rf $$tmp; exit 1; }

bench: $(STAMP)
	$(PY) -m bench

## The fault campaign: kills and restarts under load, then the invariants. ~4 minutes.
chaos: $(STAMP)
	$(PY) -m chaos

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache
