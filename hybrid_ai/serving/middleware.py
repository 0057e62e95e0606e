"""A pure ASGI middleware that answers the OpenAI routes under a prefix and passes everything else to the wrapped
app. Pure ASGI rather than Starlette's `BaseHTTPMiddleware`, which breaks context variables and buffers streams.

    from hybrid_ai.serving.middleware import HybridMiddleware
    app = FastAPI()                                                # the application's own app
    app.add_middleware(HybridMiddleware, policy="my-policy.yaml", prefix="/llm")
    # POST /llm/v1/chat/completions, GET /llm/v1/models, GET /llm/healthz: the hybrid; the rest: the app

Authentication: the hybrid's own bearer keys only when `auth=True` (default off here: the host application
decides who reaches its routes). The hybrid's models load on first use, or at the host's start with
`warmup=True` (the host app's lifespan events pass through this middleware)."""

from __future__ import annotations

import asyncio
from typing import Any


class HybridMiddleware:
    def __init__(self, app: Any, policy: Any = None, *, client: Any = None, prefix: str = "/llm",
                 auth: bool = False, api_keys: list[str] | None = None, warmup: bool = False):
        from .app import create_app

        self.app, self.prefix = app, "/" + prefix.strip("/") if prefix.strip("/") else ""
        self.hybrid = create_app(client if client is not None else policy, auth=auth, api_keys=api_keys)
        self.warmup = warmup

    def _ours(self, scope) -> bool:
        if scope["type"] not in ("http", "websocket"):
            return False
        root = scope.get("root_path", "")
        path = scope["path"][len(root):] if root and scope["path"].startswith(root) else scope["path"]
        return path == self.prefix or path.startswith(self.prefix + "/")

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan" and self.warmup:
            await asyncio.to_thread(self.hybrid.state.client.warmup)
            self.warmup = False
        if not self._ours(scope):
            await self.app(scope, receive, send)
            return
        # as Starlette's Mount does: the full path stays, the prefix joins the root path
        await self.hybrid({**scope, "root_path": scope.get("root_path", "") + self.prefix}, receive, send)
