"""Write an eval's result: `report.json` (everything, machine-readable), `report.md` (for people and PRs),
`report.html` (self-contained, with the plots of evaluation/plots.py) and a short rich table on the terminal."""

from __future__ import annotations

import json
import math
from pathlib import Path

from .format import headline, pct, provenance_lines, secs, summary_rows, threshold, usd, wh  # noqa: F401
from .sweep import routed


def clean(x):
    """JSON-safe: inf / nan become None (the all-local threshold is +inf)."""
    if isinstance(x, float) and (math.isinf(x) or math.isnan(x)):
        return None
    if isinstance(x, dict):
        return {k: clean(v) for k, v in x.items()}
    if isinstance(x, list):
        return [clean(v) for v in x]
    return x


def markdown(result: dict) -> str:
    out = [f"# hybrid-ai eval: {', '.join(x['name'] for x in result['suites'])} on policy `{result['policy']['name']}`",
           ""]
    out += [f"- {line}" for line in provenance_lines(result)]
    target = ", ".join(f"{k} = {v}" for k, v in result["target"].items())
    out += ["", f"Target: {target}.", ""]
    if head := headline(result):
        what, s = head
        out.append(f"**At {what}: {pct(s['local_share'])} of requests stay local, quality retention "
                   f"{pct(s['quality_retention'])} of all-cloud, cost saving {pct(s['cost_saving'])}, energy saving "
                   f"{pct(s['energy_saving'])}.**")
    else:
        out.append("**No threshold meets the target on these items.**")
    out += ["", "| routing | cloud share | quality | cost | energy | mean latency |", "|---|---|---|---|---|---|"]
    for name, p in summary_rows(result):
        out.append(f"| {name} | {pct(p['cloud_share'])} | {pct(p['quality'])} | {usd(p['cost_usd'])} | "
                   f"{wh(p['energy_wh'])} | {secs(p['latency_s'])} |")
    out += ["", "## By tag (quality of each tier; share sent to the cloud at the chosen threshold)", "",
            "| tag | items | local quality | cloud quality | to cloud |", "|---|---|---|---|---|"]
    thr = result["chosen"]["threshold"] if result["chosen"] else float("inf")
    for tag, items in by_tag(result["items"]).items():
        n = len(items)
        to_cloud = sum(routed(items, math.inf if thr is None else thr))
        out.append(f"| {tag} | {n} | {pct(sum(r['local']['quality'] for r in items) / n)} | "
                   f"{pct(sum(r['cloud']['quality'] for r in items) / n)} | {pct(to_cloud / n)} |")
    t = result["tiers"]
    out += ["", "## Timing", ""]
    for k in ("local", "cloud"):
        ips = t[k]["items_per_s"]
        out.append(f"- {k}: {t[k]['wall_s']:.1f} s wall, {'n/a' if ips is None else f'{ips:.2f}'} items/s answered "
                   f"now ({t[k]['cached']} cached)")
    out += ["", "Suites: " + "; ".join(f"{x['name']} ({x['items']} items; {x['source']}; licence {x['license']})"
                                      for x in result["suites"]), ""]
    return "\n".join(out)


def by_tag(items: list[dict]) -> dict[str, list[dict]]:
    tags: dict[str, list[dict]] = {}
    for r in items:
        for t in r["tags"][:1] or ["(untagged)"]:  # the first tag is the item's kind
            tags.setdefault(t, []).append(r)
    return tags


def outcomes(result: dict) -> list[dict]:
    """Per item: did each tier answer well? The input of `hybrid-ai router train --data outcomes.jsonl`, so the
    classifier learns what *this* local model gets right (and, with the local answer, `router train-verifier` learns
which of its answers to doubt). Items where a tier failed are left out."""
    return [{"id": r["id"], "messages": r["messages"], "weak_correct": r["local"]["quality"],
             "strong_correct": r["cloud"]["quality"], "weak_answer": r["local"].get("answer")}
            for r in result["items"] if r["local"]["error"] is None and r["cloud"]["error"] is None]


def write(result: dict, out: Path) -> dict[str, Path]:
    from .html import render_html

    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "report.json", "md": out / "report.md", "html": out / "report.html",
             "outcomes": out / "outcomes.jsonl"}
    paths["outcomes"].write_text("".join(json.dumps(o, ensure_ascii=False) + "\n" for o in outcomes(result)),
                                 encoding="utf-8")
    paths["json"].write_text(json.dumps(clean(result), indent=1, ensure_ascii=False), encoding="utf-8")
    paths["md"].write_text(markdown(result), encoding="utf-8")
    paths["html"].write_text(render_html(result, markdown(result), out), encoding="utf-8")
    return paths


def print_summary(result: dict, paths: dict[str, Path], console=None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    table = Table(title="hybrid-ai eval", show_lines=False)
    for col in ("routing", "cloud share", "quality", "cost", "energy", "latency"):
        table.add_column(col, justify="left" if col == "routing" else "right")
    for name, p in summary_rows(result):
        table.add_row(name, pct(p["cloud_share"]), pct(p["quality"]), usd(p["cost_usd"]), wh(p["energy_wh"]),
                      secs(p["latency_s"]))
    console.print(table)
    for line in provenance_lines(result):
        console.print(f"[dim]{line}[/dim]")
    if head := headline(result):
        what, s = head
        console.print(f"[bold]at {what}: local share {pct(s['local_share'])}, quality retention "
                      f"{pct(s['quality_retention'])}, cost saving {pct(s['cost_saving'])}, energy saving "
                      f"{pct(s['energy_saving'])}[/bold]")
    else:
        console.print("[bold red]no threshold meets the target on these items[/bold red]")
    console.print(f"report: {paths['html']} (also report.json, report.md; outcomes.jsonl for `hybrid-ai router train`)")
