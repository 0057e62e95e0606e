"""Graded quality of each local engine setting on the bundled suites (and the support example's held-out suite
with its adapter, when `examples/support/adapter` exists), through `hybrid-ai eval`, each from an empty answer
cache, with the eval's wall time: what chooses the default local engine.

    .venv/bin/python benchmarks/engine_quality.py [--settings transformers:none,ctranslate2:int8,...] [--limit N]

Prints, per setting: all-local quality per suite (the mean grade of the local tier's answers), all-local mean
latency, the local tier's answering wall time and the hybrid's local share at 95% of all-cloud quality."""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SUITES = ["assistant-traffic", "gsm8k-sample", "mmlu-sample"]
SUPPORT = ROOT / "examples" / "support"
SETTING = {"transformers": "quantization", "ctranslate2": "compute_type", "onnxruntime": "precision"}


def policy_with(base: Path, engine: str, setting: str, adapter: str | None = None) -> dict:
    p = yaml.safe_load(base.read_text())
    local = {k: v for k, v in p["tiers"]["local"].items() if k not in (*SETTING.values(), "adapter")}
    local.update(backend=engine, **{SETTING[engine]: setting})
    if adapter:
        local["adapter"] = adapter
    p["tiers"]["local"] = local
    return p


def run(policy: dict, suites: list[str], limit: int | None) -> dict:
    from hybrid_ai.evaluation.evaluate import EvalConfig, run_eval

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        r = run_eval(EvalConfig(policy=policy, suites=suites, cache=str(Path(tmp) / "answers.sqlite"), limit=limit))
        wall = time.perf_counter() - t0
    by_suite: dict[str, list[float]] = {}
    for item in r["items"]:
        by_suite.setdefault(item["id"].split("/")[0], []).append(item["local"]["quality"])
    local = r["baselines"]["all_local"]
    return {"quality": {s: sum(q) / len(q) for s, q in by_suite.items()}, "all_local_quality": local["quality"],
            "all_local_latency_s": local["latency_s"], "local_answer_wall_s": r["tiers"]["local"]["wall_s"],
            "eval_wall_s": wall, "local_share_at_95": (r["chosen"] or {}).get("local_share")}


def main() -> None:
    from rich.console import Console
    from rich.table import Table

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--settings", default="transformers:none,ctranslate2:int8,ctranslate2:float32,onnxruntime:int4,"
                                         "onnxruntime:int8")
    p.add_argument("--limit", type=int, default=None, help="items per suite (default: all)")
    args = p.parse_args()
    console, rows = Console(), []
    for spec in args.settings.split(","):
        engine, setting = spec.split(":")
        console.print(f"[bold]{engine} {setting}[/bold]: bundled suites ...")
        row = {"engine": engine, "setting": setting,
               **run(policy_with(ROOT / "policies" / "route-only.yaml", engine, setting), SUITES, args.limit)}
        if (SUPPORT / "adapter" / "adapter_config.json").is_file():
            console.print(f"[bold]{engine} {setting}[/bold]: support held-out suite with its adapter ...")
            sup = run(policy_with(ROOT / "policies" / "route-only.yaml", engine, setting, str(SUPPORT / "adapter")),
                      [str(SUPPORT / "heldout")], args.limit)
            row["quality"]["support-heldout (adapter)"] = sup["all_local_quality"]
            row["support_eval_wall_s"] = sup["eval_wall_s"]
        rows.append(row)
    names = list(dict.fromkeys(s for r in rows for s in r["quality"]))
    t = Table(title="All-local graded quality per engine setting (each from an empty answer cache)")
    for col in ("engine", "setting", *names, "all-local latency s", "local answering s", "local share @95%"):
        t.add_column(col)
    for r in rows:
        share = r["local_share_at_95"]
        t.add_row(r["engine"], r["setting"], *(f"{r['quality'].get(n, float('nan')):.3f}" for n in names),
                  f"{r['all_local_latency_s']:.2f}", f"{r['local_answer_wall_s']:.0f}",
                  f"{share:.1%}" if share is not None else "-")
    console.print(t)
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
