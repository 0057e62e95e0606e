"""Which system prompt should the bundled policies give the local model (`system_prompt`, used when a request
brings none)? All-local graded quality of each candidate on a seeded sample of the outcome corpus's dev split (held
out: the verifier trains on the train split, the test split and the bundled suites measure), per family, through
`hybrid-ai eval` (answers go to the usual answer cache, so the chosen prompt's answers are reused by the corpus).
Then, as a measurement only (the choice is made on dev), the same on the bundled default suite.

    bash scripts/build_corpus.sh                     # the corpus (its items; answers are cached per system prompt)
    .venv/bin/python benchmarks/system_prompt.py [--corpus ~/.cache/hybrid-ai/corpus] [--n 400]   # ~2 min a prompt

Candidates: the chat template's default (SmolLM2: "You are a helpful AI assistant named SmolLM, trained by Hugging
Face") and short instructions to answer directly. Session 12 measured: every instruction raised dev quality (19.2% to
21.5-24.8%); the best on dev lowered the default suite's (40.3% to 32.3%), and the ranks on the two disagree, so the
bundled policies keep the template's default (docs/engines.md, "The local model's system prompt")."""

from __future__ import annotations

import argparse
import json
import random
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CANDIDATES = (None,
              "You are a helpful assistant. Answer the question directly and concisely, in one or two sentences.",
              "Answer the question directly. Be brief and precise.",
              "Answer directly and briefly.",
              "You are a helpful assistant. Answer the question directly. Be brief and precise.")


def sample_suite(corpus: Path, n: int, out: Path) -> Path:
    """A seeded sample of the dev split as a suite folder (the dev items are ordered by family)."""
    lines = (corpus / "corpus-dev" / "items.jsonl").read_text().splitlines()
    random.Random(1).shuffle(lines)
    out.mkdir(parents=True, exist_ok=True)
    (out / "items.jsonl").write_text("\n".join(lines[:n]) + "\n")
    meta = yaml.safe_load((corpus / "corpus-dev" / "suite.yaml").read_text())
    (out / "suite.yaml").write_text(yaml.safe_dump({**meta, "name": "corpus-dev-sample"}))
    return out


def family(item: dict) -> str:
    name = item["id"].split("/", 1)[1].rsplit("-", 1)[0]
    return "mmlu" if name.startswith("mmlu") else name


def main() -> None:
    from rich.console import Console
    from rich.table import Table

    from hybrid_ai.evaluation.evaluate import EvalConfig, run_eval

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", type=Path, default=Path.home() / ".cache" / "hybrid-ai" / "corpus")
    p.add_argument("--n", type=int, default=400)
    args = p.parse_args()
    base = yaml.safe_load((ROOT / "policies" / "route-only.yaml").read_text())
    console, results = Console(width=240), {}
    with tempfile.TemporaryDirectory() as tmp:
        suite = sample_suite(args.corpus, args.n, Path(tmp) / "sample")
        for prompt in CANDIDATES:
            policy = json.loads(json.dumps(base))
            policy["tiers"]["local"].pop("system_prompt", None)
            if prompt:
                policy["tiers"]["local"]["system_prompt"] = prompt
            console.print(f"answering {args.n} dev requests and the default suite with system prompt {prompt!r} ...")
            fams: dict[str, list[float]] = {}
            for it in run_eval(EvalConfig(policy=policy, suites=[str(suite)], cloud="replay"))["items"]:
                fams.setdefault(family(it), []).append(it["local"]["quality"])
            default = run_eval(EvalConfig(policy=policy, cloud="replay"))["baselines"]["all_local"]["quality"]
            results[prompt or "(template default)"] = (fams, default)
    names = sorted(next(iter(results.values()))[0])
    t = Table(title=f"All-local graded quality on {args.n} held-out dev requests (per family), and on the default suite")
    for col in ("system prompt", "dev sample", "default suite", *names):
        t.add_column(col)
    for prompt, (fams, default) in results.items():
        every = [q for qs in fams.values() for q in qs]
        t.add_row(prompt, f"{sum(every) / len(every):.1%}", f"{default:.1%}",
                  *(f"{sum(fams[f]) / len(fams[f]):.0%}" for f in names))
    console.print(t)


if __name__ == "__main__":
    main()
