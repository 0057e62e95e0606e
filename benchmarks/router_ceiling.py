"""How much better can a prompt-only router get on these labels? Three measurements behind the README's
"Where the remaining targets stand".

    .venv/bin/python benchmarks/router_ceiling.py [--data data/routellm]      # about 1 minute

1. GSM8K label audit: how many of GPT-4's answers graded wrong state the reference answer in their final
   lines (the grader takes the last number; GPT-4 often ends "... 109 years old 10 years from now").
2. Privileged information on GSM8K: 5-fold APGR of the router's features, of features of the reference
   solution (steps, length, calculator calls, answer size: what makes a problem hard, which no router can
   see), and of both together.
3. Transfer of length: Spearman correlation of prompt length with the strong model's gain within MMLU
   subjects (what an out-of-domain router trained on MMLU can learn) and within GSM8K."""

from __future__ import annotations

import argparse
import csv
import json
import math
import random
import re
from pathlib import Path

import numpy as np
from scipy import sparse
from scipy.stats import spearmanr

from hybrid_ai.learning.data import STRONG, WEAK, load_outcomes
from hybrid_ai.learning.metrics import summarize
from hybrid_ai.learning.train import _group_centred, featurize
from oof import oof_apgr

NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def reference(data: Path) -> dict[str, str]:
    return {json.loads(line)["question"].strip(): json.loads(line)["answer"]
            for line in (data / "gsm8k" / "test.jsonl").read_text().splitlines()}


def label_audit(data: Path, refs: dict[str, str]) -> None:
    csv.field_size_limit(1 << 30)
    with open(data / "gsm8k" / "gsm8k_responses.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for model in (STRONG, WEAK):
        wrong = [r for r in rows if r[model] == "False"]
        stated = 0
        for r in wrong:
            ref = next(a for q, a in refs.items() if q in r["prompt"])
            answer = float(ref.split("####")[-1].replace(",", ""))
            tail = [float(n.replace(",", "")) for n in NUMBER.findall(r[f"{model}_response"][-200:])]
            stated += any(abs(x - answer) < 1e-6 for x in tail[-3:])
        print(f"GSM8K, {model}: {len(wrong)} answers graded wrong; {stated} of them ({stated / len(wrong):.0%}) "
              "state the reference answer among their last three numbers")


def standardized(a):
    a = a - a.mean(axis=0)
    sd = a.std(axis=0)
    return sparse.csr_matrix(a / np.where(sd == 0, 1, sd))


def privileged(rows, refs) -> None:
    sol = [next(a for q, a in refs.items() if q in o.prompt) for o in rows]
    ref = np.array([[math.log1p(s.count("\n")), math.log1p(len(s)), math.log1p(s.count("<<")),
                     math.log10(1 + abs(float(s.split("####")[-1].replace(",", "")))),
                     float("." in s.split("####")[-1])] for s in sol])
    dense, hashed = featurize(rows)
    prompt = sparse.hstack([standardized(dense), hashed]).tocsr()
    print(f"GSM8K 5-fold APGR: router features {oof_apgr(prompt, rows):.3f}; reference-solution features only "
          f"{oof_apgr(standardized(ref), rows):.3f}; both {oof_apgr(sparse.hstack([prompt, standardized(ref)]).tocsr(), rows):.3f}"
          f"; prompt length alone {summarize([len(o.prompt) + random.random() * 1e-3 for o in rows], [o.weak for o in rows], [o.strong for o in rows])['apgr']:.3f}")


def length_transfer(gsm8k, mmlu) -> None:
    def rho(rows, centred):
        dense = featurize(rows)[0]
        x = _group_centred(dense, rows)[:, 0] if centred else dense[:, 0]
        return spearmanr(x, [o.strong - o.weak for o in rows]).statistic

    print(f"Spearman rho of log prompt length with the strong model's gain: within MMLU subjects "
          f"{rho(mmlu, True):+.3f}, within GSM8K {rho(gsm8k, False):+.3f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[1] / "data" / "routellm"))
    data = Path(ap.parse_args().data)
    random.seed(0)
    refs = reference(data)
    gsm8k, mmlu = load_outcomes(data / "gsm8k"), load_outcomes(data / "mmlu")
    label_audit(data, refs)
    privileged(gsm8k, refs)
    length_transfer(gsm8k, mmlu)


if __name__ == "__main__":
    main()
