"""Pick a threshold on the user's own outcome data and write it into a policy file, keeping the rest of
the file (comments, order, formatting) as it is."""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..errors import HybridAIError, PolicyError


def threshold_for_cloud_share(scores: list[float], share: float) -> float:
    """The lowest threshold that sends at most `share` of these rows to the strong tier."""
    if not 0 <= share <= 1:
        raise HybridAIError(f"--target-cloud-share must be between 0 and 1, got {share}")
    s = sorted(scores, reverse=True)
    n = len(s)
    allowed = int(share * n + 1e-9)
    if allowed >= n:
        return 0.0
    # rows with score >= t go to the cloud; t just above the (allowed+1)-th highest score
    t = s[allowed]
    return min(1.0, _next_up(t))


def threshold_for_quality(scores, weak, strong, target: float) -> tuple[float, bool]:
    """Lowest cloud share whose mixed quality reaches `target` x all-strong quality -> (threshold, reached)."""
    n = len(scores)
    goal = target * sum(strong) / n
    order = sorted(range(n), key=lambda i: -scores[i])
    quality = sum(weak) / n
    if quality >= goal:
        return min(1.0, _next_up(scores[order[0]])), True
    i = 0
    while i < n:
        t = scores[order[i]]
        while i < n and scores[order[i]] == t:  # ties move together: they share one threshold
            j = order[i]
            quality += (strong[j] - weak[j]) / n
            i += 1
        if quality >= goal - 1e-12:
            return t, True
    return min(scores), False


def _next_up(x: float) -> float:
    import math

    return math.nextafter(x, 2.0)


_INLINE = re.compile(r"^classifier:\s*\{(?P<body>.*)\}\s*(#.*)?$")


def write_threshold(path: str | Path, threshold: float) -> None:
    """Set classifier.threshold in a policy YAML file in place; the file is validated before it is replaced."""
    path = Path(path)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    value = f"{threshold:.6g}"
    idx = next((i for i, line in enumerate(lines) if re.match(r"^classifier:", line)), None)
    if idx is None:
        lines += ["\n" if lines and not lines[-1].endswith("\n") else "", f"classifier:\n  threshold: {value}\n"]
    elif m := _INLINE.match(lines[idx].rstrip("\n")):
        body = m.group("body")
        if re.search(r"\bthreshold\s*:", body):
            body = re.sub(r"(\bthreshold\s*:\s*)[^,}]+", rf"\g<1>{value}", body)
        else:
            body = f"threshold: {value}, " + body.strip()
        lines[idx] = lines[idx][: m.start("body")] + body + lines[idx][m.end("body"):]
    else:
        child = None
        for j in range(idx + 1, len(lines)):
            if lines[j].strip() and not lines[j].startswith((" ", "\t")) and not lines[j].lstrip().startswith("#"):
                break
            if re.match(r"^\s+threshold\s*:", lines[j]):
                child = j
                break
        if child is not None:
            lines[child] = re.sub(r"^(\s+threshold\s*:\s*)[^#\n]*?(\s*(#.*)?)$", rf"\g<1>{value}\g<2>",
                                  lines[child].rstrip("\n")) + "\n"
        else:
            lines.insert(idx + 1, f"  threshold: {value}\n")
    _replace_checked(path, lines, "classifier.threshold", lambda p: p.classifier.threshold, float(value))


def write_verify_threshold(path: str | Path, threshold: float) -> None:
    """Set classifier.verifier.threshold (cascade mode) in a policy file whose `classifier:` is a block, keeping
    the rest of the file; the file is validated before it is replaced."""
    path = Path(path)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    value = f"{threshold:.6g}"
    idx = next((i for i, line in enumerate(lines) if re.match(r"^classifier:\s*(#.*)?$", line)), None)
    if idx is None:
        raise PolicyError("could not set classifier.verifier.threshold: write `classifier:` as a block",
                          path=str(path))
    end = next((j for j in range(idx + 1, len(lines)) if lines[j].strip() and not lines[j].startswith((" ", "\t"))
                and not lines[j].lstrip().startswith("#")), len(lines))
    v = next((j for j in range(idx + 1, end) if re.match(r"^\s+verifier\s*:", lines[j])), None)
    if v is None:
        lines.insert(idx + 1, f"  verifier: {{threshold: {value}}}\n")
    elif "{" in lines[v]:
        body = lines[v]
        if re.search(r"\bthreshold\s*:", body):
            lines[v] = re.sub(r"(\bthreshold\s*:\s*)[^,}]+", rf"\g<1>{value}", body)
        else:
            lines[v] = body.replace("{", f"{{threshold: {value}, ", 1)
    else:
        child = next((j for j in range(v + 1, end) if re.match(r"^\s+threshold\s*:", lines[j])), None)
        if child is None:
            lines.insert(v + 1, f"    threshold: {value}\n")
        else:
            lines[child] = re.sub(r"^(\s+threshold\s*:\s*)[^#\n]*?(\s*(#.*)?)$", rf"\g<1>{value}\g<2>",
                                  lines[child].rstrip("\n")) + "\n"
    _replace_checked(path, lines, "classifier.verifier.threshold", lambda p: p.classifier.verifier.threshold,
                     float(value))


def _replace_checked(path: Path, lines: list[str], key: str, read, value: float) -> None:
    """Write `lines` over `path` only if they load as a policy with `key` == value."""
    from ..policy import load_policy

    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("".join(lines), encoding="utf-8")
    try:
        if abs(read(load_policy(tmp)) - value) > 1e-9:
            raise PolicyError(f"could not set {key} in this file's layout", path=str(path))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
