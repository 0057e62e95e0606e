"""The self-contained `report.html`: the summary, where every answer came from, the results table, the four
plots (inline PNG; also written beside it as plots/*.png) and the per-item table. No external resources."""

from __future__ import annotations

import base64
import html
from pathlib import Path

from ..reporting.page import SCRIPT, STYLE
from .format import headline, pct, provenance_lines, secs, summary_rows, usd, wh
from .plots import PLOTS


def _esc(x) -> str:
    return html.escape(str(x))


def render_html(result: dict, markdown_text: str, out: Path) -> str:
    (out / "plots").mkdir(parents=True, exist_ok=True)
    imgs = []
    for name, plot in PLOTS.items():
        png = plot(result)
        (out / "plots" / f"{name}.png").write_bytes(png)
        imgs.append(f'<img id="plot-{name}" alt="{_esc(name)}" '
                    f'src="data:image/png;base64,{base64.b64encode(png).decode()}">')
    if top := headline(result):
        what, s = top
        head = (f"At {_esc(what)}: <b>{pct(s['local_share'])}</b> of requests stay local, quality retention "
                f"<b>{pct(s['quality_retention'])}</b>, cost saving <b>{pct(s['cost_saving'])}</b>, energy saving "
                f"<b>{pct(s['energy_saving'])}</b> (vs all-cloud).")
    else:
        head = "No threshold meets the target on these items."
    rows = "".join(f"<tr><td>{_esc(n)}</td><td>{pct(p['cloud_share'])}</td><td>{pct(p['quality'])}</td>"
                   f"<td>{usd(p['cost_usd'])}</td><td>{wh(p['energy_wh'])}</td>"
                   f"<td>{secs(p['latency_s'])}</td></tr>"
                   for n, p in summary_rows(result))
    items = "".join(
        f"<tr><td>{_esc(r['id'])}</td><td>{r['score']:.3f}</td><td>{_esc(r['forced'] or '')}</td>"
        f"<td>{r['local']['quality']:.2f}</td><td>{r['cloud']['quality']:.2f}</td>"
        f"<td>{_esc((r['local']['answer'] or r['local']['error'] or '')[:160])}</td>"
        f"<td>{_esc(r['cloud']['provenance'] or r['cloud']['backend'] or '')}</td></tr>" for r in result["items"])
    prov = "".join(f"<li>{_esc(line)}</li>" for line in provenance_lines(result))
    title = f"hybrid-ai eval: {', '.join(x['name'] for x in result['suites'])} on policy {result['policy']['name']}"
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{_esc(title)}</title>
<style>{STYLE}</style></head><body data-plots-loaded="0"><h1>{_esc(title)}</h1>
<p class="summary" id="summary">{head}</p><ul id="provenance">{prov}</ul>
<table id="results"><tr><th>routing</th><th>cloud share</th><th>quality</th><th>cost</th><th>energy</th>
<th>mean latency</th></tr>{rows}</table>
<div class="plots">{''.join(imgs)}</div>
<details><summary>Every item ({len(result['items'])})</summary><table id="items"><tr><th>item</th><th>score</th>
<th>rule</th><th>local q</th><th>cloud q</th><th>local answer</th><th>cloud answer from</th></tr>{items}</table>
</details><details><summary>Report as Markdown</summary><pre>{_esc(markdown_text)}</pre></details>
<script>{SCRIPT}</script></body></html>"""
