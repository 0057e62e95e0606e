"""The package's layout holds: no module imports itself back through others (no import circles, lazy imports
included), and no module imports from a layer above its own (docs/architecture.md draws the layers)."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "hybrid_ai"
LAYERS = [  # lowest first; a module belongs to the longest prefix listed
    ("foundation", ["errors", "types", "jsonl", "fastjson", "references", "embeddings", "sized_cache", "offload", "request",
                    "tooling", "config", "stream",
                    "response", "privacy.pii", "privacy.redact", "privacy", "reporting", "grading", "telemetry.cost",
                    "telemetry.energy", "telemetry.caller", "store"]),
    ("engines", ["policy", "backends", "telemetry", "store.pg_sink"]),
    ("decisions and learning", ["routing", "privacy.masking", "checks", "learning", "store.limits"]),
    ("client", ["client", "chunking", "turn", "canary"]),
    ("offline tools", ["evaluation", "finetune", "bundle", "improve"]),
    ("adapters", ["serving", "integrations", "cli", "__init__", ""]),
]


def modules() -> dict[str, Path]:
    out = {}
    for p in PKG.rglob("*.py"):
        parts = list(p.relative_to(PKG).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


def imports(mods: dict[str, Path]) -> dict[str, set[str]]:
    """Each module's imports of the package's modules, wherever they are (type-checking imports aside)."""
    edges: dict[str, set[str]] = {m: set() for m in mods}
    for mod, path in mods.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(
            node.test) for n in ast.walk(node)}
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".") if package else []
                    base = base[: len(base) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                elif (node.module or "").startswith("hybrid_ai"):
                    target = node.module.removeprefix("hybrid_ai").lstrip(".")
                else:
                    continue
                subs = [f"{target}.{a.name}".lstrip(".") for a in node.names if f"{target}.{a.name}".lstrip(".") in mods]
                edges[mod].update(subs or ([target] if target in mods else []))
            elif isinstance(node, ast.Import):
                edges[mod].update(a.name.removeprefix("hybrid_ai.") for a in node.names
                                  if a.name.removeprefix("hybrid_ai.") in mods)
        edges[mod].discard(mod)
    return edges


def layer(mod: str) -> int:
    best, found = -1, None
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if (mod == p or mod.startswith(p + ".") or p == "") and len(p) > best:
                best, found = len(p), i
    assert found is not None, mod
    return found


def test_no_module_imports_itself_back():
    edges = imports(modules())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                circles.append(sorted(comp))

    for v in edges:
        if v not in index:
            visit(v)
    assert circles == []


def test_no_module_imports_from_a_layer_above_its_own():
    edges = imports(modules())
    upward = [f"{a} ({LAYERS[layer(a)][0]}) -> {b} ({LAYERS[layer(b)][0]})"
              for a, targets in sorted(edges.items()) for b in sorted(targets) if layer(b) > layer(a)]
    assert upward == []
