"""The eval report's plots (matplotlib, no display): quality vs cloud share with the baselines, quality vs cost,
latency per route and energy per route. Each returns PNG bytes."""

from __future__ import annotations

from ..reporting.page import figure as _fig
from ..reporting.page import png as _png


def _baseline_marks(ax, result, x):
    b = result["baselines"]
    for key, label, style in (("all_local", "all-local", "s"), ("all_cloud", "all-cloud", "D"), ("oracle", "oracle", "*")):
        p = b[key]
        if x(p) is not None:
            ax.plot([x(p)], [100 * p["quality"]], style, markersize=9, label=label)
    if result["chosen"] and x(result["chosen"]) is not None:
        ax.plot([x(result["chosen"])], [100 * result["chosen"]["quality"]], "o", markersize=12, mfc="none",
                mew=2, color="crimson", label="chosen")


def _cascade(ax, result, x):
    """Cascade mode's frontier (best quality per cloud share over both thresholds), where the eval swept it."""
    front = [p for p in (result.get("cascade") or {}).get("frontier", []) if x(p) is not None]
    if front:
        front = sorted(front, key=x)
        ax.plot([x(p) for p in front], [100 * p["quality"] for p in front], "-", lw=1.5, color="tab:orange",
                label="cascade (router + verifier frontier)")


def quality_vs_share(result: dict) -> bytes:
    fig, ax = _fig()
    c = result["curve"]
    ax.plot([100 * p["cloud_share"] for p in c], [100 * p["quality"] for p in c], "-", lw=2, label="hybrid (policy's router)")
    _cascade(ax, result, lambda p: 100 * p["cloud_share"])
    own = result.get("own_router", {}).get("curve")
    if own:
        ax.plot([100 * p["cloud_share"] for p in own], [100 * p["quality"] for p in own], "-", lw=1.5,
                color="tab:purple", label="router trained on these items (out-of-fold)")
    r = result["baselines"]["random"]
    ax.plot([100 * p["cloud_share"] for p in r], [100 * p["quality"] for p in r], "--", color="grey",
            label="random routing")
    _baseline_marks(ax, result, lambda p: 100 * p["cloud_share"])
    ax.set_xlabel("requests sent to the cloud (%)")
    ax.set_ylabel("quality (%)")
    ax.set_title("Quality vs cloud share")
    ax.legend(loc="lower right", fontsize=8)
    return _png(fig)


def quality_vs_cost(result: dict) -> bytes:
    fig, ax = _fig()
    c = [p for p in result["curve"] if p["cost_usd"] is not None]
    ax.plot([p["cost_usd"] for p in c], [100 * p["quality"] for p in c], "-", lw=2, label="hybrid (policy's router)")
    _cascade(ax, result, lambda p: p["cost_usd"])
    r = [p for p in result["baselines"]["random"] if p["cost_usd"] is not None]
    ax.plot([p["cost_usd"] for p in r], [100 * p["quality"] for p in r], "--", color="grey", label="random routing")
    _baseline_marks(ax, result, lambda p: p["cost_usd"])
    ax.set_xlabel(f"total cost of the {len(result['items'])} requests (USD)")
    ax.set_ylabel("quality (%)")
    ax.set_title("Quality vs cost")
    ax.legend(loc="lower right", fontsize=8)
    return _png(fig)


def _per_route(result: dict, field: str):
    data, labels = [], []
    for key in ("local", "cloud"):
        vals = [r[key][field] for r in result["items"] if r[key][field] is not None and r[key]["error"] is None]
        data.append(vals or [0.0])
        mode = result["tiers"][key]["mode"]
        labels.append(f"{key}\n{result['tiers'][key]['model']}" + ("" if mode == "live" else "\n(replayed)"))
    return data, labels


def latency_per_route(result: dict) -> bytes:
    fig, ax = _fig()
    data, labels = _per_route(result, "latency_s")
    ax.boxplot(data, showmeans=True)
    ax.set_xticks([1, 2], labels, fontsize=8)
    ax.set_ylabel("latency per request (s)")
    note = " (cloud: estimated)" if result["tiers"]["cloud"]["mode"] == "replay" else ""
    ax.set_title("Latency per route" + note)
    return _png(fig)


def energy_per_route(result: dict) -> bytes:
    fig, ax = _fig()
    data, labels = _per_route(result, "energy_wh")
    means = [sum(d) / len(d) for d in data]
    ax.bar([0, 1], means, color=["tab:green", "tab:blue"])
    ax.set_xticks([0, 1], labels, fontsize=8)
    for i, m in enumerate(means):
        ax.annotate(f"{m:.3g} Wh", (i, m), ha="center", va="bottom", fontsize=9)
    ax.set_ylabel("mean energy per request (Wh)")
    ax.set_title("Energy per route (local: device watts x time; cloud: EcoLogits)", fontsize=10)
    return _png(fig)


PLOTS = {"quality_vs_cloud_share": quality_vs_share, "quality_vs_cost": quality_vs_cost,
         "latency_per_route": latency_per_route, "energy_per_route": energy_per_route}
