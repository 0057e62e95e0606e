"""Recall and false-positive rate of the personal-data rule on benchmarks/data/pii_corpus.jsonl (the corpus the
rule was developed on) and pii_heldout.jsonl (written afterwards, not tuned on), next to the regular expressions
the bundled policies used before (a baseline in the same run), and the time per prompt. Then the evasions corpus
(pii_evasions.jsonl, benchmarks/data/make_pii_evasions.py: invisible characters, full-width forms, HTML entities,
other separators, values split across messages or in other request fields, and look-alikes), read as the rule
reads a request (every field, normalised) next to a reading of the message contents only, not normalised.

    .venv/bin/python benchmarks/pii_detection.py [--show-misses]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from collections import Counter
from pathlib import Path

from hybrid_ai.privacy import pii

DATA = Path(__file__).parent / "data"
CORPORA = {"corpus": DATA / "pii_corpus.jsonl", "held-out": DATA / "pii_heldout.jsonl"}
OLD_PATTERNS = [  # the personal-data patterns of the bundled default policy up to version 0.1.0
    r"@[\w-]+\.[A-Za-z]{2,}", r"\+\d{1,3}(?:[ .-]?\d{2,4}){3,5}", r"\(\d{3}\) ?\d{3}[ .-]\d{4}",
    r"\d{3}[.-]\d{3}[.-]\d{4}(?!\d)", r"\d{3}-\d{2}-\d{4}(?!\d)", r"[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}(?![A-Z0-9])",
    r"\d(?:[ -]?\d){12,18}(?!\d)",
]


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def rates(rows, detect) -> tuple[float, float, list, list]:
    misses = [r for r in rows if r["personal"] and not detect(r["text"])]
    false_pos = [r for r in rows if not r["personal"] and detect(r["text"])]
    n_pos = sum(r["personal"] for r in rows)
    return 1 - len(misses) / n_pos, len(false_pos) / (len(rows) - n_pos), misses, false_pos


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--show-misses", action="store_true")
    args = ap.parse_args()
    old = [re.compile(p) for p in OLD_PATTERNS]
    for label, path in CORPORA.items():
        rows = load(path)
        n_pos = sum(r["personal"] for r in rows)
        print(f"{label} ({path.name}): {n_pos} prompts with personal data, {len(rows) - n_pos} without "
              f"({', '.join(f'{k} {v}' for k, v in sorted(Counter(r['kind'] for r in rows if r['kind']).items()))})")
        for name, detect in (("personal_data rule", lambda t: pii.find(t) is not None),
                             ("old regex patterns", lambda t: any(p.search(t) for p in old))):
            recall, fpr, misses, fps = rates(rows, detect)
            print(f"  {name:<20} recall {recall:6.1%}   false positives {fpr:5.1%}")
            if args.show_misses:
                for r in misses:
                    print(f"     missed [{r['kind']}] {r['text']}")
                for r in fps:
                    print(f"     false positive: {r['text']}  ->  {pii.find(r['text'])}")
    rows = load(CORPORA["corpus"])
    per_kind = Counter(r["kind"] for r in rows if r["personal"] and pii.find(r["text"]))
    total = Counter(r["kind"] for r in rows if r["personal"])
    print("recall by kind: " + ", ".join(f"{k} {per_kind[k]}/{total[k]}" for k in pii.KINDS if total[k]))
    texts = [r["text"] for r in rows]
    for t in texts:  # imports, and phonenumbers' per-region metadata, load on first use
        pii.find(t)
    long = " ".join(r["text"] for r in rows if not r["personal"])[:2000]
    for label, sample in (("corpus prompt", texts), ("2,000-char clean prompt", [long] * 50)):
        times = []
        for t in sample:
            t0 = time.perf_counter()
            pii.find(t)
            times.append((time.perf_counter() - t0) * 1000)
        print(f"time per {label}: median {statistics.median(times):.3f} ms, max {max(times):.3f} ms")


def evasions(show: bool) -> None:
    from hybrid_ai.request import parse_request

    rows = load(DATA / "pii_evasions.jsonl")
    requests = [parse_request({k: r[k] for k in ("messages", "tools", "user", "stop") if k in r}) for r in rows]
    n_pos = sum(r["personal"] for r in rows)
    print(f"evasions (pii_evasions.jsonl): {n_pos} evasions in {len(Counter(r['form'] for r in rows)) - 1} forms, "
          f"{len(rows) - n_pos} look-alikes")
    readings = (("every field, normalised", lambda q: bool(pii.in_request(q))),
                ("message contents only, as written", lambda q: pii.find(q.text, normalized=True) is not None))
    for name, detect in readings:
        got = [detect(q) for q in requests]
        hit = sum(g for g, r in zip(got, rows) if r["personal"])
        fp = sum(g for g, r in zip(got, rows) if not r["personal"])
        print(f"  {name:<36} recall {hit / n_pos:6.1%} ({hit}/{n_pos})   false positives {fp / (len(rows) - n_pos):5.1%}"
              f" ({fp}/{len(rows) - n_pos})")
        if show and name.startswith("every"):
            for g, r in zip(got, rows):
                if g != r["personal"]:
                    print(f"     {'missed' if r['personal'] else 'false positive'} [{r['form']}] {r['messages']}")
    forms = Counter(r["form"] for r in rows if r["personal"])
    caught = Counter(r["form"] for r, q in zip(rows, requests) if r["personal"] and pii.in_request(q))
    print("  recall by form: " + ", ".join(f"{f} {caught[f]}/{n}" for f, n in sorted(forms.items())))


if __name__ == "__main__":
    main()
    evasions("--show-misses" in __import__("sys").argv)
