#!/usr/bin/env bash
# The wiki-newpages-2023-qa/bio benchmark of record: 120 seeded, stratified questions, every method.
# Resumable: re-running skips the ingest (unchanged), reuses the adapter and the eval answer cache.
#   benchmarks/wiki_bio.sh [DATA_DIR]    (default ../shared/data/wiki-newpages-2023-qa/bio)
#   METHODS=closed-book,rag benchmarks/wiki_bio.sh    runs a subset (the cache keeps it for the full run)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-../shared/data/wiki-newpages-2023-qa/bio}
HOME_DIR=.bench-home
OUT=docs/results/wiki-bio
PY=.venv/bin/python
METHODS=${METHODS:-closed-book,rag,long-context,lora,lora-rag,self-route}
export DO_NOT_TRACK=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
$PY benchmarks/wiki_to_evalset.py "$DATA" out/wiki-bio --sample 120 --seed 0
$PY -m ragkit.cli ingest out/wiki-bio/corpus -c wiki-bio --home $HOME_DIR --prune --json > out/wiki-bio/ingest.json
# the adapter: the default recipe, built from the documents only (never the QA pairs), with the eval
# questions and their near duplicates kept out of training
if ! $PY -m ragkit.cli adapters list -c wiki-bio --home $HOME_DIR --json | grep -q '"name": "bio-default"'; then
  $PY -m ragkit.cli finetune -c wiki-bio --home $HOME_DIR --name bio-default \
    --exclude-eval out/wiki-bio/evalset.jsonl --json > out/wiki-bio/finetune.json
fi
mkdir -p $OUT
$PY -m ragkit.cli eval out/wiki-bio/evalset.jsonl -c wiki-bio --home $HOME_DIR --adapter bio-default \
  --methods "$METHODS" --out $OUT --json > out/wiki-bio/eval.json
{
  echo "command: benchmarks/wiki_bio.sh $DATA"
  echo "methods: $METHODS"
  echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "machine: $(nproc) cores, $(uname -m), no GPU; $(.venv/bin/python -c 'import torch; print("torch", torch.__version__)')"
  echo "ingest: $(cat out/wiki-bio/ingest.json)"
  [ -f out/wiki-bio/finetune.json ] && echo "finetune: $(cat out/wiki-bio/finetune.json)"
} > $OUT/RUN.txt
cat out/wiki-bio/eval.json
