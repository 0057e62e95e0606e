#!/usr/bin/env bash
# Static checks, as CI runs them: ruff on the package, and mypy --strict on the public modules (the API users
# import and extend). The whole package is also type-checked, less strictly, by tests/test_typing.py.
set -euo pipefail
cd "$(dirname "$0")/.."
PUBLIC=(hybrid_ai/__init__.py hybrid_ai/types.py hybrid_ai/errors.py hybrid_ai/stream.py hybrid_ai/response.py
        hybrid_ai/client.py hybrid_ai/turn.py hybrid_ai/chunking.py hybrid_ai/testing.py hybrid_ai/backends/base.py)
.venv/bin/ruff check hybrid_ai
# openai's types are not analysed (seconds each; pyproject's mypy overrides), so subclassing them is allowed
.venv/bin/mypy --strict --follow-imports=silent --allow-subclassing-any "${PUBLIC[@]}"
