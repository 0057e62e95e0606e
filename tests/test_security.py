"""`hybrid-ai serve` tried as an attacker would: a request never steers where or with which key a tier is called,
secrets never come back or reach a record or a log, every route but /healthz needs a key, and no bad input gets
a 5xx or drops a connection. The server is the real command, the cloud a fake OpenAI-compatible upstream."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time

import httpx
import pytest

from conftest import CLI, ROOT, free_port, user, wait_http
from doubles import FakeUpstream
from gateway import AUTH, BODY_LIMIT, SECRET, SERVER_KEYS, Gateway
from rawhttp import RawClient



@pytest.fixture(scope="module")
def gw(tmp_path_factory):
    with FakeUpstream("ok") as upstream:
        g = Gateway(tmp_path_factory.mktemp("gateway"), upstream, max_body_bytes=BODY_LIMIT)
        try:
            yield g
        finally:
            g.close()


def chat(**extra) -> dict:
    return {"messages": user("Say hi"), "max_tokens": 4, **extra}


STEERING = [  # each one, honoured, would send the key elsewhere, change who pays, or plant code in the server
    ("api_base", "http://127.0.0.1:9/v1"), ("base_url", "http://127.0.0.1:9/v1"), ("api_key", "sk-attacker"),
    ("custom_llm_provider", "anthropic"), ("aws_access_key_id", "AKIAATTACKER0000000A"),
    ("aws_region_name", "us-east-1"), ("mock_response", "litellm.RateLimitError"), ("callbacks", ["langfuse"]),
    ("num_retries", 10), ("api_version", "2024-01-01"), ("organization", "org-x"), ("headers", {"x": "y"}),
    ("extra_headers", {"x-api-key": "k"}), ("litellm_params", {"api_base": "http://127.0.0.1:9"}),
    ("self", 1), ("metadata_x", 1), ("timeout", 1),
]


@pytest.mark.slow
@pytest.mark.parametrize("where", ["top", "extra_body"])
@pytest.mark.parametrize("field, value", STEERING, ids=[f for f, _ in STEERING])
def test_fields_that_steer_a_tier_are_refused_and_reach_no_upstream(gw, field, value, where):
    before = gw.upstream.hits
    body = chat(route="cloud", **({field: value} if where == "top" else {"extra_body": {field: value}}))
    r = gw.post(body)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["param"] == field and err["type"] == "invalid_request_error"
    assert gw.upstream.hits == before


@pytest.mark.parametrize("field, value", [("n", 2), ("modalities", ["text", "audio"]), ("logit_bias", {"50256": -100})])
def test_parameters_no_tier_honours_yet_say_so(gw, field, value):
    before = gw.upstream.hits
    r = gw.post(chat(route="cloud", **{field: value}))
    assert r.status_code == 400 and r.json()["error"]["param"] == field
    assert "not supported yet" in r.json()["error"]["message"] and gw.upstream.hits == before


def test_the_cloud_is_called_where_and_as_the_policy_says(gw):
    gw.upstream.script = ["ok"]
    r = gw.post(chat(route="cloud", user="end-user-7", presence_penalty=0.5, extra_body={"seed": 3}))
    assert r.status_code == 200 and r.json()["hybrid"]["route"] == "cloud"
    sent = gw.upstream.requests[-1]
    assert sent["path"] == "/v1/chat/completions" and sent["headers"]["authorization"] == f"Bearer {SECRET}"
    assert sent["body"]["user"] == "end-user-7" and sent["body"]["seed"] == 3
    assert set(sent["body"]) <= {"model", "messages", "max_tokens", "temperature", "top_p", "seed", "stop", "user",
                                 "presence_penalty", "frequency_penalty", "stream", "stream_options"}


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/models", "/openapi.json", "/docs", "/nope"])
@pytest.mark.parametrize("headers", [{}, {"authorization": "Bearer wrong-key"}, {"authorization": SERVER_KEYS[0]},
                                     {"authorization": f"Basic {SERVER_KEYS[0]}"}])
def test_every_route_but_healthz_needs_a_key(gw, path, headers):
    r = httpx.request("POST" if "chat" in path else "GET", f"{gw.base}{path}", headers=headers,
                      content=json.dumps(chat()).encode())
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
    assert r.headers["www-authenticate"].startswith("Bearer")


def test_each_configured_key_works_and_healthz_is_open(gw):
    for key in SERVER_KEYS:
        r = httpx.get(f"{gw.base}/v1/models", headers={"authorization": f"Bearer {key}"})
        assert r.status_code == 200
    h = httpx.get(f"{gw.base}/healthz")
    assert h.status_code == 200 and h.json() == {"status": "ok"}  # the details only with a key
    assert httpx.get(f"{gw.base}/healthz", headers=AUTH).json()["tiers"]["cloud"]["ready"] is True


def test_the_key_never_comes_back_nor_reaches_records_or_logs(gw):
    gw.upstream.script = ["401"]  # the upstream echoes the key it got, as OpenAI's 401 does
    pinned = gw.post(chat(route="cloud"))
    assert pinned.status_code == 502 and "Incorrect API key" in pinned.text and "[redacted]" in pinned.text
    routed = gw.post(chat(messages=user("What is 2+2?")))  # cloud first, fails, the local SLM answers
    assert routed.status_code == 200 and routed.json()["hybrid"]["record"]["fallback"] is True
    assert "[redacted]" in routed.json()["hybrid"]["record"]["fallback_reason"]
    streamed = gw.post(chat(messages=user("What is 2+2?"), stream=True))
    assert streamed.status_code == 200 and "data: [DONE]" in streamed.text
    gw.upstream.script = ["ok"]
    time.sleep(0.5)  # the stderr sink flushes per line; give the OS a moment
    logs = gw.stderr_path.read_bytes()
    dump = "\n".join(str(row) for row in sqlite3.connect(gw.db).execute("SELECT * FROM route_log"))
    assert b"[redacted]" in logs and "[redacted]" in dump
    for secret in (SECRET, *SERVER_KEYS):
        assert all(secret.encode() not in body for body in gw.replies)
        assert secret.encode() not in logs and secret not in dump
    assert b"Traceback" not in b"".join(gw.replies) and b".py" not in b"".join(gw.replies)


FIVE_HUNDREDS = [  # each gave a 500 (and dropped the next request on the connection) in version 0.1.0
    b'{"self": 1, "messages": [{"role": "user", "content": "hi"}]}',
    b'{"messages": [{"role": "user", "content": "hi"}], "extra_body": {"stream": "yes"}, "max_tokens": 2}',
    b'{"messages": [{"role": "user", "content": "hi"}], "seed": 1' + b"0" * 5000 + b"}",
    b"[" * 100_000 + b"]" * 100_000,
    b'{"messages": [{"role": "user", "content": "\\ud800"}]}',
    b'{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1e999}',
    b'{"messages": [{"role": "user", "content": "hi", "content": {"a": [[[[[]]]]]}}]}',
    b"\xff\xfe{}",
]


def test_bad_input_gets_a_4xx_and_the_connection_stays_usable(gw):
    client = RawClient("127.0.0.1", gw.port)
    try:
        for body in FIVE_HUNDREDS:
            r = client.request("POST", "/v1/chat/completions", {**AUTH, "content-type": "application/json"}, body)
            assert r.status is not None and 400 <= r.status < 500 and not r.dropped, (body[:60], r)
        ok = client.request("GET", "/v1/models", AUTH)
        assert ok.status == 200 and not ok.dropped and client.connections == 1
    finally:
        client.close()


def test_extra_body_stream_streams(gw):
    gw.upstream.script = ["ok"]
    r = gw.post({"messages": user("hi"), "max_tokens": 2, "route": "local", "extra_body": {"stream": True}})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    assert r.text.rstrip().endswith("data: [DONE]")


def test_oversize_bodies_are_refused_while_read_chunked_or_not(gw):
    client = RawClient("127.0.0.1", gw.port)
    try:
        big = b'{"messages": [{"role": "user", "content": "' + b"x" * (4 * BODY_LIMIT) + b'"}]}'
        r = client.request("POST", "/v1/chat/completions", {**AUTH, "content-type": "application/json"}, big)
        assert r.status == 413 and "max_body_bytes" in r.body.decode() and not r.dropped
        chunks = (b"x" * 65536 for _ in range(160))  # 10 MiB, chunked: no content-length to refuse it by
        r = client.request("POST", "/v1/chat/completions", {**AUTH, "content-type": "application/json"}, chunks=chunks)
        assert r.status == 413 and not r.dropped
        assert client.request("GET", "/v1/models", AUTH).status == 200
    finally:
        client.close()


@pytest.mark.slow
def test_serve_refuses_to_start_without_keys_unless_told(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "HYBRID_AI_API_KEYS"}
    r = subprocess.run([*CLI, "serve", "--policy", "local-only", "--port", str(free_port()), "--no-warmup"],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "HYBRID_AI_API_KEYS holds no key" in r.stderr and "Traceback" not in r.stderr
    port = free_port()
    proc = subprocess.Popen([*CLI, "serve", "--policy", "local-only", "--port", str(port), "--no-warmup",
                             "--no-auth"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", proc)
        assert httpx.get(f"http://127.0.0.1:{port}/v1/models").status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert b"authentication is OFF" in proc.stderr.read()


def test_a_stream_the_client_drops_is_recorded_and_frees_the_local_model(gw):
    body = {"messages": user("Write a long story about a dragon who bakes bread."), "route": "local",
            "max_tokens": 400, "stream": True}
    with httpx.Client(timeout=120) as client:
        with client.stream("POST", f"{gw.base}/v1/chat/completions", json=body, headers=AUTH) as r:
            lines = r.iter_lines()
            first = [next(lines) for _ in range(4)]
        t0 = time.perf_counter()  # leaving the block closed the connection mid-stream
        nxt = client.post(f"{gw.base}/v1/chat/completions", headers=AUTH,
                          json={"messages": user("Hi"), "route": "local", "max_tokens": 2})
        waited = time.perf_counter() - t0
    assert first[0].startswith("data: ") and nxt.status_code == 200 and waited < 5
    deadline = time.monotonic() + 10
    rows = []
    while not rows and time.monotonic() < deadline:
        rows = sqlite3.connect(gw.db).execute(
            "SELECT route, error FROM route_log WHERE error LIKE 'client went away%'").fetchall()
        time.sleep(0.1)
    assert rows and rows[0][0] == "local"


def test_a_bounded_fuzz_run_gets_no_5xx_and_drops_no_connection(gw):
    from fuzzcases import cases, send_all

    gw.upstream.script = ["ok"]
    before = len(gw.upstream.requests)
    client = RawClient("127.0.0.1", gw.port)
    try:
        out = send_all(client, cases(600, seed=1, big=False), AUTH)
    finally:
        client.close()
    assert out.server_errors == [] and out.dropped == [], (out.server_errors[:5], out.dropped[:5])
    assert sum(out.statuses.values()) == 600 and out.statuses.get(200, 0) >= 20 and out.statuses.get(401, 0) >= 20
    for sent in gw.upstream.requests[before:]:  # what reached the cloud: only fields of the contract
        assert set(sent["body"]) <= {"model", "messages", "max_tokens", "temperature", "top_p", "seed", "stop",
                                     "user", "presence_penalty", "frequency_penalty", "stream", "stream_options",
                                     "tools", "tool_choice", "parallel_tool_calls", "response_format", "logprobs",
                                     "top_logprobs"}  # each validated by the contract
    assert httpx.get(f"{gw.base}/healthz").status_code == 200
