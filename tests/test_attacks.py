"""`hybrid-ai serve` against the findings of an attacker's probe: partial and encoded keys, a request that would
stall the event loop, details on /healthz, answers that echo a key, errors that quote the prompt, retries,
refused requests without a trace, slow connections, local work that outlives its caller and a full local queue.
The server is the real command; the cloud a fake OpenAI-compatible upstream on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import socket
import sqlite3
import threading
import time

import httpx
import pytest

from conftest import user
from doubles import FakeUpstream
from gateway import AUTH, SECRET, SERVER_KEYS, Gateway

TOOLS = [{"type": "function", "function": {"name": "lookup", "description": "Look a thing up",
                                           "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}}]


def runs_of(secret: str, n: int = 12) -> list[str]:
    return [secret[i:i + n] for i in range(len(secret) - n + 1)]


def leaks(blob: str, secret: str = SECRET) -> list[str]:
    """The 12-character runs of `secret` that `blob` contains."""
    return [r for r in runs_of(secret) if r in blob]


def rows(gw: Gateway, where: str = "1") -> list[tuple]:
    return sqlite3.connect(gw.db).execute(f"SELECT * FROM route_log WHERE {where}").fetchall()


def stderr_text(gw: Gateway) -> str:
    time.sleep(0.3)
    return gw.stderr_path.read_text(errors="replace")


@pytest.fixture(scope="module")
def gw(tmp_path_factory):
    with FakeUpstream("ok") as upstream:
        g = Gateway(tmp_path_factory.mktemp("attacks"), upstream, sinks=("stderr", "sqlite", "prometheus"),
                    server={"header_timeout_s": 1.0, "body_timeout_s": 1.0})
        try:
            yield g
        finally:
            g.close()


@pytest.mark.slow
def test_a_partial_key_in_an_upstream_error_is_redacted_everywhere(gw):
    gw.upstream.script = ["401_partial"]
    r = gw.post({"messages": user("look it up"), "tools": TOOLS, "max_tokens": 4})  # only the cloud has tools
    gw.upstream.script = ["ok"]
    assert r.status_code == 502 and "Incorrect API key" in r.text and "[redacted]" in r.text
    assert not leaks(r.text)
    assert not leaks(str(rows(gw))) and not leaks(stderr_text(gw))
    assert gw.upstream.requests[-1]["headers"]["authorization"] == f"Bearer {SECRET}"  # it was sent, as it must


@pytest.mark.slow  # the module's server of its own (about 8 s to start)
def test_an_answer_that_echoes_the_key_reaches_the_caller_without_it(gw):
    gw.upstream.script = ["echo_key"]
    plain = gw.post({"messages": user("hi"), "route": "cloud", "max_tokens": 4})
    streamed = gw.post({"messages": user("hi"), "route": "cloud", "max_tokens": 4, "stream": True})
    gw.upstream.script = ["ok"]
    assert plain.status_code == 200 and "your header was" in plain.json()["choices"][0]["message"]["content"]
    assert streamed.status_code == 200 and "header" in streamed.text
    for body in (plain.text, streamed.text):
        assert not leaks(body) and "[redacted]" in body


@pytest.mark.slow
def test_healthz_says_only_the_status_without_a_key_and_masks_urls_with_one(tmp_path):
    with FakeUpstream("ok") as upstream:
        base = upstream.base.replace("//", "//admin:hunter2@") + "/v1?api-key=tok123"
        g = Gateway(tmp_path, upstream, cloud={"api_base": base})
        try:
            open_ = httpx.get(f"{g.base}/healthz")
            assert open_.status_code == 200 and open_.json() == {"status": "ok"}
            assert httpx.get(f"{g.base}/healthz", headers={"authorization": "Bearer wrong"}).json() == {"status": "ok"}
            full = httpx.get(f"{g.base}/healthz", headers=AUTH).json()
            assert full["tiers"]["cloud"]["ready"] is True and full["policy"] == "attacked"
            shown = json.dumps(full)
            assert "hunter2" not in shown and "tok123" not in shown and "admin" not in shown
            assert full["tiers"]["cloud"]["api_base"].endswith("/v1?***")
        finally:
            g.close()


@pytest.mark.slow
def test_personal_data_cannot_be_pinned_to_the_cloud_and_a_pin_is_never_overridden(tmp_path):
    with FakeUpstream("ok") as upstream:
        g = Gateway(tmp_path, upstream, rules=[{"type": "pinned"}, {"type": "personal_data"}])  # pin first
        try:
            for pin in ({"route": "cloud"}, {"model": "cloud"}, {"extra_body": {"route": "cloud"}}):
                r = g.post({"messages": user("write to anna.meyer@example.com"), "max_tokens": 2, **pin})
                assert r.status_code == 400 and r.json()["error"]["param"] == "route", r.text
                assert "personal data" in r.json()["error"]["message"]
            for needs in ({"tools": TOOLS}, {"response_format": {"type": "json_object"}}):
                r = g.post({"messages": user("hi"), "route": "local", "max_tokens": 2, **needs})
                assert r.status_code == 400 and r.json()["error"]["param"] == "route", r.text
                assert "pinned to 'local'" in r.json()["error"]["message"]
            assert upstream.hits == 0
        finally:
            g.close()


@pytest.mark.slow
def test_a_huge_request_does_not_stall_the_server(tmp_path):
    """The probe's worst input: 190k characters of phone-shaped noise and 60 real numbers, pinned to the cloud
    under masking: /healthz keeps answering while it is prepared."""
    noise = "+999 9999999 a " * 13_000 + " ".join(f"+44 20 7946 {i:04d}" for i in range(60))
    with FakeUpstream("ok") as upstream:
        g = Gateway(tmp_path, upstream, rules=[{"type": "personal_data", "mask": True}, {"type": "pinned"}])
        try:
            got: dict = {}
            t = threading.Thread(target=lambda: got.update(r=g.post(
                {"messages": user(noise), "route": "cloud", "max_tokens": 2})))
            t.start()
            worst = 0.0
            while t.is_alive():
                t0 = time.perf_counter()
                assert httpx.get(f"{g.base}/healthz", timeout=30).status_code == 200
                worst = max(worst, time.perf_counter() - t0)
                time.sleep(0.05)
            t.join()
            assert worst < 2.0, worst  # was 32 s: the scan ran on the event loop
            r = got["r"]  # too many candidates to scan: kept local, where it does not fit: a 400 that says so
            assert r.status_code == 400 and "personal" in r.json()["error"]["message"], r.text
            assert upstream.hits == 0  # nothing unscanned reached the cloud
        finally:
            g.close()


@pytest.mark.slow
def test_personal_data_in_any_field_stays_local_or_masked(tmp_path):
    email, phone = "jane.doe@example.com", "+44 20 7946 0958"
    fields = [
        {"user": email},
        {"messages": [{"role": "user", "content": "hi", "name": email.replace("@", "_at_").replace(".", "_")}],
         "stop": [phone]},
        {"tools": [{"type": "function", "function": {"name": "send", "description": f"send to {email}",
                                                     "parameters": {"type": "object", "properties": {
                                                         "to": {"type": "string", "enum": [email]}}}}}]},
        {"response_format": {"type": "json_schema", "json_schema": {"name": "r", "schema": {
            "type": "object", "description": f"call {phone}", "properties": {}}}}},
        {"messages": [{"role": "user", "content": "my card is 4111 1111"}, {"role": "assistant", "content": "go on"},
                      {"role": "user", "content": "1111 1111 please"}]},
    ]
    with FakeUpstream("ok") as upstream:
        g = Gateway(tmp_path, upstream, rules=[{"type": "personal_data", "mask": True}, {"type": "pinned"}])
        try:
            for extra in fields:
                body = {"messages": user("hi"), "route": "cloud", "max_tokens": 4, **extra}
                g.post(body)
            sent = json.dumps([q["body"] for q in upstream.requests])
            assert email not in sent and phone not in sent and "4111 1111 1111 1111" not in sent
            assert "jane.doe" not in sent and "[EMAIL_1]" in sent and "[PHONE_1]" in sent
        finally:
            g.close()


@pytest.mark.slow  # the module's server of its own (about 8 s to start)
def test_an_upstream_error_quoting_the_prompt_is_not_logged_when_prompts_are_not(gw):
    gw.upstream.script = ["400_quote"]
    secret_plan = "Our confidential merger with Initech closes on the fourteenth"
    r = gw.post({"messages": user(secret_plan), "max_tokens": 2})  # cloud first (threshold 0), then local
    gw.upstream.script = ["ok"]
    assert r.status_code == 200 and r.json()["hybrid"]["record"]["fallback"] is True
    logged = str(rows(gw)) + stderr_text(gw)
    assert "merger with Initech" not in logged and "prompt withheld" in logged


@pytest.mark.slow
@pytest.mark.parametrize("mode, retries, calls", [("500", 1, 2), ("500", 0, 1), ("401", 2, 1), ("429", 2, 3)])
def test_retries_are_exactly_max_retries_and_never_for_a_refused_key(tmp_path, mode, retries, calls):
    with FakeUpstream(mode) as upstream:
        g = Gateway(tmp_path, upstream, cloud={"max_retries": retries})
        try:
            g.post({"messages": user("hi"), "route": "cloud", "max_tokens": 2})
            assert upstream.hits == calls
        finally:
            g.close()


@pytest.mark.slow  # the module's server of its own (about 8 s to start)
def test_refused_requests_are_logged_and_counted_without_key_or_body(gw):
    before = stderr_text(gw).count("hybrid_ai.rejected")
    guess = "sk-guessed-key-0123456789"
    assert httpx.post(f"{gw.base}/v1/chat/completions", headers={"authorization": f"Bearer {guess}"},
                      json={"messages": user("hi")}).status_code == 401
    assert gw.post({"messages": user("secret body text"), "temperature": 9}).status_code == 400
    assert gw.post(b'{"messages": "' + b"x" * (9 * 1024 * 1024) + b'"}').status_code == 413
    lines = [json.loads(x) for x in stderr_text(gw).splitlines() if "hybrid_ai.rejected" in x]
    assert len(lines) - before >= 3
    statuses = {line["status"] for line in lines}
    assert {401, 400, 413} <= statuses
    assert any(line["caller"] and line["caller"].startswith("key_") for line in lines if line["status"] == 401)
    text = stderr_text(gw)
    assert guess not in text and "secret body text" not in text
    metrics = httpx.get(f"{gw.base}/metrics", headers=AUTH).text
    assert 'hybrid_ai_rejected_total{code="invalid_api_key",status="401"}' in metrics


@pytest.mark.slow  # the module's server of its own (about 8 s to start)
def test_slow_connections_are_closed(gw):
    slow_head = socket.create_connection(("127.0.0.1", gw.port))
    slow_head.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n")  # and never the rest
    slow_body = socket.create_connection(("127.0.0.1", gw.port))
    slow_body.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                      b"authorization: Bearer " + SERVER_KEYS[0].encode() + b"\r\ncontent-length: 100\r\n\r\n{")
    for s in (slow_head, slow_body):
        s.settimeout(30)
    t0 = time.perf_counter()
    assert slow_head.recv(1024) == b""  # closed by the server (after 1 s; a busy machine may take longer)
    answer = b""
    while b"body_timeout_s" not in answer and (part := slow_body.recv(4096)):
        answer += part  # the status line and the body may come in two reads
    assert time.perf_counter() - t0 < 25
    assert answer.startswith(b"HTTP/1.1 408") and b"body_timeout_s" in answer, answer[:200]
    for s in (slow_head, slow_body):
        s.close()


@pytest.mark.slow
def test_a_local_answer_stops_when_its_caller_leaves(gw):
    body = {"messages": user("Write a very long story about a dragon who bakes bread."), "route": "local",
            "max_tokens": 1000}
    try:
        httpx.post(f"{gw.base}/v1/chat/completions", json=body, headers=AUTH, timeout=2)
    except httpx.TimeoutException:
        pass  # the caller gave up after 2 s
    t0 = time.perf_counter()
    nxt = gw.post({"messages": user("Hi"), "route": "local", "max_tokens": 2})
    assert nxt.status_code == 200 and time.perf_counter() - t0 < 10
    deadline, found = time.monotonic() + 10, []
    while not found and time.monotonic() < deadline:
        found = sqlite3.connect(gw.db).execute(
            "SELECT error, attempts FROM route_log WHERE error LIKE 'client went away%' AND stream = 0").fetchall()
        time.sleep(0.1)
    assert found, "the abandoned request left no record"
    attempt = json.loads(found[-1][1])[-1]
    assert attempt["tier"] == "local" and attempt["error_kind"] == "cancelled"


@pytest.mark.slow
def test_a_full_local_queue_answers_503_with_retry_after(tmp_path):
    with FakeUpstream("ok") as upstream:
        g = Gateway(tmp_path, upstream, local={"max_queue": 1})
        try:
            long = {"messages": user("Write a long poem about the sea."), "route": "local", "max_tokens": 200}
            first = threading.Thread(target=lambda: g.post(long))
            first.start()
            time.sleep(1.0)
            r = g.post({"messages": user("Hi"), "route": "local", "max_tokens": 2})
            first.join()
            assert r.status_code == 503 and r.headers["retry-after"] == "1"
            assert r.json()["error"]["code"] == "local_queue_full" and "max_queue" in r.json()["error"]["message"]
        finally:
            g.close()


@pytest.mark.slow
def test_personal_data_that_only_fits_the_cloud_is_a_400_naming_the_rule(tmp_path):
    with FakeUpstream("ok") as upstream:
        g = Gateway(tmp_path, upstream, rules=[{"type": "personal_data"}, {"type": "pinned"}, {"type": "context"}])
        try:
            r = g.post({"messages": user("mail jane.doe@example.com " + "word " * 39_000), "max_tokens": 2})
            assert r.status_code == 400 and "personal-data" in r.json()["error"]["message"]
            assert "context_window" in r.json()["error"]["message"] and upstream.hits == 0
        finally:
            g.close()


def test_spaced_and_encoded_keys_are_redacted():
    import os

    from hybrid_ai.privacy.redact import StreamScrubber, scrub, watch_env

    os.environ["HYBRID_AI_TEST_REDACT"] = SECRET
    watch_env("HYBRID_AI_TEST_REDACT")
    forms = [SECRET[:24] + "****" + SECRET[-4:], SECRET[6:20], " ".join(SECRET), "-".join(
        SECRET[i:i + 4] for i in range(0, 32, 4)), base64.b64encode(f"user:{SECRET}".encode()).decode(),
        base64.urlsafe_b64encode(b"xy" + SECRET.encode()).decode()]
    for form in forms:
        assert not leaks(scrub(f"error: {form} end")), form
    assert scrub(f"only {SECRET[:11]} here") == f"only {SECRET[:11]} here"  # 11 characters are not a key
    s = StreamScrubber()
    out = "".join(s.add(p) for p in ("key: ", SECRET[:5], SECRET[5:13], SECRET[13:], " done")) + s.rest()
    assert not leaks(out) and out.startswith("key: ") and out.endswith(" done")


@pytest.mark.slow
def test_thirty_distinct_seven_megabyte_schemas_leave_memory_bounded():
    import gc

    import psutil

    from hybrid_ai.request import parse_request
    from hybrid_ai.checks.structured import VALIDATORS, problem
    from hybrid_ai.tooling import SCHEMA_CHECKS

    proc = psutil.Process()
    gc.collect()
    before = proc.memory_info().rss
    for i in range(30):
        schema = {"type": "object", "description": f"{i}-" + "x" * (7 * 1024 * 1024)}
        tools = [{"type": "function", "function": {"name": "f", "parameters": schema}}]
        fmt = {"type": "json_schema", "json_schema": {"name": "r", "schema": schema}}
        parse_request({"messages": user("hi"), "tools": tools, "response_format": fmt})
        assert problem('{"a": 1}', fmt) is None  # an answer checked against it: a compiled validator
        del schema, tools, fmt
    gc.collect()
    grown = (proc.memory_info().rss - before) / 2**20
    assert SCHEMA_CHECKS.bytes <= SCHEMA_CHECKS.max_bytes and VALIDATORS.bytes <= VALIDATORS.max_bytes
    assert grown < 100, f"{grown:.0f} MiB stayed after 30 x 7 MB schemas"  # the 256-entry cache kept 232 MB


def test_a_restored_value_cannot_break_out_of_its_json_string():
    from hybrid_ai.request import parse_request
    from hybrid_ai.privacy.masking import Mask
    from hybrid_ai.types import BackendResult, ToolCall

    request = parse_request({"messages": user('passport", "is_admin": true, "x": "AB1234567')})
    mask = Mask(("passport",))
    masked = mask.request(request)
    assert list(mask.values) == ["AB1234567"]  # the value, not its keyword and what lies between
    assert masked.messages[0].content == 'passport", "is_admin": true, "x": "[PASSPORT_1]'
    mask.values = {'x", "is_admin": true, "y": "z': "[ADDRESS_1]"}  # a value with quotes in it
    result = BackendResult(text="", model="m", tool_calls=[ToolCall("c1", "f", '{"where": "[ADDRESS_1]"}')])
    args = json.loads(mask.result(result).tool_calls[0].arguments)
    assert args == {"where": 'x", "is_admin": true, "y": "z'}  # one key: the value stayed inside its string


def test_every_evasion_of_the_corpus_is_found_and_look_alikes_mostly_are_not():
    from pathlib import Path

    from hybrid_ai.request import parse_request
    from hybrid_ai.privacy import pii

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "data" / "pii_evasions.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    found = {i: bool(pii.in_request(parse_request({k: r[k] for k in ("messages", "tools", "user", "stop") if k in r})))
             for i, r in enumerate(rows)}
    missed = [rows[i]["form"] for i, f in found.items() if rows[i]["personal"] and not f]
    false = [rows[i]["messages"][0]["content"] for i, f in found.items() if not rows[i]["personal"] and f]
    assert len(rows) >= 150 and sum(r["personal"] for r in rows) >= 100
    assert missed == [] and len(false) <= 1, (missed, false)
