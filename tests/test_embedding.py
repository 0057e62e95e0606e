"""hybrid-ai inside an existing FastAPI app served by uvicorn on 127.0.0.1, called with the OpenAI SDK: mounted as
a sub-app, included as a router, and as a pure ASGI middleware; the app's own routes keep working."""

from __future__ import annotations

import contextvars
import threading
import time

import httpx
import openai
import pytest
import uvicorn
from fastapi import FastAPI

from conftest import free_port, user
from hybrid_ai.serving.app import create_app, router
from hybrid_ai.serving.middleware import HybridMiddleware

LOCAL = {"name": "embedded", "tiers": {"local": {"backend": "transformers", "generation": {"max_tokens": 8}}},
         "classifier": {"threshold": 1.0, "strong_tier": "local"}, "fallback": {}, "telemetry": {"sinks": []}}
REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="unset")


def host_app() -> FastAPI:
    app = FastAPI()

    @app.middleware("http")
    async def tag(request, call_next):  # the host's own context variable, set around every request
        REQUEST_ID.set(request.headers.get("x-request-id", "none"))
        return await call_next(request)

    @app.get("/hello")
    async def hello():
        return {"hello": "world", "request_id": REQUEST_ID.get()}

    app.mount("/mounted", create_app(LOCAL, auth=False))
    app.include_router(router(LOCAL), prefix="/included")
    app.add_middleware(HybridMiddleware, policy=LOCAL, prefix="/llm")
    return app


@pytest.fixture(scope="module")
def base():
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(host_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 60
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


@pytest.mark.slow
@pytest.mark.parametrize("prefix", ["/llm", "/mounted", "/included"])
def test_the_sdk_reaches_the_hybrid_in_each_embedding_and_streams(base, prefix):
    client = openai.OpenAI(api_key="unused", base_url=f"{base}{prefix}/v1", max_retries=0)
    r = client.chat.completions.create(model="hybrid", messages=user("Name a colour."))
    assert r.choices[0].message.content and r.model_extra["hybrid"]["record"]["policy"] == "embedded"
    pieces = [c.choices[0].delta.content or "" for c in client.chat.completions.create(
        model="hybrid", messages=user("Name a colour."), stream=True) if c.choices]
    assert "".join(pieces) == r.choices[0].message.content and len(pieces) > 2
    assert {m.id for m in client.models.list()} == {"hybrid", "local"}
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="hybrid", messages=user("hi"), n=3)
    assert httpx.get(f"{base}{prefix}/healthz").json()["policy"] == "embedded"


def test_the_apps_own_routes_and_context_variables_still_work(base):
    r = httpx.get(f"{base}/hello", headers={"x-request-id": "abc"})
    assert r.json() == {"hello": "world", "request_id": "abc"}
    assert httpx.get(f"{base}/llmx/v1/models").status_code == 404  # a prefix is a path segment, not a string
    assert httpx.get(f"{base}/nope").status_code == 404


def test_a_mounted_app_loads_its_models_at_start_when_the_parent_passes_its_lifespan_on():
    from fastapi.testclient import TestClient

    from doubles import ScriptedBackend
    from hybrid_ai import AsyncHybridClient

    class Counted(ScriptedBackend):
        loads = 0

        def warmup(self):
            Counted.loads += 1

    hybrid = create_app(AsyncHybridClient(LOCAL, backends={"local": Counted("local")}, sinks=[]), auth=False,
                        warmup=True)
    alone = FastAPI()
    alone.mount("/llm", hybrid)
    with TestClient(alone):
        assert Counted.loads == 0  # a mounted app gets no lifespan events
    parent = FastAPI(lifespan=hybrid.router.lifespan_context)
    parent.mount("/llm", hybrid)
    with TestClient(parent) as c:
        assert Counted.loads == 1
        assert c.post("/llm/v1/chat/completions", json={"messages": user("hi")}).json()["choices"][0][
            "message"]["content"] == "hello world"
