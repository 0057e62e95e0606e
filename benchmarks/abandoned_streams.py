"""Streams that the client abandons: through `hybrid-ai serve`, a local stream (the real SLM, up to 400 tokens) is
dropped after its first chunks, then a short local request is sent at once. Prints, per try, the time from the
abandonment to the short request's answer (the abandoned generation must stop and free the model), and checks
that each abandoned stream left a record that says the client went away.

    .venv/bin/python benchmarks/abandoned_streams.py [--tries 5]
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import httpx  # noqa: E402

from doubles import FakeUpstream  # noqa: E402
from gateway import AUTH, Gateway  # noqa: E402

STORY = [{"role": "user", "content": "Write a long story about a dragon who learns to bake bread."}]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tries", type=int, default=5)
    args = ap.parse_args()
    waits = []
    with FakeUpstream("ok") as upstream:
        gw = Gateway(Path(tempfile.mkdtemp()), upstream, sinks=("sqlite",))
        try:
            with httpx.Client(timeout=120, headers=AUTH) as client:
                url = f"{gw.base}/v1/chat/completions"
                client.post(url, json={"messages": STORY, "route": "local", "max_tokens": 1})  # load the model
                for _ in range(args.tries):
                    body = {"messages": STORY, "route": "local", "max_tokens": 400, "stream": True}
                    with client.stream("POST", url, json=body) as r:
                        lines = r.iter_lines()
                        for _ in range(4):
                            next(lines)
                    t0 = time.perf_counter()
                    client.post(url, json={"messages": [{"role": "user", "content": "Hi"}], "route": "local",
                                           "max_tokens": 1})
                    waits.append(time.perf_counter() - t0)
            time.sleep(1)
        finally:
            gw.close()
    rows = sqlite3.connect(gw.db).execute(
        "SELECT count(*) FROM route_log WHERE error LIKE 'client went away%'").fetchone()[0]
    print(f"{args.tries} abandoned local streams: {rows} records saying the client went away; the next local request "
          f"answered {statistics.median(waits):.2f} s (median), {max(waits):.2f} s (max) after the abandonment "
          f"(a 1-token answer; 400 tokens would take about 30 s on this CPU)")


if __name__ == "__main__":
    main()
