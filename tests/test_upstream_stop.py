"""Stop the cloud upstream between two requests: the second one falls back to the local SLM."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

from conftest import TEST_KEY, free_port, hybrid_policy, user, wait_http
from hybrid_ai import AsyncHybridClient, HybridClient
from hybrid_ai.testing import EchoBackend
from hybrid_ai.serving import create_app


def start_upstream(port: int) -> uvicorn.Server:
    """A real OpenAI-compatible hybrid-ai app on 127.0.0.1 whose only tier is the instant EchoBackend."""
    app = create_app(AsyncHybridClient("local-only", backends={"local": EchoBackend("local")}, sinks=[]),
                     api_keys=[TEST_KEY])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    threading.Thread(target=server.run, daemon=True).start()
    wait_http(f"http://127.0.0.1:{port}/healthz", timeout=30)
    return server


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_stopping_the_upstream_sends_the_next_request_to_local(tmp_path, cloud_key):
    port = free_port()
    server = start_upstream(port)
    with HybridClient(hybrid_policy(f"http://127.0.0.1:{port}", tmp=tmp_path)) as client:
        up = client.chat.completions.create(messages=user("echo these words"), route="cloud", max_tokens=4)
        server.should_exit = True
        deadline = time.monotonic() + 10
        while _listening(port) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _listening(port)
        down = client.chat.completions.create(messages=user("Say hi"), route="cloud", max_tokens=4)
    assert up.hybrid.route == "cloud" and up.choices[0].message.content == "echo these words"
    assert down.hybrid.route == "local" and down.hybrid.fallback is True
    assert "[cloud]" in down.hybrid.record.fallback_reason and down.choices[0].message.content
