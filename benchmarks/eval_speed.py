"""Wall time of `hybrid-ai eval` on the default suite: a first run with an empty answer cache, a re-run from
the cache, and the local tier's items/s with batched generation against one-by-one on the same items.

    .venv/bin/python benchmarks/eval_speed.py [--suite assistant-traffic] [--compare-limit 38]

Each run uses a fresh temporary cache (the model's converted-GGUF cache is kept, so load time is a warm load).
The one-by-one baseline runs only the first `--compare-limit` items (the written easy requests) with both
settings, so the two figures cover the same prompts."""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from hybrid_ai.cli import main


def run(args: list[str], out: Path) -> tuple[float, dict]:
    t = time.perf_counter()
    assert main(["eval", *args, "--out", str(out)]) == 0
    return time.perf_counter() - t, json.loads((out / "report.json").read_text())


def main_() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--suite", default="assistant-traffic")
    ap.add_argument("--compare-limit", type=int, default=38)
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    base = ["--suite", a.suite, "--cache", str(tmp / "cache.sqlite")]
    first_s, first = run(base, tmp / "first")
    again_s, _ = run(base, tmp / "again")
    rows = [("default eval, empty cache", first_s, first), ("re-run from the cache", again_s, None)]
    for batch in (1, 8):
        s, r = run(["--suite", a.suite, "--cache", str(tmp / f"b{batch}.sqlite"), "--limit", str(a.compare_limit),
                    "--local-batch", str(batch)], tmp / f"b{batch}")
        rows.append((f"first {a.compare_limit} items, local batch {batch}", s, r))
    print(f"\n{'run':42s} {'wall s':>8s} {'local items/s':>14s} {'cloud items/s':>14s} {'local load s':>13s}")
    for name, s, r in rows:
        t = r["tiers"] if r else None
        ips = [f"{t[k]['items_per_s']:.2f}" if t and t[k]["items_per_s"] else "-" for k in ("local", "cloud")]
        load = f"{t['local']['load_s']:.1f}" if t else "-"
        print(f"{name:42s} {s:8.1f} {ips[0]:>14s} {ips[1]:>14s} {load:>13s}")


if __name__ == "__main__":
    main_()
