"""What the HTML reports share (the eval report and the traffic report): the page's style, the script that counts
the plots the browser decoded (a headless-browser test reads it back), and matplotlib figures without pyplot."""

from __future__ import annotations

import io

STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}.plots{display:flex;flex-wrap:wrap;gap:12px}
.plots img{width:520px;border:1px solid #ddd}.summary{font-size:1.15em;background:#f4f8f4;padding:.6em 1em}
details td{font-size:.85em;vertical-align:top}"""

SCRIPT = """window.addEventListener('load',function(){var n=0;document.querySelectorAll('.plots img').forEach(
function(i){if(i.complete&&i.naturalWidth>0)n++});document.body.setAttribute('data-plots-loaded',String(n));});"""


def figure():
    """A figure of its own (the object API, no pyplot): the host application's matplotlib backend and
    figure registry are left alone."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.2), dpi=100)
    ax = fig.subplots()
    ax.grid(alpha=0.3)
    return fig, ax


def png(fig) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")  # Agg canvas by default for a bare Figure
    return buf.getvalue()
