#!/usr/bin/env bash
# README "Several runs": three RL runs (seeds) of the built-in tiny model, sampled on one prompt
# file, pooled by `rlvr compare BASE TRAINED TRAINED TRAINED`. About 3-8 minutes on 2 CPU cores.
#   bash examples/several_runs.sh [OUT]    (OUT defaults to /tmp/several_runs)
set -euo pipefail
OUT=${1:-/tmp/several_runs}
RLVR=${RLVR:-rlvr}
mkdir -p "$OUT"
# Three seeds of the study; each writes its own data, base and trained checkpoints.
[ -f "$OUT/lab/seed2/train_real/final/model.pt" ] || $RLVR lab --quick --seeds 3 --out "$OUT/lab"
# The seeds' test sets differ, so sample every model on seed 0's test prompts (same problem ids).
PROMPTS="$OUT/lab/seed0/data/test.jsonl"
$RLVR sample "$PROMPTS" -n 8 --model "$OUT/lab/seed0/base" --seed 0 --max-tokens 6 --out "$OUT/base.jsonl" -q
for s in 0 1 2; do
  $RLVR sample "$PROMPTS" -n 8 --model "$OUT/lab/seed$s/train_real/final" --seed 0 --max-tokens 6 \
    --out "$OUT/trained_seed$s.jsonl" -q
done
COLUMNS=${COLUMNS:-130} $RLVR compare "$OUT/base.jsonl" "$OUT/trained_seed0.jsonl" "$OUT/trained_seed1.jsonl" \
  "$OUT/trained_seed2.jsonl" --verifier math --k 1,2,4,8 -q --html "$OUT/several_runs.html"
