"""Every request the server refuses leaves a trace: one `hybrid_ai.rejected` line on stderr (status, code, path,
the id of the key it carried: never the key, never the body) and a count in the metrics
(`hybrid_ai_rejected_total{status, code}`), so key guessing and floods of bad input are visible."""

from __future__ import annotations

import hashlib
import json
import sys
import time


def presented_key_id(headers) -> str | None:
    """`key_<12 hex>` of the bearer token a request carried (an accepted key's id, or a guess's), or None."""
    value = next((v for k, v in headers if k == b"authorization"), b"")
    scheme, _, token = value.partition(b" ")
    token = token.strip()
    if scheme.lower() != b"bearer" or not token:
        return None
    return "key_" + hashlib.sha256(token).hexdigest()[:12]


class Rejections:
    """Logs and counts refused requests; `metrics`: the client's Metrics sink, or None."""

    def __init__(self, metrics=None):
        self.metrics = metrics

    def __call__(self, status: int, code: str | None, path: str | None, headers, param: str | None = None) -> None:
        code = code or {400: "invalid_request", 413: "body_too_large", 429: "rate_limited"}.get(status, str(status))
        if self.metrics is not None:
            self.metrics.rejected.labels(str(status), code).inc()
        line = {"event": "hybrid_ai.rejected", "timestamp": time.time(), "status": status, "code": code,
                "path": path, "caller": presented_key_id(headers), **({"param": param[:80]} if param else {})}
        print(json.dumps(line), file=sys.stderr, flush=True)
