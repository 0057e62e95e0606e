"""How well each `similarity` measure (references.py) matches a request's question to a fine-tuned domain's
references, on the bundled examples (their training questions as `hybrid-ai improve` writes them, and their
held-out questions, worded differently): how often the nearest reference is the fact asked (its answer matches
the item's regex), how many held-out questions count as in the domain (>= the measure's `min_similarity`), how
many everyday requests do too (the bundled assistant-traffic suite and the rehearsal prompts: they would go to the
domain's adapter), and the time to match one request (median of 200, after warm-up; the embedding model loaded).

    .venv/bin/python benchmarks/reference_match.py [--examples support helpdesk]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hybrid_ai.references import References  # noqa: E402
from hybrid_ai.request import parse_request  # noqa: E402


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def question(messages: list[dict]) -> str:
    return parse_request({"messages": messages}).question


def cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", nargs="+", default=["support", "helpdesk"])
    args = ap.parse_args()
    everyday = [p["prompt"] for p in rows(ROOT / "hybrid_ai" / "evals" / "assistant-traffic" / "items.jsonl")]
    everyday += [p["prompt"] for p in rows(ROOT / "hybrid_ai" / "assets" / "rehearsal" / "general.jsonl")]
    print(f"{cpu()}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}; {len(everyday)} everyday requests")
    print(f"{'example':<10} {'measure':<10} {'min':>5} {'right fact':>11} {'in domain':>10} {'everyday in':>12} "
          f"{'ms/request':>11}")
    for name in args.examples:
        folder = ROOT / "examples" / name
        pairs = [(question(r["messages"][:-1]), r["messages"][-1]["content"]) for r in rows(folder / "train.jsonl")]
        items = rows(folder / "heldout" / "items.jsonl")
        for measure in ("tfidf", "embedding"):
            refs = References(pairs, similarity=measure)  # type: ignore[arg-type]
            right = inside = 0
            for it in items:
                sim, i = refs.nearest(question(it["messages"]))
                right += i is not None and bool(re.search(it["reference"], refs.answers[i]))
                inside += sim >= refs.min_similarity
            leak = sum(refs.near(p) for p in everyday)
            times = []
            for k in range(220):  # a new text each time: past the memo of the last few
                t = time.perf_counter()
                refs._index.scored(f"{everyday[k % len(everyday)]} ({k})")
                times.append(time.perf_counter() - t)
            ms = statistics.median(times[20:]) * 1000
            print(f"{name:<10} {measure:<10} {refs.min_similarity:>5.2f} {right:>6}/{len(items):<4} "
                  f"{inside:>5}/{len(items):<4} {leak:>6}/{len(everyday):<5} {ms:>11.2f}")


if __name__ == "__main__":
    main()
