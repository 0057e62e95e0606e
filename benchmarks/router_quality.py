"""Router quality on the RouteLLM data, with the baselines on the same rows: the README's results table.

    .venv/bin/python benchmarks/router_quality.py [--data data/routellm] [--no-center] [--no-group-prior]
                                                  [--heuristic-prior W]

In-domain: 5-fold out-of-fold on each benchmark. Out-of-domain: trained on the other benchmarks, tested on
this one. Shipped: the packaged router (trained on GSM8K + MMLU) as it is. Prints a markdown table and JSON.
`--no-center` trains without centring the dense features within groups, `--no-group-prior` without the
group-prior feature, `--heuristic-prior W` with the heuristic's logit at weight W (the ablations in the
README); the default run also compares centred and uncentred on MT-Bench with a paired bootstrap over its rows.
The shipped router's rows come with the same training without its heuristic prior, on MT-Bench's outcomes and
on how MT-Bench's requests rank above everyday ones."""

from __future__ import annotations

import argparse
import json
import random
from functools import cache
from pathlib import Path

from rich.progress import Progress

from hybrid_ai.learning.data import load_outcomes
from hybrid_ai.learning.metrics import auc, evaluate, summarize
from hybrid_ai.routing.scorer import DEFAULT_MODEL, load_scorer
from hybrid_ai.learning.train import fit, out_of_fold

BENCHES = ("gsm8k", "mmlu", "mt_bench")


@cache
def everyday_prompts() -> tuple[str, ...]:
    """The repo's 38 written everyday requests (assistant-traffic suite)."""
    written = Path(__file__).resolve().parents[1] / "hybrid_ai" / "evals" / "assistant-traffic" / "written.jsonl"
    return tuple(json.loads(line)["prompt"] for line in written.read_text().splitlines())


def everyday(model) -> list[float]:
    return [model.score_text(p) for p in everyday_prompts()]


def everyday_vs_gsm8k(model, gsm8k) -> float:
    """AUC of 200 GSM8K problems against the 38 everyday requests."""
    return auc([model.score_text(o.prompt) for o in gsm8k[:200]], everyday(model))


def mt_bench_vs_everyday(model, folder: Path) -> dict[str, float]:
    """AUC of MT-Bench first turns (all, and per category) against the 38 everyday requests: how well the
    router tells chat requests that ask for more from the ones any model answers (no outcomes involved)."""
    easy, cats = everyday(model), {}
    for line in (folder / "question.jsonl").read_text().splitlines():
        q = json.loads(line)
        cats.setdefault(q["category"], []).append(model.score_text(q["turns"][0]))
    return {"all": auc([s for v in cats.values() for s in v], easy), **{c: auc(v, easy) for c, v in cats.items()}}


def paired_bootstrap(a, b, rows, n=1000, seed=0) -> list[float]:
    """Sorted APGR(a) - APGR(b) over `n` resamples of `rows` (the same resample for both scorers)."""
    sa, sb = [a.score_text(o.prompt) for o in rows], [b.score_text(o.prompt) for o in rows]
    rng, diffs = random.Random(seed), []
    for _ in range(n):
        idx = [rng.randrange(len(rows)) for _ in rows]
        w, s = [rows[i].weak for i in idx], [rows[i].strong for i in idx]
        if sum(w) != sum(s):  # APGR needs a gap between the two models
            diffs.append(summarize([sa[i] for i in idx], w, s)["apgr"] - summarize([sb[i] for i in idx], w, s)["apgr"])
    return sorted(diffs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[1] / "data" / "routellm"))
    ap.add_argument("--no-center", dest="center", action="store_false")
    ap.add_argument("--no-group-prior", dest="group_prior", action="store_false")
    ap.add_argument("--heuristic-prior", type=float, default=0.0)
    args = ap.parse_args()
    kw = {"center": args.center, "group_prior": args.group_prior, "heuristic_prior": args.heuristic_prior}
    data = {b: load_outcomes(Path(args.data) / b) for b in BENCHES}
    results = []
    shipped = load_scorer(str(DEFAULT_MODEL))
    with Progress() as progress:
        task = progress.add_task("evaluating", total=8)
        for b in BENCHES:
            rows = data[b]
            cols = ([o.weak for o in rows], [o.strong for o in rows], [o.prompt for o in rows])
            if b != "mt_bench":  # 72 rows are too few to train on in folds
                results.append(("in-domain, 5-fold OOF", b, evaluate(out_of_fold(rows, 5, **kw), *cols)))
                progress.advance(task)
            others = [o for other in BENCHES if other != b for o in data[other]]
            model = fit(others, **kw)
            results.append((f"out-of-domain (trained on {'+'.join(x for x in BENCHES if x != b)})", b,
                            evaluate([model.score_text(o.prompt) for o in rows], *cols)))
            if b == "mt_bench":
                gsm_auc = everyday_vs_gsm8k(model, data["gsm8k"])
                diffs = paired_bootstrap(model, fit(others, **{**kw, "center": False}), rows) if args.center else None
            progress.advance(task)
        rows = data["mt_bench"]
        prior = shipped.meta.get("heuristic_prior", 0.0)
        unprimed = fit(data["gsm8k"] + data["mmlu"], group_prior=False)  # the shipped training, prior 0
        for name, model in ((f"shipped router (GSM8K+MMLU, heuristic prior {prior})", shipped),
                            ("same training, heuristic prior 0", unprimed)):
            results.append((name, "mt_bench", evaluate([model.score_text(o.prompt) for o in rows],
                                                       [o.weak for o in rows], [o.strong for o in rows],
                                                       [o.prompt for o in rows])))
            progress.advance(task)

    def f(m):
        return f"{m['apgr']:.3f} / {m['cpt50']:.1f}% / {m['cpt80']:.1f}%"

    print("| setting | benchmark | rows | router APGR / CPT(50%) / CPT(80%) | random | prompt length | oracle |")
    print("|---|---|---|---|---|---|---|")
    for setting, b, r in results:
        print(f"| {setting} | {b} | {r['rows']} | **{f(r['router'])}** | {f(r['random'])} | {f(r['length'])} | "
              f"{f(r['oracle'])} |")
    print(f"\nrouter trained on gsm8k+mmlu: 200 GSM8K problems above 38 everyday requests, AUC {gsm_auc:.3f}")
    for name, model in (("shipped router", shipped), ("heuristic prior 0", unprimed)):
        chat = mt_bench_vs_everyday(model, Path(args.data) / "mt_bench")
        print(f"{name}: MT-Bench first turns above the 38 everyday requests, AUC "
              + ", ".join(f"{c} {v:.2f}" for c, v in chat.items())
              + f"; 200 GSM8K problems above them {everyday_vs_gsm8k(model, data['gsm8k']):.3f}")
    if diffs:
        k = len(diffs)
        print(f"MT-Bench, centred minus uncentred APGR, paired bootstrap ({k} resamples): mean "
              f"{sum(diffs) / k:+.3f}, 95% interval [{diffs[int(0.025 * k)]:+.3f}, {diffs[int(0.975 * k)]:+.3f}], "
              f"above 0 in {sum(d > 0 for d in diffs) / k:.0%}")
    print(json.dumps([{"setting": s, "benchmark": b, **{k: v for k, v in r.items() if k != 'router'},
                       "router": {k: v for k, v in r["router"].items() if k != "curve"}} for s, b, r in results]))


if __name__ == "__main__":
    main()
