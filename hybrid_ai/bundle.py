"""Versioned policy bundles: what is served, and one step to change it or take it back.

    BUNDLE_DIR/v1/policy.yaml     a version: its policy and what the policy names by relative path (an adapter,
    BUNDLE_DIR/v1/card.json       a router, a verifier), and its card (where it came from, how it was judged)
    BUNDLE_DIR/v2/...
    BUNDLE_DIR/current -> v2      a relative symlink, replaced atomically: `current/policy.yaml` is what is served
    BUNDLE_DIR/history.json       the versions made current, in order (what `rollback` goes back to)

`hybrid-ai serve --bundle DIR` serves `DIR/current/policy.yaml` and reloads it on SIGHUP or `POST /admin/reload`;
`hybrid-ai promote DIR/vN` and `hybrid-ai rollback DIR` move the pointer."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from .errors import HybridAIError

CURRENT = "current"
POLICY = "policy.yaml"
_VERSION = re.compile(r"^v(\d+)$")


def versions(root: str | Path) -> list[Path]:
    """The bundle's version folders, oldest first."""
    root = Path(root)
    found = [(int(m.group(1)), p) for p in root.iterdir() if p.is_dir() and not p.is_symlink()
             and (m := _VERSION.match(p.name))] if root.is_dir() else []
    return [p for _, p in sorted(found)]


def next_version(root: str | Path) -> Path:
    """Where the next version goes: `v<highest + 1>` (v1 in a new bundle)."""
    have = versions(root)
    return Path(root) / f"v{int(have[-1].name[1:]) + 1 if have else 1}"


def current(root: str | Path) -> Path | None:
    """The version `current` points to, or None before the first promotion."""
    link = Path(root) / CURRENT
    if not link.is_symlink():
        return None
    return (Path(root) / os.readlink(link)).resolve()


def policy_path(root: str | Path) -> Path:
    """`root/current/policy.yaml`; a clear error where the bundle has no current version."""
    root = Path(root)
    if not root.is_dir():
        raise HybridAIError(f"{root}: no such bundle folder")
    if current(root) is None:
        raise HybridAIError(f"{root}: the bundle has no `current` version yet (no candidate was promoted; "
                            f"versions: {', '.join(p.name for p in versions(root)) or 'none'})")
    return root / CURRENT / POLICY


def served_policy_file(root: str | Path) -> Path:
    """The current version's policy file, resolved: a client loaded from it keeps reading that version's files even
    after `current` moves on (until it is reloaded)."""
    policy_path(root)
    version = current(root)
    assert version is not None
    return version / POLICY


def _history(root: Path) -> list[str]:
    try:
        got = json.loads((root / "history.json").read_text())
        return [str(v) for v in got] if isinstance(got, list) else []
    except (OSError, ValueError):
        return []


def _write_json(path: Path, value) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(value, indent=2) + "\n")
    os.replace(tmp, path)


def _point(root: Path, version: Path) -> None:
    """`current` -> version, in one rename (a reader sees the old target or the new one, never neither)."""
    tmp = root / f".{CURRENT}.{os.getpid()}.tmp"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(version.name, tmp)
    os.replace(tmp, root / CURRENT)


def promote(version: str | Path) -> Path:
    """Make a version folder the bundle's current one (its policy must load); returns the version."""
    from .policy import load_policy

    version = Path(version).resolve()
    if not _VERSION.match(version.name) or not (version / POLICY).is_file():
        raise HybridAIError(f"{version}: not a bundle version (a folder vN with a {POLICY})")
    load_policy(str(version / POLICY))  # a broken policy is never served
    root = version.parent
    if current(root) == version:
        return version
    _point(root, version)
    _write_json(root / "history.json", [*_history(root), version.name])
    return version


def rollback(root: str | Path) -> Path:
    """Point `current` back to the version that was current before it; returns that version."""
    root = Path(root).resolve()
    history = _history(root)
    now = current(root)
    if now is None or len(history) < 2:
        raise HybridAIError(f"{root}: nothing to roll back to (history: {', '.join(history) or 'empty'})")
    back = root / history[-2]
    if not (back / POLICY).is_file():
        raise HybridAIError(f"{back}: the previous version is gone")
    _point(root, back)
    _write_json(root / "history.json", history[:-1])
    return back
