#!/usr/bin/env bash
# Build the outcome corpus for the shipped local model, its graded answers (scripts/corpus/build_corpus.py) and the
# shipped verifier trained on them:
# about 35 minutes on 2 cores with AVX-512 (8,199 local answers; 3,640 took 15 minutes there and 37 on AVX2), cached: a re-run answers
# only new items). Usage:
#   bash scripts/build_corpus.sh [OUT]            # OUT defaults to ~/.cache/hybrid-ai/corpus
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-$HOME/.cache/hybrid-ai/corpus}"
.venv/bin/python scripts/corpus/build_corpus.py build --out "$OUT"
.venv/bin/hybrid-ai eval --policy route-only --cloud replay --out "$OUT/eval" \
    --suite "$OUT/corpus-train" --suite "$OUT/corpus-dev" --suite "$OUT/corpus-test"
.venv/bin/python scripts/corpus/build_corpus.py outcomes "$OUT/eval/report.json"
# the shipped verifier (hybrid_ai/assets/router/verifier.npz) is trained on the train split only: dev chooses the
# bundled default policy's cascade thresholds; the test split and the bundled suites measure (benchmarks/slm_router.py)
.venv/bin/hybrid-ai router train-verifier --data "$OUT/eval/outcomes-train.jsonl" --out hybrid_ai/assets/router/verifier.npz
