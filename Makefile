# Two set-up commands: `make demo` and `make test`. Both create .venv and install into it.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install --disable-pip-version-check -q

.PHONY: demo test install install-dev lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q --upgrade pip

# Stamps re-run the install only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(PIP) -e ".[dev]"
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

demo: install  ## Ingest the bundled sample corpus and answer the sample questions, offline.
	$(BIN)/arag demo

test: install-dev  ## Lint, then run the whole test suite (no network needed).
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: install-dev
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .arag .pytest_cache
