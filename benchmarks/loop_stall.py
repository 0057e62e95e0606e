"""Does one request stall the server? The worst input an attacker found (190k characters of phone-shaped noise
plus 60 real phone numbers, pinned to the cloud under a masking policy: the personal-data scan's worst case), sent
N at a time while /healthz is polled every 10 ms (from a process of its own); prints /healthz latency idle and
under that load, and what the attack requests got, with CPython's default GIL switch interval (5 ms) and with the
one `hybrid-ai serve` sets (0.5 ms), in the same run.

    .venv/bin/python benchmarks/loop_stall.py [--parallel 20]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
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

WORST = ("+999 9999999 a " * 13_000) + " ".join(f"+44 20 7946 {i:04d}" for i in range(60))


def poll(base: str, stop, out) -> None:
    """In a process of its own (so that the load generator's threads do not hold up its timing)."""
    times = []
    with httpx.Client() as c:
        while not stop.is_set():
            t0 = time.perf_counter()
            c.get(f"{base}/healthz", timeout=60)
            times.append((time.perf_counter() - t0) * 1000)
            time.sleep(0.01)
    out.put(times)


def polled(base: str, during) -> list[float]:
    """/healthz latencies while `during()` runs."""
    ctx = multiprocessing.get_context("fork")
    stop, out = ctx.Event(), ctx.Queue()
    proc = ctx.Process(target=poll, args=(base, stop, out))
    proc.start()
    try:
        during()
    finally:
        stop.set()
    times = out.get(timeout=60)
    proc.join()
    return times


def summary(label: str, times: list[float]) -> None:
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    print(f"  /healthz {label}: {len(times)} polls, median {statistics.median(times):.1f} ms, p99 {p99:.1f} ms, "
          f"max {max(times):.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parallel", type=int, default=20)
    args = ap.parse_args()
    for label, interval in (("GIL switch interval 5 ms (CPython's default)", "0.005"),
                            ("GIL switch interval 0.5 ms (hybrid-ai serve's)", "0.0005")):
        os.environ["HYBRID_AI_SWITCH_INTERVAL"] = interval
        print(label)
        run(args.parallel)
        time.sleep(3)  # the gateway and its model are gone before the next one starts


def run(parallel: int) -> None:
    rules = [{"type": "personal_data", "mask": True}, {"type": "pinned"}, {"type": "context"}]
    with FakeUpstream("ok") as upstream:
        gw = Gateway(Path(tempfile.mkdtemp()), upstream, rules=rules)
        try:
            idle = polled(gw.base, lambda: time.sleep(2))
            statuses: list[int] = []

            body = json.dumps({"messages": [{"role": "user", "content": WORST}], "route": "cloud",
                               "max_tokens": 2}).encode()  # encoded once: the load generator shares the cores

            # each sender's client is made before the measurement starts (an httpx client builds an SSL context:
            # 20 of them at once would load the shared cores with the load generator's own set-up)
            clients = [httpx.Client(timeout=300) for _ in range(parallel)]
            go = threading.Barrier(parallel + 1)

            def attack(client: httpx.Client) -> None:
                go.wait()
                r = client.post(f"{gw.base}/v1/chat/completions", content=body,
                                headers={**AUTH, "content-type": "application/json"})
                statuses.append(r.status_code)

            workers = [threading.Thread(target=attack, args=(c,)) for c in clients]
            for w in workers:
                w.start()

            def load():
                go.wait()
                for w in workers:
                    w.join()

            t0 = time.perf_counter()
            busy = polled(gw.base, load)
            wall = time.perf_counter() - t0
            for c in clients:
                c.close()
        finally:
            gw.close()
    print(f"  {parallel} worst-case requests ({len(WORST):,} characters each) in parallel: done in {wall:.1f} s; "
          f"statuses {sorted(set(statuses))}; upstream calls {upstream.hits}")
    summary("idle", idle)
    summary(f"during the {parallel} requests", busy)


if __name__ == "__main__":
    main()
