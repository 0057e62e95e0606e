"""How an eval's figures read in the reports (markdown, HTML, terminal): numbers, the summary rows, provenance."""

from __future__ import annotations

import math


def pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def usd(x) -> str:
    return "n/a" if x is None else f"${x:.4f}"


def wh(x) -> str:
    return "n/a" if x is None else f"{x:.3f} Wh"


def threshold(x) -> str:
    return "all local" if x is None or math.isinf(x) else f"{x:.4g}"


def secs(x) -> str:
    return "n/a" if x is None else f"{x:.2f} s"


def summary_rows(result: dict) -> list[tuple[str, dict]]:
    b = result["baselines"]
    rows = [("all-local", b["all_local"]), ("all-cloud", b["all_cloud"])]
    if result["chosen"]:
        rows.append((f"hybrid, chosen (threshold {threshold(result['chosen']['threshold'])})", result["chosen"]))
    if result["policy"].get("mode") != "cascade":  # a cascade policy's own point is the "cascade, policy now" row
        rows.append((f"hybrid, policy now (threshold {threshold(result['policy']['threshold'])})", result["current"]))
    own = result.get("own_router", {})
    if own.get("chosen"):
        rows.append((f"hybrid, router fit on these items ({own['folds']}-fold CV)", own["chosen"]))
    cas = result.get("cascade") or {}
    for key, what in (("chosen", "chosen"), ("current", "policy now")):
        if cas.get(key):
            p = cas[key]
            rows.append((f"cascade, {what} (router {threshold(p['threshold'])}, verifier "
                         f"{threshold(p['verify_threshold'])}; {pct(p['escalated_share'])} escalated)", p))
    rows.append(("random, same cloud share" if result["chosen"] else "random, 50% cloud",
                 _random_at(b["random"], result["chosen"]["cloud_share"] if result["chosen"] else 0.5)))
    rows.append(("oracle", b["oracle"]))
    return rows


def headline(result: dict) -> tuple[str, dict] | None:
    """The report's bold line: what the policy's own mode keeps at the target (cascade mode's chosen thresholds for
    a cascade policy, else route mode's chosen threshold), or None when nothing meets the target."""
    cas = (result.get("cascade") or {}).get("summary")
    if result["policy"].get("mode") == "cascade":
        return ("the chosen cascade thresholds (this policy's mode; router "
                f"{threshold(cas['threshold'])}, verifier {threshold(cas['verify_threshold'])})", cas) if cas else None
    s = result["summary"]
    return (f"the chosen threshold ({threshold(s['threshold'])})", s) if s else None


def _random_at(points: list[dict], share: float) -> dict:
    """Random routing interpolated to a cloud share (the baseline is computed at 0, 10, ..., 100%)."""
    lo = max((p for p in points if p["cloud_share"] <= share), key=lambda p: p["cloud_share"])
    hi = min((p for p in points if p["cloud_share"] >= share), key=lambda p: p["cloud_share"])
    w = 0.0 if hi["cloud_share"] == lo["cloud_share"] else (share - lo["cloud_share"]) / (hi["cloud_share"] - lo["cloud_share"])

    def mix(k):
        a, b = lo[k], hi[k]
        return None if a is None or b is None else a + w * (b - a)

    return {"cloud_share": share, "quality": mix("quality"), "cost_usd": mix("cost_usd"),
            "energy_wh": mix("energy_wh"), "latency_s": mix("latency_s")}


def provenance_lines(result: dict) -> list[str]:
    t = result["tiers"]
    lines = [f"local tier `{t['local']['tier']}`: {t['local']['model']} ran live "
             f"({t['local']['answered']} answered now, {t['local']['cached']} from the answer cache, "
             f"{t['local']['failed']} failed)"]
    c = t["cloud"]
    if c["mode"] == "live":
        lines.append(f"cloud tier `{c['tier']}`: {c['model']} ran live ({c['answered']} answered now, "
                     f"{c['cached']} from the answer cache, {c['failed']} failed)")
    else:
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(c["replayed"].items())) or "none"
        lines.append(f"cloud tier `{c['tier']}`: replayed, not live: answers of {c['model'].removeprefix('replay:')} "
                     f"({kinds}; {c['failed']} items had no recording and count as failed); costed and energy-rated "
                     f"as that model from their token counts; latency estimated")
        if c["standin_items"]:
            lines.append(f"{c['standin_items']} items were scored with their reference answer standing in for the "
                         f"frontier model (written for this repo; no real recorded answer exists)")
    own = result.get("own_router", {})
    if own.get("summary"):
        o = own["summary"]
        lines.append(f"a router trained on these items' own outcomes ({own['folds']}-fold, each item scored by a model "
                     f"that did not see it) reaches the target with local share {pct(o['local_share'])}, cost saving "
                     f"{pct(o['cost_saving'])}, energy saving {pct(o['energy_saving'])}: "
                     f"`hybrid-ai router train --data outcomes.jsonl` builds it")
    elif own.get("skipped"):
        lines.append(f"router trained on these items: skipped ({own['skipped']})")
    cas = (result.get("cascade") or {}).get("summary")
    if cas and not cas["escalated_share"]:
        lines.append("cascade mode (the verifier reads each local answer) finds no better point than route mode on "
                     "these items")
    elif cas:
        lines.append(f"cascade mode (prompt router, then the verifier reads each local answer) reaches the target with "
                     f"local share {pct(cas['local_share'])} ({pct(cas['escalated_share'])} escalated), cost saving "
                     f"{pct(cas['cost_saving'])}, energy saving {pct(cas['energy_saving'])}, latency saving "
                     f"{pct(cas['latency_saving'])}: `classifier: {{mode: cascade, threshold: "
                     f"{threshold(cas['threshold'])}, verifier: {{threshold: {threshold(cas['verify_threshold'])}}}}}`")
    if t["local"]["judge_unscored"] or c["judge_unscored"]:
        lines.append(f"the judge gave no verdict on {t['local']['judge_unscored']} local and {c['judge_unscored']} "
                     f"cloud answers; they count as wrong")
    if j := result.get("judge"):
        cap = f" of a {j['max_usd']:g} USD cap ({j['over_budget']} past it, unscored)" if j["max_usd"] is not None else ""
        lines.append(f"the judge ({j['model']}) was called {j['calls']} times for {j['spent_usd']:.4f} USD{cap}"
                     + (f"; {j['unpriced_calls']} calls had no known price" if j["unpriced_calls"] else ""))
    return lines
