"""Work that grows with a request's size (parsing a large body, validation, the personal-data scan, masking,
scoring) runs off the event loop, in one thread shared by the process: large requests queue there and leave the
other core to the event loop, and to the small requests and health checks it serves (`hybrid-ai serve` also
shortens the GIL switch interval so the loop gets in between their steps). Small requests are prepared on the
loop: a thread hop would cost them more. Measured by benchmarks/loop_stall.py."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

THRESHOLD_CHARS = 16_384  # a request with more text than this is prepared here
_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def pool() -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(1, thread_name_prefix="hybrid-ai-prepare")
        return _pool


async def run(fn: Callable[..., Any], *args: Any) -> Any:
    """`fn(*args)` in the shared thread, awaited, in a copy of the caller's context (the request's API key id)."""
    return await asyncio.get_running_loop().run_in_executor(pool(), contextvars.copy_context().run, fn, *args)


def large(params: Any, limit: int = THRESHOLD_CHARS) -> bool:
    """Whether `params` (a request's parameters, or any JSON-like value) hold more than `limit` characters,
    counting each item as at least one and stopping at the limit, so the check itself stays small."""
    left, todo = limit, [params]
    while todo and left > 0:
        v = todo.pop()
        left -= len(v) if isinstance(v, (str, bytes)) else 1
        if isinstance(v, dict):
            todo.extend(v.values())
        elif isinstance(v, (list, tuple)):
            todo.extend(v)
    return left <= 0
