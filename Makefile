# Lantern — the two commands are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed-stamp

.PHONY: demo demo-script test bench lint typecheck run migrate clean help

help:
	@echo "make demo    play with the bot in your terminal (SQLite + local Signal sandbox)"
	@echo "make test    lint, type-check and run the whole test suite (SQLite and PostgreSQL)"
	@echo "make bench   measure the bot end to end at 1k, 10k and 100k members (~13 min)"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Lantern needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/lantern demo

demo-script: $(STAMP)
	$(BIN)/lantern demo --bundled

lint: $(STAMP)
	$(BIN)/ruff check bot handlers storage security sandbox tests scripts
	$(BIN)/ruff format --check bot handlers storage security sandbox tests scripts

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/python -m pytest -q -p no:cacheprovider -n auto --maxprocesses=4

# end to end at 1k / 10k / 100k members on SQLite and PostgreSQL, against an echo bot
bench: $(STAMP)
	$(BIN)/python scripts/bench_e2e.py

migrate: $(STAMP)
	$(BIN)/lantern migrate

run: $(STAMP)
	$(BIN)/lantern run

clean:
	rm -rf $(VENV) .lantern-demo .mypy_cache .ruff_cache .pytest_cache
