"""Malformed (and some valid) chat request bodies for fuzzing the server: bad JSON, wrong types, huge numbers,
deep nesting, unicode edge cases, large bodies, every field that would steer a tier, random mutations of a valid
body. Deterministic for a seed. Used by tests/test_fuzz.py (bounded) and benchmarks/fuzz_server.py (10,000+)."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass

VALID = {"messages": [{"role": "user", "content": "Say hi"}], "max_tokens": 2}
FIELDS = ["messages", "model", "max_tokens", "max_completion_tokens", "temperature", "top_p", "stop", "seed",
          "stream", "stream_options", "user", "presence_penalty", "frequency_penalty", "n", "tools", "logprobs",
          "response_format", "extra_body"]
STEERING = ["api_base", "base_url", "api_key", "custom_llm_provider", "aws_access_key_id", "aws_secret_access_key",
            "aws_region_name", "mock_response", "callbacks", "num_retries", "api_version", "organization",
            "headers", "extra_headers", "litellm_params", "self", "timeout", "input_cost_per_token", "vertex_project",
            "azure_ad_token", "success_callback", "logger_fn", "proxy_server_request", "metadata"]
WEIRD = [None, True, False, 0, -1, 1.5, -0.0, 2**63, -(2**64), 1e308, "", "x", "\u202e", "\x00", "🦄" * 3, [], {},
         [None], [{"role": "user"}], {"a": {"b": [1, 2, {"c": None}]}}, "A" * 5000, list(range(100))]
UNICODE = ["\\ud800", "\\udfff", "\\ud83d", "\\u0000", "\\ufeff", "\\u202e\\u202d", "\\uffff", "\\ud800\\udc00"]


@dataclass
class Case:
    kind: str
    body: bytes | None = None  # None: `chunks` instead
    chunks: list[bytes] | None = None
    headers: dict[str, str] | None = None  # None: the valid key


def _dump(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode("utf-8", "surrogatepass")


def _mutate(rng: random.Random) -> dict:
    body = json.loads(json.dumps(VALID))
    for _ in range(rng.randint(1, 3)):
        op = rng.random()
        if op < 0.5:
            body[rng.choice(FIELDS)] = rng.choice(WEIRD)
        elif op < 0.7:
            body.pop(rng.choice(list(body) or ["messages"]), None)
        elif op < 0.85:
            m = body.get("messages")
            if isinstance(m, list) and m and isinstance(m[0], dict):
                m[0][rng.choice(["role", "content", "name", "tool_calls", "extra"])] = rng.choice(WEIRD)
        else:
            body[rng.choice(STEERING)] = rng.choice(WEIRD[:12])
    return body


def _bad_json(rng: random.Random) -> bytes:
    good = _dump(VALID)
    choice = rng.randrange(6)
    if choice == 0:
        return good[: rng.randrange(len(good))]
    if choice == 1:
        return bytes(rng.randrange(256) for _ in range(rng.randint(1, 200)))
    if choice == 2:
        return good.replace(b":", b"=", 1)
    if choice == 3:
        return b"{" + b'"a": 1,' * rng.randint(1, 50) + b"}"
    if choice == 4:
        return rng.choice([b"", b"null", b"[]", b"1", b'"x"', b"true", b"NaN", b"{}", b"{,}", b"\xef\xbb\xbf{}"])
    return good + rng.choice([b"}", b"]", b" garbage", b"\x00"])


def cases(n: int, seed: int = 0, big: bool = True) -> Iterator[Case]:
    """`n` cases in a fixed mix; `big` adds 1 MB and 10 MB bodies (plain and chunked) and 100,000-deep nesting."""
    rng = random.Random(seed)
    for i in range(n):
        r = i % 20
        if r in (0, 1, 2):
            yield Case("bad_json", _bad_json(rng))
        elif r in (3, 4, 5, 6):
            yield Case("mutated", _dump(_mutate(rng)))
        elif r == 7:
            field = STEERING[(i // 20) % len(STEERING)]
            where = {field: "http://127.0.0.1:9/v1"} if i % 40 < 20 else {"extra_body": {field: "x"}}
            yield Case("steering", _dump({**VALID, **where}))
        elif r == 8:
            digits = rng.choice([4300, 4301, 5000, 20000])
            field = rng.choice(["max_tokens", "seed", "temperature", "n", "stop"])
            yield Case("huge_number", b'{"messages": [{"role": "user", "content": "hi"}], "' + field.encode()
                       + b'": ' + rng.choice([b"1", b"-1"]) + b"0" * digits + b"}")
        elif r == 9:
            depth = rng.choice([65, 1000, 100_000]) if big else rng.choice([65, 1000])
            opener, closer = rng.choice([(b"[", b"]"), (b'{"a":', b"}")])
            inner = opener * depth + b"1" + closer * depth
            yield Case("deep_nesting", inner if rng.random() < 0.5 else b'{"messages": ' + inner + b"}")
        elif r == 10:
            esc = rng.choice(UNICODE)
            field = rng.choice(["content", "user", "model", "stop"])
            body = ('{"messages": [{"role": "user", "content": "%s"}], "max_tokens": 2}' % esc if field == "content"
                    else '{"messages": [{"role": "user", "content": "hi"}], "%s": "a%sb"}' % (field, esc))
            yield Case("unicode", body.encode())
        elif r == 11:
            yield Case("invalid_utf8", b'{"messages": [{"role": "user", "content": "' + rng.choice(
                [b"\xc0\xaf", b"\xed\xa0\x80", b"\xff", b"\xe2\x82"]) + b'"}]}')
        elif r == 12 and big and i % 200 == 12:
            size = rng.choice([1, 10]) * 1024 * 1024
            payload = b'{"messages": [{"role": "user", "content": "' + b"x" * size + b'"}]}'
            if i % 400 == 12:
                yield Case("large_chunked", chunks=[payload[k:k + 65536] for k in range(0, len(payload), 65536)])
            else:
                yield Case("large", payload)
        elif r == 13:
            yield Case("auth", _dump(VALID), headers=rng.choice([{}, {"authorization": "Bearer nope"},
                                                                  {"authorization": "Bearer"}, {"authorization": ""}]))
        elif r == 14:
            yield Case("wrong_types", _dump({**VALID, rng.choice(FIELDS): rng.choice(WEIRD)}))
        elif r == 15:
            yield Case("valid", _dump({**VALID, "stream": rng.random() < 0.5, "temperature": rng.random()}))
        else:
            yield Case("mutated", _dump(_mutate(rng)))


@dataclass
class Outcome:
    statuses: dict
    server_errors: list  # (kind, status, body head) of every response >= 500
    dropped: list  # kinds of the requests whose connection the server dropped unannounced
    connections: int


def send_all(client, todo, auth: dict[str, str], progress=None) -> Outcome:
    """Send every case on one keep-alive RawClient (it reconnects only when the server said `Connection: close`)."""
    from collections import Counter

    statuses, errors, dropped = Counter(), [], []
    for case in todo:
        headers = {"content-type": "application/json", **(auth if case.headers is None else case.headers)}
        r = client.request("POST", "/v1/chat/completions", headers, case.body, chunks=case.chunks)
        statuses[r.status] += 1
        if r.status is None or r.status >= 500:
            errors.append((case.kind, r.status, r.body[:200]))
        if r.dropped:
            dropped.append(case.kind)
        if progress:
            progress()
    return Outcome(dict(statuses), errors, dropped, client.connections)
