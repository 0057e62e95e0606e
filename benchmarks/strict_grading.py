"""How much of the outcome corpus's "right" local answers survive stricter grading, and what that does to the
verifier and the cascade policies. The corpus's regex graders accept a reference found anywhere in the answer;
that passes "1 * 1 + 1 - 1 = 2" for "5% of 20" (the 1 is there) and a prompt echo for an extraction. Regraded here
from the stored answers, no model call:

- numbers (arithmetic, percent, conversion, reading, comparison's largest/smallest, letter and word counts, days in
  a month): the answer's final number is the reference's (the `numeric` grader, GSM8K's rule);
- extraction: the reference and no other city, person or date of the generator's lists;
- classification: the right label and no other of the labels offered (even/odd already was);
- everything else as before.

    .venv/bin/python benchmarks/strict_grading.py ~/.cache/hybrid-ai/corpus/eval/report.json \\
        ~/.cache/hybrid-ai/corpus/eval-adapter/report.json

Prints, per family, the local quality of both models under both graders on the test split, how often the two
graders disagree, the verifiers' AUROC against each with their local share at 95% against the oracle's (as
`benchmarks/slm_router.py` measures it), and the `cascade` / `cascade-adapter` policies at their own thresholds on
dev and test under each."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from adapter_cascade import at, scored
from slm_router import at_target, auroc, family_of

from hybrid_ai.checks.verifier import DEFAULT_VERIFIER
from hybrid_ai.evaluation import sweep
from hybrid_ai.grading.graders import final_number, numeric
from hybrid_ai.policy import load_policy

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts" / "corpus"))
from corpus_families import _CITIES, _FIRST, _LAST, _MONTHS  # noqa: E402

_LABELS = (("positive", "negative"), ("fruit", "vegetable"), ("French", "Spanish", "German", "Italian"))
_DATE = re.compile(rf"\b\d{{1,2}} (?:{'|'.join(_MONTHS)}) \d{{4}}\b")


def _words(text: str, words) -> set[str]:
    return {w for w in words if re.search(rf"\b{re.escape(w)}\b", text, re.I)}


def _is_numeric(family: str, standin: str) -> bool:
    if family in ("arithmetic", "percent", "conversion", "reading"):
        return True
    if family == "comparison":
        return "," not in standin  # largest / smallest; a sorted list stays a regex
    if family == "strings":
        return standin.endswith(("letters.", "words."))
    return family == "dates" and standin.endswith(" days.")


def strict(row: dict) -> float:
    """The stricter grade of a corpus row's local answer (the row's own grade where no stricter rule applies)."""
    lenient, family = row["local"]["quality"], family_of(row)
    answer, standin = row["local"].get("answer") or "", row["cloud"].get("answer") or ""
    if family in ("gsm8k", "mmlu") or not standin:
        return lenient
    if lenient < 1:  # stricter only: nothing the corpus grader failed passes here
        return lenient
    if _is_numeric(family, standin):
        return numeric(answer, final_number(standin))
    if family == "extraction":
        ref = standin.strip()
        if ref in _CITIES:
            return float(_words(answer, _CITIES) == {ref})
        if _DATE.fullmatch(ref):
            return float({d.casefold() for d in _DATE.findall(answer)} == {ref.casefold()})
        first, last = ref.split(" ", 1)
        return float(_words(answer, _FIRST) == {first} and _words(answer, _LAST) == {last})
    if family == "classification":
        for labels in _LABELS:
            named = _words(answer, labels)
            if named & set(labels) and any(l.casefold() in standin.casefold() for l in labels):
                return float(len(named) == 1)
    return lenient


def regraded(rows: list[dict]) -> list[dict]:
    return [{**r, "local": {**r["local"], "quality": strict(r)}} for r in rows]


def main() -> None:
    base_report, adapter_report = sys.argv[1:3]
    tuned = load_policy("cascade-adapter").classifier
    models = {"base": (scored(base_report, str(DEFAULT_VERIFIER)), load_policy("cascade").classifier),
              "adapter": (scored(adapter_report, tuned.verifier.model), tuned)}
    for name, (splits, c) in models.items():
        test = splits["test"]
        strict_test = regraded(test)
        print(f"== {name} model, test split ({len(test)} requests): local quality as graded / strict")
        fams: dict[str, list[tuple[float, float]]] = {}
        for r, s in zip(test, strict_test):
            fams.setdefault(family_of(r), []).append((r["local"]["quality"], s["local"]["quality"]))
        for fam, pairs in sorted(fams.items()):
            n = len(pairs)
            print(f"  {fam:15s} {sum(a for a, _ in pairs) / n:6.1%} -> {sum(b for _, b in pairs) / n:6.1%}  "
                  f"({sum(a != b for a, b in pairs)} of {n} regraded)")
        lenient_q = sum(r["local"]["quality"] for r in test) / len(test)
        strict_q = sum(r["local"]["quality"] for r in strict_test) / len(test)
        print(f"  all            {lenient_q:6.1%} -> {strict_q:6.1%}")
        for label, rows in (("as graded", test), ("strict", strict_test)):
            a = auroc([r["verify"] for r in rows], [r["local"]["quality"] < 1 for r in rows])
            local, _ = at_target(rows, "verify")
            oracle = 1 - sweep.baselines(rows)["oracle"].cloud_share
            print(f"  {label}: verifier AUROC {a:.3f}; local share at 95% (threshold chosen on these items) "
                  f"{local:.1%}, oracle {oracle:.1%}: {local / oracle:.0%} of it")
        for split in ("dev", "test"):
            for label, rows in (("as graded", splits[split]), ("strict", regraded(splits[split]))):
                print(f"  policy thresholds on {split} ({label}): {at(rows, c.threshold, c.verifier.threshold)}")


if __name__ == "__main__":
    main()
