"""What `hybrid-ai router score|train|evaluate|calibrate` do (cli.py only parses arguments)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..errors import HybridAIError
from ..routing.scorer import DEFAULT_MODEL, load_scorer
from .data import STRONG, WEAK, DataError, messages_text
from .shadow_log import load_many

MIN_ROWS = 10  # fewer rows give no meaningful APGR or CPT


def _console():
    from rich.console import Console

    return Console(stderr=True)


def score_file(input_path: str, model: str | None, out=None) -> int:
    """One `{"score": float}` line per input line, in order. A line that cannot be used gives
    `{"score": null, "error": "..."}` and the exit status is 3; invalid UTF-8 is replaced, not fatal."""
    out = out or sys.stdout
    scorer = load_scorer(str(model or DEFAULT_MODEL))
    bad = 0
    src = sys.stdin.buffer if input_path == "-" else None
    try:
        fh = src or open(input_path, "rb")
    except OSError as e:
        raise DataError(f"{input_path}: {e.strerror}") from None
    with fh:
        for i, raw in enumerate(fh, start=1):
            line = raw.decode("utf-8", errors="replace").strip()
            try:
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise DataError("expected a JSON object")
                if isinstance(row.get("prompt"), str):
                    text, n = row["prompt"], 1
                elif "messages" in row:
                    text, n = messages_text(row["messages"], f"line {i}")
                else:
                    raise DataError("missing field 'prompt' (a string) or 'messages'")
                out.write(json.dumps({"score": scorer.score_text(text, n)}) + "\n")
            except (json.JSONDecodeError, DataError) as e:
                bad += 1
                msg = e.msg if isinstance(e, json.JSONDecodeError) else str(e)
                out.write(json.dumps({"score": None, "error": f"line {i}: {msg}"}) + "\n")
    if bad:
        print(f"hybrid-ai: {bad} line(s) could not be scored (see their 'error')", file=sys.stderr)
    return 3 if bad else 0


def train(data: list[str], out: str, fit_kw: dict, strong: str, weak: str, logs: list[str]) -> int:
    from .train import fit

    con = _console()
    with con.status("loading outcome data"):
        rows = load_many(data, strong, weak, logs)
    sources = sorted({r.source for r in rows})
    with con.status(f"training on {len(rows):,} rows ({', '.join(sources)})") as status:
        model = fit(rows, progress=lambda m: status.update(m), **fit_kw,
                    meta={"trained_on": sources, "rows": len(rows), "strong": strong or STRONG, "weak": weak or WEAK})
    path = model.save(out)
    con.print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")
    return 0


def train_verifier(data: list[str], out: str, c: float, logs: list[str]) -> int:
    from .verifier_train import fit_verifier

    con = _console()
    with con.status("loading outcome data"):
        rows = load_many(data, logs=logs)
    with con.status(f"training the verifier on {sum(r.weak_answer is not None for r in rows):,} graded answers"):
        model = fit_verifier(rows, c=c, meta={"trained_on": sorted({r.source for r in rows})})
    path = model.save(out)
    con.print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB; {model.meta['rows']:,} answers, "
              f"{model.meta['wrong_rate']:.0%} of them wrong)")
    return 0


def _scores(rows, model, folds, train_paths, strong, weak, fit_kw, status) -> tuple[list[float], str]:
    if train_paths:
        from .train import fit

        status.update("training on --train data")
        m = fit(load_many(train_paths, strong, weak), **fit_kw)
        return [m.score_text(r.prompt, r.n_messages) for r in rows], f"trained on {', '.join(train_paths)}"
    if folds:
        from .train import out_of_fold

        return (out_of_fold(rows, folds, progress=lambda msg: status.update(msg), **fit_kw),
                f"{folds}-fold out-of-fold")
    scorer = load_scorer(str(model or DEFAULT_MODEL))
    return [scorer.score_text(r.prompt, r.n_messages) for r in rows], f"model {model or 'shipped default'}"


def evaluate(data, model, folds, train_paths, as_json, fit_kw, strong, weak) -> int:
    from .metrics import evaluate as metrics

    con = _console()
    with con.status("loading outcome data") as status:
        rows = load_many(data, strong, weak)
        if len(rows) < MIN_ROWS:
            raise DataError(f"{', '.join(data)}: {len(rows)} usable row(s); evaluating a router needs at least "
                            f"{MIN_ROWS}")
        scores, how = _scores(rows, model, folds, train_paths, strong, weak, fit_kw, status)
    groups = {"all": list(range(len(rows)))}
    sources = sorted({r.source for r in rows})
    if len(sources) > 1:
        groups.update({s: idx for s in sources
                       if len(idx := [i for i, r in enumerate(rows) if r.source == s]) >= MIN_ROWS})
    result = {"scores_from": how, "data": data, "benchmarks": {}}
    for name, idx in groups.items():
        result["benchmarks"][name] = metrics([scores[i] for i in idx], [rows[i].weak for i in idx],
                                             [rows[i].strong for i in idx], [rows[i].prompt for i in idx])
    if as_json:
        print(json.dumps(result))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"router evaluation ({how})")
    for col in ("data", "rows", "router", "APGR", "CPT(50%)", "CPT(80%)"):
        table.add_column(col)

    def pct(v):
        return "-" if v is None else f"{v:.1f}%"

    for name, r in result["benchmarks"].items():
        for who in ("router", "random", "length", "oracle"):
            m = r[who]
            table.add_row(name if who == "router" else "", str(r["rows"]) if who == "router" else "", who,
                          f"{m['apgr']:.3f}", pct(m["cpt50"]), pct(m["cpt80"]))
    Console().print(table)
    return 0


def calibrate(data, policy_path, cloud_share, quality, strong, weak, logs) -> int:
    from ..policy import load_policy
    from ..routing.classifier import load_classifier
    from .calibrate import threshold_for_cloud_share, threshold_for_quality, write_threshold

    if (cloud_share is None) == (quality is None):
        raise HybridAIError("give exactly one of --target-cloud-share or --target-quality")
    if not Path(policy_path).is_file():
        from ..policy import BUNDLED_DIR, bundled_policies

        if str(policy_path) in bundled_policies():
            raise HybridAIError(f"--policy {policy_path}: calibrate writes the threshold into a policy file and does "
                                f"not change the bundled ones; copy it first: cp {BUNDLED_DIR / policy_path}.yaml "
                                f"my-policy.yaml")
        raise HybridAIError(f"--policy {policy_path}: no such policy file")
    policy = load_policy(policy_path)
    rows = load_many(data, strong, weak, logs)
    if not rows:
        raise DataError(f"{', '.join(data + logs)}: no usable rows to calibrate on")
    clf = load_classifier(policy.classifier)
    scores = [clf.score_text(r.prompt, r.n_messages) for r in rows]  # type: ignore[attr-defined]  # as evaluate does
    weak_o, strong_o = [r.weak for r in rows], [r.strong for r in rows]
    if cloud_share is not None:
        t, reached = threshold_for_cloud_share(scores, cloud_share), True
    else:
        t, reached = threshold_for_quality(scores, weak_o, strong_o, quality)
    n = len(rows)
    share = sum(s >= t for s in scores) / n
    q = sum(st if s >= t else wk for s, st, wk in zip(scores, strong_o, weak_o)) / n
    write_threshold(Path(policy_path), t)
    print(json.dumps({"policy": str(policy_path), "threshold": t, "cloud_share": share, "quality": q,
                      "quality_retention": q / (sum(strong_o) / n), "rows": n, "target_reached": reached}))
    if not reached:
        print("hybrid-ai: the quality target cannot be reached on this data; threshold set to send all to the "
              "strong tier", file=sys.stderr)
    return 0
