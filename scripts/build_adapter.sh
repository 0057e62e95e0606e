#!/usr/bin/env bash
# Rebuild the shipped LoRA adapter (hybrid_ai/assets/adapter) of the local model, SmolLM2-135M-Instruct: one epoch
# over the outcome corpus's train split (generated requests with their exact, brief answers; GSM8K, MMLU, the dev and
# test splits and the bundled suites are never trained on), with rehearsal of the base model's own answers to
# examples/support/general.jsonl (about 25 minutes on 2 cores, fp32 LoRA). Then the adapted model answers the
# corpus (about 15 minutes) and the `cascade-adapter` policy's verifier (hybrid_ai/assets/router/verifier-adapter.npz)
# is trained on the train split's graded answers of both models. Run scripts/build_corpus.sh first (the corpus and
# the base model's answers); benchmarks/adapter_cascade.py then prints the policy's thresholds. Usage:
#   bash scripts/build_adapter.sh [CORPUS]          # CORPUS defaults to ~/.cache/hybrid-ai/corpus
set -euo pipefail
cd "$(dirname "$0")/.."
CORPUS="${1:-$HOME/.cache/hybrid-ai/corpus}"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
[ -f "$CORPUS/eval/outcomes-train.jsonl" ] || { echo "run scripts/build_corpus.sh first" >&2; exit 2; }
.venv/bin/python scripts/corpus/build_corpus.py finetune-set --corpus "$CORPUS" --out "$TMP/train.jsonl"
# the base model (the bundled local-only policy names no adapter) is the starting point and the rehearsal source
cat > "$TMP/ft.yaml" <<'YAML'
epochs: 1
rank: 8
alpha: 16
learning_rate: 1.0e-3
max_length: 128
heldout: 0.03
seed: 0
save_dtype: fp16
YAML
[ -f hybrid_ai/assets/adapter/README.md ] && cp hybrid_ai/assets/adapter/README.md "$TMP/README.md"
.venv/bin/hybrid-ai finetune --policy local-only --from-scratch --data "$TMP/train.jsonl" \
    --config "$TMP/ft.yaml" --rehearse examples/support/general.jsonl --out hybrid_ai/assets/adapter
# ship the adapter only (the tokenizer is the base model's); keep the README
rm -f hybrid_ai/assets/adapter/{tokenizer.json,tokenizer_config.json,special_tokens_map.json,vocab.json,merges.txt,chat_template.jinja}
[ -f "$TMP/README.md" ] && cp "$TMP/README.md" hybrid_ai/assets/adapter/README.md
ls -la hybrid_ai/assets/adapter
.venv/bin/hybrid-ai eval --policy cascade-adapter --cloud replay --out "$CORPUS/eval-adapter" \
    --suite "$CORPUS/corpus-train" --suite "$CORPUS/corpus-dev" --suite "$CORPUS/corpus-test"
.venv/bin/python scripts/corpus/build_corpus.py outcomes "$CORPUS/eval-adapter/report.json"
.venv/bin/hybrid-ai router train-verifier --data "$CORPUS/eval-adapter/outcomes-train.jsonl" \
    "$CORPUS/eval/outcomes-train.jsonl" --out hybrid_ai/assets/router/verifier-adapter.npz
