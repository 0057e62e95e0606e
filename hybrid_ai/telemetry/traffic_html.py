"""The traffic report's self-contained HTML (traffic.py): summary, tables and three plots (inline PNG, also written
to plots/), no external resources; the same page conventions as the eval report (evaluation/html.py)."""

from __future__ import annotations

import base64
import html
from pathlib import Path

from ..reporting.page import SCRIPT, STYLE
from ..reporting.page import figure as _fig
from ..reporting.page import png as _png


def _esc(x) -> str:
    return html.escape(str(x))


def requests_over_time(r: dict) -> bytes:
    fig, ax = _fig()
    buckets = sorted({x["bucket"] for x in r["over_time"]})
    bottom = [0] * len(buckets)
    for route in [x["route"] for x in r["routes"]]:
        counts = {x["bucket"]: x["requests"] for x in r["over_time"] if x["route"] == route}
        vals = [counts.get(b, 0) for b in buckets]
        ax.bar(range(len(buckets)), vals, bottom=bottom, label=route)
        bottom = [a + b for a, b in zip(bottom, vals)]
    step = max(1, len(buckets) // 8)
    ax.set_xticks(range(0, len(buckets), step), [b[5:] for b in buckets[::step]], fontsize=7, rotation=30)
    ax.set_ylabel("requests")
    ax.set_title(f"Requests per route and {r['bucket']}")
    ax.legend(fontsize=8)
    return _png(fig)


def spend_vs_all_cloud(r: dict) -> bytes:
    fig, ax = _fig()
    c, e = r["cost"], r["energy"]
    ax.bar([0, 1], [c["spent_usd"], c["all_cloud_usd"]], color=["tab:green", "tab:blue"])
    ax.set_xticks([0, 1], ["spent (hybrid)", "all-cloud counterfactual"])
    ax.set_ylabel("USD")
    ax2 = ax.twinx()
    ax2.plot([0, 1], [e["spent_wh"], e["all_cloud_wh"]], "o--", color="tab:orange", label="energy (Wh)")
    ax2.set_ylabel("Wh")
    ax2.legend(loc="upper left", fontsize=8)
    ax.set_title("Cost (bars) and energy (points) against all-cloud")
    return _png(fig)


def latency_per_route(r: dict) -> bytes:
    fig, ax = _fig()
    routes = list(r["latency"])
    for k, (key, label) in enumerate((("p50_ms", "p50"), ("p95_ms", "p95"))):
        ax.bar([i + 0.4 * k for i in range(len(routes))], [(r["latency"][x][key] or 0) / 1000 for x in routes],
               width=0.4, label=label)
    ax.set_xticks([i + 0.2 for i in range(len(routes))], routes)
    ax.set_ylabel("latency (s)")
    ax.set_title("Latency per route")
    ax.legend(fontsize=8)
    return _png(fig)


PLOTS = {"requests_over_time": requests_over_time, "spend_vs_all_cloud": spend_vs_all_cloud,
         "latency_per_route": latency_per_route}


def _table(tid: str, head: tuple, rows: list[tuple]) -> str:
    th = "".join(f"<th>{_esc(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{_esc(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f'<table id="{tid}"><tr>{th}</tr>{body}</table>'


def render(r: dict, out: Path) -> str:
    (out / "plots").mkdir(parents=True, exist_ok=True)
    imgs = []
    for name, plot in PLOTS.items():
        png = plot(r)
        (out / "plots" / f"{name}.png").write_bytes(png)
        imgs.append(f'<img id="plot-{name}" alt="{name}" src="data:image/png;base64,{base64.b64encode(png).decode()}">')
    c, e = r["cost"], r["energy"]

    def pct(x):
        return "n/a" if x is None else f"{100 * x:.1f}%"

    head = (f"{r['records']:,} requests from {_esc(r['first'])} to {_esc(r['last'])}: spent <b>${c['spent_usd']:.4f}</b> "
            f"where all-cloud would have cost ${c['all_cloud_usd']:.4f} (saving <b>{pct(c['saving'])}</b>), "
            f"{e['spent_wh']:.3f} Wh against {e['all_cloud_wh']:.3f} Wh (saving <b>{pct(e['saving'])}</b>); "
            f"{r['fallbacks']} fallbacks, {r['escalations']} escalations, {r['failed']} failed.")
    tables = [
        _table("routes", ("route", "requests", "share", "cost", "energy"),
               [(x["route"], x["requests"], pct(x["share"]), f"${x['cost_usd']:.4f}", f"{x['energy_wh']:.3f} Wh")
                for x in r["routes"]]),
        _table("latency", ("route", "p50", "p95", "requests"),
               [(k, f"{(v['p50_ms'] or 0):.0f} ms", f"{(v['p95_ms'] or 0):.0f} ms", v["n"]) for k, v in r["latency"].items()]),
        _table("reasons", ("top reasons", "requests"), [(x["reason"], x["requests"]) for x in r["reasons"]]),
        _table("budget", ("budget decided", "requests"), [(x["cap"], x["requests"]) for x in r["budget"]] or [("none", 0)]),
        _table("callers", ("caller (API key id)", "requests", "cost"),
               [(x["caller"], x["requests"], f"${x['cost_usd']:.4f}") for x in r["callers"]]),
    ]
    if r.get("variants"):  # a canary ran: the two policies side by side
        tables.append(_table("variants", ("variant", "requests", "routes", "cost per request", "saving",
                                          "mean latency", "failed"),
                             [(x["variant"], x["requests"], ", ".join(f"{k} {n}" for k, n in x["routes"].items()),
                               f"${x['cost_per_request']:.6f}", pct(x["saving"]), f"{x['mean_latency_ms']:.0f} ms",
                               x["failed"]) for x in r["variants"]]))
    title = f"hybrid-ai traffic report: {r['log']}"
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{_esc(title)}</title>
<style>{STYLE}</style></head><body data-plots-loaded="0"><h1>{_esc(title)}</h1>
<p class="summary" id="summary">{head}</p>{''.join(tables)}
<div class="plots">{''.join(imgs)}</div><script>{SCRIPT}</script></body></html>"""
