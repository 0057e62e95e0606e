"""Seam doubles: an HTTP server that answers 500, or answers too slowly, or (for the LLM-as-judge test, where
the judge model's reply is the seam) always gives the same chat completion."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from hybrid_ai.testing import ScriptedBackend  # noqa: F401  (the public double; tests import it from here)


class FailingUpstream:
    """Counts requests; answers each with `status` after `delay` seconds; with `reply`, a 200 chat completion."""

    def __init__(self, status: int = 500, delay: float = 0.0, reply: str | None = None):
        self.hits, self.prompts = 0, []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                outer.hits += 1
                outer.prompts.append(self.rfile.read(int(self.headers.get("content-length") or 0)))
                time.sleep(delay)
                body = b'{"error": {"message": "upstream exploded", "type": "server_error"}}'
                if reply is not None:
                    body = json.dumps({
                        "id": "chatcmpl-stub", "object": "chat.completion", "created": 0, "model": "stub",
                        "choices": [{"index": 0, "finish_reason": "stop",
                                     "message": {"role": "assistant", "content": reply}}],
                        "usage": {"prompt_tokens": 50, "completion_tokens": 3, "total_tokens": 53}}).encode()
                try:
                    self.send_response(200 if reply is not None else status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _completion(text: str) -> dict:
    return {"id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": "fake",
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}}


def tool_answer(body: dict) -> list[dict] | None:
    """The tool calls a request with tools gets from FakeUpstream (None: it answers in text): the forced tool, else
    the first one, or the first two when parallel calls are allowed; each called with the last user text."""
    tools, choice, messages = body.get("tools") or [], body.get("tool_choice"), body.get("messages") or []
    if not tools or choice == "none" or (messages and messages[-1].get("role") == "tool"):
        return None
    names = [t["function"]["name"] for t in tools]
    if isinstance(choice, dict):
        names = [choice["function"]["name"]]
    elif body.get("parallel_tool_calls") is False or len(names) < 2:
        names = names[:1]
    else:
        names = names[:2]
    query = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
    return [{"id": f"call_{i}", "type": "function",
             "function": {"name": n, "arguments": json.dumps({"query": query, "n": i})}} for i, n in enumerate(names)]


def _text_answer(body: dict, text: str) -> str:
    """A tool result is answered from (`tool said: ...`); a JSON response format gets `{"answer": text}`."""
    messages = body.get("messages") or []
    if messages and messages[-1].get("role") == "tool":
        text = f"tool said: {messages[-1]['content']}"
    if (body.get("response_format") or {}).get("type") in ("json_object", "json_schema"):
        text = json.dumps({"answer": text})
    return text


def _chunk(delta: dict, finish: str | None = None) -> bytes:
    body = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": "fake",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return f"data: {json.dumps(body)}\n\n".encode()


class FakeUpstream:
    """An OpenAI-compatible cloud double on 127.0.0.1 that answers each request with the next mode of `script`
    (the last one repeats): ok, 500, 429, 401 (its message echoes the key it was sent, as OpenAI's does),
    401_partial (the key's first 24 and last 4 characters), 400_quote (its error quotes the prompt), echo_key
    (a 200 answer that contains the Authorization header),
    timeout (answers after `delay` s), bad_json (200 with a body that is not JSON), stream_cut (a stream that stops
    after one chunk, connection dropped), bad_stream (200 with malformed SSE data). Keeps every request it got."""

    def __init__(self, *script: str, delay: float = 5.0, text="cloud says hi"):
        """`text`: the answer, or a function of the request body giving it (replayed answers)."""
        self.script, self.requests = list(script) or ["ok"], []
        outer, reply = self, text

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out at once, not 40 ms apart (delayed ACK)

            def do_POST(self):  # noqa: N802
                try:
                    raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                except OSError:  # the caller went away (a killed gateway)
                    return
                body = json.loads(raw or b"{}")
                outer.requests.append({"path": self.path, "body": body,
                                       "headers": {k.lower(): v for k, v in self.headers.items()}})
                mode = outer.script[min(len(outer.requests), len(outer.script)) - 1]
                try:
                    self._answer(mode, body)
                except OSError:
                    pass

            def _send(self, status: int, payload: bytes, ctype: str = "application/json"):
                self.send_response(status)
                self.send_header("content-type", ctype)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _answer(self, mode: str, body: dict):
                key = self.headers.get("authorization", "").removeprefix("Bearer ")
                text = reply(body) if callable(reply) else reply
                if mode == "timeout":
                    time.sleep(delay)
                    mode = "ok"
                if mode in ("500", "429"):
                    err = {"error": {"message": f"upstream says {mode}", "type": "server_error"}}
                    return self._send(int(mode), json.dumps(err).encode())
                if mode in ("401", "401_partial"):  # OpenAI shows the start and the end of a wrong key
                    shown = key if mode == "401" else f"{key[:24]}****{key[-4:]}"
                    err = {"error": {"message": f"Incorrect API key provided: {shown}. Find your key at the dashboard.",
                                     "type": "invalid_request_error", "code": "invalid_api_key"}}
                    return self._send(401, json.dumps(err).encode())
                if mode == "400_quote":  # an upstream that quotes the request in its error
                    said = next((m["content"] for m in reversed(body.get("messages") or []) if m.get("role") == "user"),
                                "")
                    err = {"error": {"message": f"Invalid request: cannot process '{said[:300]}'", "type": "invalid"}}
                    return self._send(400, json.dumps(err).encode())
                if mode == "echo_key":  # an upstream that puts the Authorization header in its answer
                    text = f"your header was {self.headers.get('authorization')}"
                if mode == "bad_json":
                    return self._send(200, b'{"id": "x", "choices": [{"message": ')
                calls, text = tool_answer(body), _text_answer(body, text)
                if not body.get("stream"):
                    out = _completion(text)
                    if body.get("logprobs"):  # one entry per word, its alternatives as asked
                        out["choices"][0]["logprobs"] = {"content": [
                            {"token": w, "logprob": -0.5, "bytes": list(w.encode()),
                             "top_logprobs": [{"token": w, "logprob": -0.5, "bytes": list(w.encode())}] * (
                                 body.get("top_logprobs") or 0)} for w in text.split()]}
                    if calls:
                        out["choices"][0].update(finish_reason="tool_calls", message={
                            "role": "assistant", "content": None, "tool_calls": calls})
                    return self._send(200, json.dumps(out).encode())
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("connection", "close")
                self.end_headers()
                if calls:
                    return self._stream_calls(calls)
                self.wfile.write(_chunk({"role": "assistant", "content": ""}))
                if mode == "bad_stream":
                    self.wfile.write(b"data: {\"choices\": [{\"delta\": {\"content\": \"hel\n\ndata: }}}garbage\n\n")
                    return
                self.wfile.write(_chunk({"content": text.split()[0]}))
                self.wfile.flush()
                if mode == "stream_cut":
                    self.connection.shutdown(2)
                    return
                self.wfile.write(_chunk({"content": " " + " ".join(text.split()[1:])}))
                self.wfile.write(_chunk({}, "stop"))
                self.wfile.write(b"data: [DONE]\n\n")

            def _stream_calls(self, calls: list[dict]):
                """As OpenAI streams tool calls: id and name first, then the arguments in pieces."""
                for i, c in enumerate(calls):
                    head = {"index": i, "id": c["id"], "type": "function",
                            "function": {"name": c["function"]["name"], "arguments": ""}}
                    self.wfile.write(_chunk({"role": "assistant", "content": None, "tool_calls": [head]}))
                    args = c["function"]["arguments"]
                    for part in (args[: len(args) // 2], args[len(args) // 2:]):
                        self.wfile.write(_chunk({"tool_calls": [{"index": i, "function": {"arguments": part}}]}))
                self.wfile.write(_chunk({}, "tool_calls"))
                self.wfile.write(b"data: [DONE]\n\n")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def hits(self) -> int:
        return len(self.requests)

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

