"""`kill -9` of `hybrid-ai serve` under load, with the SQLite route log: every request that got a 200 must have its
row (the record is written before the response is sent). Three runs by default; each has 8 client threads
sending requests (half of them streamed) that the cloud tier (a fake upstream on 127.0.0.1) answers.

    .venv/bin/python benchmarks/kill9_sqlite.py [--runs 3] [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import httpx  # noqa: E402

from doubles import FakeUpstream  # noqa: E402
from gateway import AUTH, Gateway  # noqa: E402


def load(gw: Gateway, stop: threading.Event, ok: list, failed: list, k: int) -> None:
    with httpx.Client(timeout=30, headers=AUTH) as client:
        i = 0
        while not stop.is_set():
            i += 1
            body = {"messages": [{"role": "user", "content": f"hello {k}-{i}"}], "max_tokens": 4,
                    "stream": i % 2 == 0}
            try:
                r = client.post(f"{gw.base}/v1/chat/completions", json=body)
                if r.status_code != 200:
                    failed.append(r.status_code)
                elif body["stream"]:
                    last = [line for line in r.text.splitlines() if line.startswith("data: {")][-1]
                    rid = json.loads(last[6:]).get("hybrid", {}).get("record", {}).get("request_id")
                    if rid and "data: [DONE]" in r.text:
                        ok.append(rid)
                    else:
                        failed.append("cut stream")
                else:
                    ok.append(r.json()["id"])
            except (httpx.HTTPError, ValueError, IndexError):
                failed.append("connection")


def one_run(seconds: float) -> tuple[int, int, int]:
    with FakeUpstream("ok") as upstream:
        gw = Gateway(Path(tempfile.mkdtemp()), upstream, sinks=("sqlite",))
        stop, ok, failed = threading.Event(), [], []
        threads = [threading.Thread(target=load, args=(gw, stop, ok, failed, k)) for k in range(8)]
        for t in threads:
            t.start()
        time.sleep(seconds)
        os.kill(gw.proc.pid, signal.SIGKILL)
        stop.set()
        for t in threads:
            t.join()
        gw.close()
    rows = {r[0] for r in sqlite3.connect(gw.db).execute("SELECT request_id FROM route_log")}
    missing = [rid for rid in ok if rid not in rows]
    return len(ok), len(missing), len(failed)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args()
    for run in range(1, args.runs + 1):
        answered, missing, cut = one_run(args.seconds)
        print(f"run {run}: {answered} requests answered 200 before the kill, {missing} of them without a row in the "
              f"route log; {cut} cut off by the kill")


if __name__ == "__main__":
    main()
