"""Hot reload: the server's client replaced whole, without dropping a request.

A request takes the client that is current when it starts (`Served.hold`) and keeps it to its end, streams
included; `Served.replace` makes a new client current at once, and the one it replaces is closed (its sinks
flushed, its shadow queue drained) when its last request ends. The new client is built and warmed up in a
worker thread before the swap, so a reload never stalls the event loop; a policy that does not load leaves the
current one serving and says why.

Triggers: `POST /admin/reload` with an admin key (`server.admin_keys_env`, default HYBRID_AI_ADMIN_KEYS; the
route does not exist without one), and SIGHUP to `hybrid-ai serve` (with `--workers`, uvicorn restarts the
workers on SIGHUP, one by one, and each loads the policy again). Prometheus counters carry over a reload."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..client import AsyncHybridClient


class Served:
    """The client the app serves now, and the requests each client still has in flight."""

    def __init__(self, client: AsyncHybridClient, build: Callable[[], AsyncHybridClient] | None = None):
        self.client, self.build = client, build
        self._active: dict[int, int] = {}
        self._retired: dict[int, AsyncHybridClient] = {}
        self._lock = asyncio.Lock()

    def hold(self) -> AsyncHybridClient:
        client = self.client
        self._active[id(client)] = self._active.get(id(client), 0) + 1
        return client

    def let_go(self, client: AsyncHybridClient) -> None:
        left = self._active.get(id(client), 1) - 1
        self._active[id(client)] = left
        if left <= 0:
            self._active.pop(id(client), None)
            retired = self._retired.pop(id(client), None)
            if retired is not None:
                asyncio.get_running_loop().run_in_executor(None, retired.close)

    async def held_stream(self, client: AsyncHybridClient, stream: Any) -> AsyncGenerator[Any, None]:
        """`stream`'s chunks; the client is let go when the stream ends, however it ends."""
        try:
            async for chunk in stream:
                yield chunk
        finally:
            await stream.aclose()
            self.let_go(client)

    async def replace(self, new: AsyncHybridClient) -> AsyncHybridClient:
        old, self.client = self.client, new
        carry_metrics(old, new)
        if self._active.get(id(old), 0) > 0:
            self._retired[id(old)] = old
        else:
            await asyncio.get_running_loop().run_in_executor(None, old.close)
        return old

    async def reload(self) -> dict[str, Any]:
        """Build the new client from the policy source (in a worker thread, warmed up), then swap it in."""
        if self.build is None:
            raise RuntimeError("this server was not started from a policy file or bundle it can read again")
        async with self._lock:
            build = self.build

            def make() -> AsyncHybridClient:
                client = build()
                client.warmup()
                return client

            new = await asyncio.to_thread(make)
            old = await self.replace(new)
        return {"status": "reloaded", "policy": new.policy.name, "policy_hash": new.policy.hash,
                "previous_policy_hash": old.policy.hash}


def carry_metrics(old: AsyncHybridClient, new: AsyncHybridClient) -> None:
    """The new client counts on in the old one's Prometheus registry (what /metrics serves): no counter restarts."""
    if old.metrics is None or new.metrics is None:
        return
    new.sinks = [old.metrics if s is new.metrics else s for s in new.sinks]
    new.metrics = old.metrics
