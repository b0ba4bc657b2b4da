# Two set-up commands: `make demo` and `make test`. Both create .venv and install into it.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install --disable-pip-version-check -q

.PHONY: demo test install install-dev lint clean bench-retrieval

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

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(PIP) -e ".[bench]"
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

demo: install  ## Ingest the bundled sample corpus and answer the sample questions, offline.
	$(BIN)/arag demo

test: install-dev  ## Lint, then run the whole test suite (no network needed).
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

.PHONY: bench-graph
bench-graph: install-dev  ## Our graph vs the LangGraph tutorial design: LLM calls, tokens, latency (~10 min).
	$(BIN)/python -m benchmarks.graph

lint: install-dev
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .arag .pytest_cache

# DATASET=path runs one dataset file (SQuAD JSON, Belebele JSONL or HotpotQA JSON/JSONL);
# SCALE=10k,100k,1M|none picks the scale sizes. The last stdout line is the figures as JSON.
bench-retrieval: $(VENV)/.installed-bench  ## Seed stack vs our index, side by side.
	$(BIN)/python -m benchmarks.retrieval $(if $(DATASET),--dataset $(DATASET)) $(if $(SCALE),--scale $(SCALE))

# LEVELS=1,8,32,128 picks the client counts; HOSTS=serve,inprocess,serve-llm,inprocess-llm,
# langgraph,langgraph-v1 the hosts (-llm: with the simulated LLM, benchmarks/serve/llm_stub.py).
.PHONY: bench-serve
bench-serve: install-dev  ## arag serve under load vs in-process and langgraph dev, offline and simulated LLM (~9 min).
	$(BIN)/python -m benchmarks.serve $(if $(LEVELS),--levels $(LEVELS)) $(if $(HOSTS),--hosts $(HOSTS))

# Fault injection, bad input, fuzzing and security at full size: a 5,000-chunk ingest killed
# at 20 points, 1,000 hypothesis cases per property and API operation, then pip-audit over
# requirements.lock. Prints the fault ledger (faults tried, survived, data lost); ~15 min.
.PHONY: reliability
reliability: install-dev  ## Faults injected, survived and data lost, at full size; dependency audit.
	ARAG_CRASH_CHUNKS=5000 ARAG_CRASH_KILLS=20 ARAG_FUZZ_EXAMPLES=1000 $(BIN)/python -m pytest \
		-m reliability --reliability-report benchmarks/results/reliability
	$(BIN)/python -m benchmarks.dependency_audit
