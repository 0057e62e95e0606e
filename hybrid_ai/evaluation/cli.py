"""`hybrid-ai eval`: run an eval with a rich progress bar, write the reports, print the summary, and optionally
store the chosen threshold in the policy file."""

from __future__ import annotations

import math
import time
from pathlib import Path

from ..errors import HybridAIError
from .evaluate import EvalConfig, run_eval


def policy_threshold(threshold: float | None) -> float:
    """A sweep threshold as written into a policy: rounded down to 6 decimals so that every item the sweep sent to
    the cloud still is; the all-local point (+inf) becomes 1.0."""
    if threshold is None or math.isinf(threshold):
        return 1.0
    return math.floor(threshold * 1e6) / 1e6


def writable_policy(policy: str | None) -> Path:
    if policy is None or not (Path(policy).suffix in (".yaml", ".yml") and Path(policy).exists()):
        raise HybridAIError("--write-policy needs --policy FILE (a policy file of yours; a bundled policy is not "
                            "edited in place: copy it first, e.g. cp policies/default.yaml my-policy.yaml)")
    return Path(policy)


def main(cfg: EvalConfig, out: Path, write_policy: bool = False) -> int:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from .report import print_summary, write

    target = writable_policy(cfg.policy) if write_policy else None
    console = Console(stderr=True)
    t0 = time.perf_counter()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("left"), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        result = run_eval(cfg, progress)
    result["wall_s"] = time.perf_counter() - t0
    paths = write(result, out)
    print_summary(result, paths, Console())
    if target is not None:
        from ..learning.calibrate import write_threshold, write_verify_threshold

        cascade = result["policy"]["mode"] == "cascade"
        chosen = (result["cascade"] or {}).get("chosen") if cascade else result["chosen"]
        if chosen is None:
            raise HybridAIError(f"no threshold meets the target; {target} is unchanged")
        value = policy_threshold(chosen["threshold"])
        write_threshold(target, value)
        Console().print(f"wrote classifier.threshold: {value} into {target}")
        if cascade:
            verify = policy_threshold(chosen["verify_threshold"])
            write_verify_threshold(target, verify)
            Console().print(f"wrote classifier.verifier.threshold: {verify} into {target}")
    return 0
