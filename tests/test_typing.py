"""The package type-checks (mypy, as CI runs it), and `create`'s overloads give callers the right types."""

from __future__ import annotations

import pytest

import subprocess
import sys

from conftest import ROOT

SNIPPET = '''
from typing import assert_type
from hybrid_ai import AsyncHybridClient, HybridClient
from hybrid_ai.response import HybridChatCompletion
from hybrid_ai.stream import AsyncHybridStream, HybridStream

def sync(c: HybridClient) -> None:
    assert_type(c.chat.completions.create(messages=[], stream=True), HybridStream)
    assert_type(c.chat.completions.create(messages=[]), HybridChatCompletion)

async def asynchronous(c: AsyncHybridClient) -> None:
    assert_type(await c.chat.completions.create(messages=[], stream=True), AsyncHybridStream)
    assert_type(await c.chat.completions.create(messages=[]), HybridChatCompletion)
'''


@pytest.mark.slow
def test_mypy_passes_and_the_create_overloads_type_the_result(tmp_path):
    snippet = tmp_path / "use.py"
    snippet.write_text(SNIPPET)
    r = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
                        str(ROOT / "hybrid_ai"), str(snippet)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:]
    assert "Success" in r.stdout
