#!/usr/bin/env bash
# SciFact retrieval figures of record: zero-shot, the tuned embedder (unsupervised; with the train
# queries) and the int8 embedding runtime, into docs/results/. Resumable: the ingested base home is
# kept in .bench-scifact/base and each variant runs on its own copy (the base stays on the base model).
#   benchmarks/scifact_retrieval.sh [BEIR_DIR]    (default ../shared/data/beir-scifact)
set -euo pipefail
cd "$(dirname "$0")/.."
BEIR=${1:-../shared/data/beir-scifact}
ROOT=.bench-scifact
PY=${PY:-.venv/bin/python}
RESULTS=docs/results
export DO_NOT_TRACK=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
mkdir -p $ROOT $RESULTS

bench() {  # NAME HOME ARGS...: one bench retrieval run into docs/results/bench-retrieval-scifact-NAME.json
  # HOME `base` is the kept base home; any other name is a fresh copy of it
  local name=$1 home=$ROOT/$2
  shift 2
  [ -s "$RESULTS/bench-retrieval-scifact-$name.json" ] && { echo "kept $name"; return; }
  if [ "$home" != "$ROOT/base" ]; then
    rm -rf "$home"
    cp -r "$ROOT/base" "$home"
  fi
  $PY -m ragkit.cli bench retrieval --beir "$BEIR" --home "$home" --json "$@" > "$ROOT/$name.json"
  mv "$ROOT/$name.json" "$RESULTS/bench-retrieval-scifact-$name.json"
  echo "$name: $(head -c 200 "$RESULTS/bench-retrieval-scifact-$name.json")"
}

bench test-hybrid-base base
bench test-adapt-unsupervised unsupervised --adapt unsupervised
bench test-adapt-train train --adapt train
RAGKIT_EMBED_RUNTIME=int8 bench test-hybrid-int8 int8
# what the train queries say of the same adaptation (where its knobs would be judged)
bench train-adapt-unsupervised train-unsupervised --adapt unsupervised --split train
GPU=$($PY -c 'import torch; print(torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU")')
echo "date: $(date -u +%Y-%m-%dT%H:%MZ); machine: $(nproc) cores, $(uname -m), $GPU" > $RESULTS/bench-retrieval-scifact-RUN.txt
