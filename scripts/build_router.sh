#!/usr/bin/env bash
# Rebuild the shipped router (hybrid_ai/assets/router/default.npz) from the RouteLLM outcome data and
# recalibrate the bundled policies' thresholds with it (about 30 s). Usage:
#   bash scripts/build_router.sh [DATA]        # DATA defaults to data/routellm
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${1:-data/routellm}"
HA=.venv/bin/hybrid-ai
# --no-group-prior: the group prior adds about 0.1 ms per score, which would take the routing overhead past its
# 0.3 ms target (README, "Group prior"); `router train` on your own data uses it by default.
# --heuristic-prior 0.25: the largest of 0.25 / 0.5 / 1 that costs under 0.01 in-domain APGR (README, "Heuristic prior")
$HA router train --data "$DATA/gsm8k" "$DATA/mmlu" --no-group-prior --heuristic-prior 0.25 \
    --out hybrid_ai/assets/router/default.npz
# privacy-strict: 25% of GSM8K+MMLU prompts to the cloud. The default policy's threshold is chosen for >= 95% of
# all-cloud quality held out, from eval reports of the shipped local model: see benchmarks/default_threshold.py
# (quality-first sits below it); re-run that after rebuilding the router.
$HA router calibrate --data "$DATA/gsm8k" "$DATA/mmlu" --target-cloud-share 0.25 --policy policies/privacy-strict.yaml
echo "shipped router rebuilt; thresholds: $(grep -h '^  threshold' policies/*.yaml | tr -s ' ' | tr '\n' ' ')"
