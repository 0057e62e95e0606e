"""Seam doubles for failure tests: an HTTP server that answers 500, or answers too slowly."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FailingUpstream:
    """Counts requests; answers each with `status` after `delay` seconds."""

    def __init__(self, status: int = 500, delay: float = 0.0):
        self.hits = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                outer.hits += 1
                self.rfile.read(int(self.headers.get("content-length") or 0))
                time.sleep(delay)
                body = b'{"error": {"message": "upstream exploded", "type": "server_error"}}'
                try:
                    self.send_response(status)
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
