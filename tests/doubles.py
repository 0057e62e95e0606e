"""Seam doubles: an HTTP server that answers 500, or answers too slowly, or (for the LLM-as-judge test, where
the judge model's reply is the seam) always gives the same chat completion."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


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
