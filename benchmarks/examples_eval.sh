#!/usr/bin/env bash
# The examples/ benchmark of record: every example question, every method, into docs/results/eval-examples.
# Resumable: re-running skips the ingest (unchanged), reuses the adapter and the eval answer cache.
#   benchmarks/examples_eval.sh              (the adapter: `ragkit finetune`'s default recipe)
#   METHODS=closed-book,rag benchmarks/examples_eval.sh    runs a subset (the cache keeps it for the full run)
set -euo pipefail
cd "$(dirname "$0")/.."
HOME_DIR=.demo-home
OUT=docs/results/eval-examples
WORK=out/eval-examples-record
PY=.venv/bin/python
METHODS=${METHODS:-closed-book,rag,long-context,lora,lora-rag,self-route}
export DO_NOT_TRACK=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
mkdir -p $WORK $OUT
$PY -m ragkit.cli ingest examples/corpus -c examples --home $HOME_DIR --prune --json > $WORK/ingest.json
# the adapter: the default recipe, every eval question (and its near duplicates) kept out of training
if ! $PY -m ragkit.cli adapters list -c examples --home $HOME_DIR --json | grep -q '"name": "record"'; then
  $PY -m ragkit.cli finetune -c examples --home $HOME_DIR --name record \
    --exclude-eval examples/evalset.jsonl --json > $WORK/finetune.json
fi
$PY -m ragkit.cli eval examples/evalset.jsonl -c examples --home $HOME_DIR --adapter record \
  --methods "$METHODS" --out $OUT --json > $WORK/eval.json
{
  echo "command: benchmarks/examples_eval.sh"
  echo "methods: $METHODS"
  echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "machine: $(nproc) cores, $(uname -m), no GPU; $($PY -c 'import torch; print("torch", torch.__version__)')"
  echo "settings: defaults (answer_policy span, span_sentences 2; full model window for long-context; the default finetune recipe)"
  echo "ingest: $(cat $WORK/ingest.json)"
  [ -f $WORK/finetune.json ] && echo "finetune: $(cat $WORK/finetune.json)"
} > $OUT/RUN.txt
cat $WORK/eval.json
