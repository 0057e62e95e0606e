"""Does one request stall the server? The worst input an attacker found (190k characters of phone-shaped noise
plus 60 real phone numbers, pinned to the cloud under a masking policy: the personal-data scan's worst case), sent
N at a time while /healthz is polled every 10 ms; prints /healthz latency idle and under that load, and what the
attack requests got.

    .venv/bin/python benchmarks/loop_stall.py [--parallel 20]
"""

from __future__ import annotations

import argparse
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
from gateway import Gateway  # noqa: E402

WORST = ("+999 9999999 a " * 13_000) + " ".join(f"+44 20 7946 {i:04d}" for i in range(60))


def poll(base: str, stop: threading.Event) -> list[float]:
    times = []
    with httpx.Client() as c:
        while not stop.is_set():
            t0 = time.perf_counter()
            c.get(f"{base}/healthz", timeout=60)
            times.append((time.perf_counter() - t0) * 1000)
            time.sleep(0.01)
    return times


def summary(label: str, times: list[float]) -> None:
    q = statistics.quantiles(times, n=100)
    print(f"  /healthz {label}: {len(times)} polls, median {statistics.median(times):.1f} ms, p99 {q[98]:.1f} ms, "
          f"max {max(times):.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parallel", type=int, default=20)
    args = ap.parse_args()
    rules = [{"type": "personal_data", "mask": True}, {"type": "pinned"}, {"type": "context"}]
    with FakeUpstream("ok") as upstream:
        gw = Gateway(Path(tempfile.mkdtemp()), upstream, rules=rules)
        try:
            stop = threading.Event()
            box: dict = {}
            t = threading.Thread(target=lambda: box.update(idle=poll(gw.base, stop)))
            t.start()
            time.sleep(2)
            stop.set()
            t.join()
            stop.clear()
            t = threading.Thread(target=lambda: box.update(load=poll(gw.base, stop)))
            t.start()
            statuses: list[int] = []
            t0 = time.perf_counter()

            def attack():
                r = httpx.post(f"{gw.base}/v1/chat/completions", timeout=300, headers=gw_auth(),
                               json={"messages": [{"role": "user", "content": WORST}], "route": "cloud",
                                     "max_tokens": 2})
                statuses.append(r.status_code)

            workers = [threading.Thread(target=attack) for _ in range(args.parallel)]
            for w in workers:
                w.start()
            for w in workers:
                w.join()
            wall = time.perf_counter() - t0
            stop.set()
            t.join()
        finally:
            gw.close()
    print(f"{args.parallel} worst-case requests ({len(WORST):,} characters each) in parallel: done in {wall:.1f} s; "
          f"statuses {sorted(set(statuses))}; upstream calls {upstream.hits}")
    summary("idle", box["idle"])
    summary(f"during the {args.parallel} requests", box["load"])


def gw_auth() -> dict:
    from gateway import AUTH

    return AUTH


if __name__ == "__main__":
    main()
