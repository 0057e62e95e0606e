"""What a user gets when the cloud tier fails: for each failure mode (refused, timeout, 429, 500, 401, malformed
JSON, stream cut, malformed stream), streamed and not, the share of requests answered through the local tier
(the real SLM), the share answered by the cloud, the share with an error, and empty answers. The cloud tier is a
fake OpenAI-compatible upstream on 127.0.0.1 reached through litellm; its key is recognisable and counted in
everything the client returns and records.

    .venv/bin/python benchmarks/cloud_failures.py [--requests 5]
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from rich.console import Console  # noqa: E402
from rich.progress import track  # noqa: E402
from rich.table import Table  # noqa: E402

from conftest import KEY_ENV, free_port, hybrid_policy  # noqa: E402
from doubles import FakeUpstream  # noqa: E402
from hybrid_ai import HybridClient  # noqa: E402
from hybrid_ai.errors import BackendError  # noqa: E402
from hybrid_ai.telemetry.sinks import StderrSink  # noqa: E402

KEY = "77aa0c3e9d5f4b1e8c2a6d0f9e3b7c15"
MODES = ["refused", "timeout", "429", "500", "401", "bad_json", "stream_cut", "bad_stream"]


def run(mode: str, stream: bool, n: int, log: io.StringIO) -> dict:
    counts = {"local": 0, "cloud": 0, "error": 0, "empty": 0}
    with FakeUpstream("ok" if mode == "refused" else mode, delay=3.0) as up:
        base = f"http://127.0.0.1:{free_port()}" if mode == "refused" else up.base
        pol = hybrid_policy(base, tmp=Path(tempfile.mkdtemp()))
        pol["tiers"]["cloud"]["timeout_s"] = 1.0
        pol["telemetry"] = {"sinks": []}
        with HybridClient(pol, sinks=[StderrSink(stream=log)]) as client:
            for _ in range(n):
                try:
                    r = client.chat.completions.create(messages=[{"role": "user", "content": "What is 2+2?"}],
                                                       route="cloud", max_tokens=4, stream=stream)
                    if stream:
                        chunks = list(r)
                        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
                        route = chunks[-1].hybrid.route
                    else:
                        text, route = r.choices[0].message.content, r.hybrid.route
                    log.write(text + "\n")
                    counts[route] += 1
                    counts["empty"] += not text
                except BackendError as e:
                    log.write(str(e) + "\n")
                    counts["error"] += 1
    return counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=5, help="requests per mode and streaming setting")
    args = ap.parse_args()
    os.environ[KEY_ENV] = KEY
    log = io.StringIO()
    table = Table(title=f"cloud failures: {args.requests} requests each, route pinned to the cloud, local fallback")
    for col in ("failure", "streamed", "answered locally", "by the cloud", "error", "empty answers"):
        table.add_column(col)
    for mode, stream in track([(m, s) for m in MODES for s in (False, True)], description="failure modes"):
        c = run(mode, stream, args.requests, log)
        n = args.requests
        table.add_row(mode, "yes" if stream else "no", f"{c['local'] / n:.0%}", f"{c['cloud'] / n:.0%}",
                      f"{c['error'] / n:.0%}", str(c["empty"]))
    Console().print(table)
    print(f"the cloud key appears {log.getvalue().count(KEY)} time(s) in answers, errors and records")


if __name__ == "__main__":
    main()
