#!/usr/bin/env bash
# Rebuild the shipped LoRA adapter (hybrid_ai/assets/adapter) of the local model, SmolLM2-135M-Instruct: one epoch
# over the outcome corpus's train split (generated requests with their exact, brief answers; GSM8K, MMLU, the dev and
# test splits and the bundled suites are never trained on), with rehearsal of the base model's own answers to
# examples/support/general.jsonl. About 30 minutes on 2 cores (fp32 LoRA). Needs the corpus suites
# (`python evals/build_corpus.py build`, seconds; the full scripts/build_corpus.sh also answers them). Usage:
#   bash scripts/build_adapter.sh [CORPUS]          # CORPUS defaults to ~/.cache/hybrid-ai/corpus
set -euo pipefail
cd "$(dirname "$0")/.."
CORPUS="${1:-$HOME/.cache/hybrid-ai/corpus}"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
[ -f "$CORPUS/corpus-train/items.jsonl" ] || .venv/bin/python evals/build_corpus.py build --out "$CORPUS"
.venv/bin/python evals/build_corpus.py finetune-set --corpus "$CORPUS" --out "$TMP/train.jsonl"
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
