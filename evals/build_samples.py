"""Build the bundled eval samples from the RouteLLM data in shared/data/routellm (run from the repo root):

    .venv/bin/python evals/build_samples.py [--data ../shared/data/routellm] [--n 100]

gsm8k-sample: `--n` GSM8K test questions (seed 0, decontaminated), the reference solution (`#### answer`) from
`gsm8k/test.jsonl` (MIT, Cobbe et al. 2021), and the GPT-4-1106-preview and Mixtral-8x7B answers recorded in
`gsm8k_responses.csv` (RouteLLM, Apache-2.0) with RouteLLM's correctness labels."""

from __future__ import annotations

import argparse
import csv
import json
import random
from pathlib import Path

import yaml

STRONG, WEAK = "gpt-4-1106-preview", "mistralai/Mixtral-8x7B-Instruct-v0.1"
HERE = Path(__file__).resolve().parent


def gsm8k(data: Path, n: int) -> None:
    csv.field_size_limit(1 << 30)
    answers = {}
    for line in (data / "gsm8k" / "test.jsonl").open(encoding="utf-8"):
        row = json.loads(line)
        answers[row["question"].strip()] = row["answer"]
    drop = {json.loads(x)["eval_prompt"].strip() for x in (data / "gsm8k" / "contaminated_prompts.jsonl").open()}
    rows = [r for r in csv.DictReader((data / "gsm8k" / "gsm8k_responses.csv").open(encoding="utf-8"))
            if r["prompt"].strip() not in drop and r["prompt"].strip() in answers]
    picked = sorted(random.Random(0).sample(range(len(rows)), n))
    out = HERE / "gsm8k-sample"
    out.mkdir(exist_ok=True)
    with (out / "items.jsonl").open("w", encoding="utf-8") as fh:
        for i in picked:
            r = rows[i]
            item = {"id": f"gsm8k-{i}", "prompt": r["prompt"].strip(), "reference": answers[r["prompt"].strip()],
                    "tags": ["math", "reasoning"],
                    "recorded": {m: {"answer": r[f"{m}_response"], "correct": r[m] == "True"} for m in (STRONG, WEAK)}}
            fh.write(json.dumps(item, ensure_ascii=False) + "\n")
    meta = {"name": "gsm8k-sample", "grader": "numeric", "reference_is_standin": False,
            "description": f"{n} GSM8K test questions with GPT-4 and Mixtral answers recorded by RouteLLM",
            "source": "GSM8K test set (github.com/openai/grade-school-math) with answers from lm-sys/RouteLLM "
                      "routellm/evals/gsm8k; built by evals/build_samples.py",
            "license": "MIT (GSM8K) and Apache-2.0 (RouteLLM responses)"}
    (out / "suite.yaml").write_text(yaml.safe_dump(meta, sort_keys=False), encoding="utf-8")
    print(f"wrote {out} ({n} items)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(HERE.parent.parent / "shared" / "data" / "routellm"))
    ap.add_argument("--n", type=int, default=100)
    args = ap.parse_args()
    gsm8k(Path(args.data), args.n)


if __name__ == "__main__":
    main()
