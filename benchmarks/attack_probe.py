"""The attacker's probe against `hybrid-ai serve`, as cases that count: an upstream that shows part of its key
(and one that echoes the key in its answer), personal data in every request field and in every evasive form of
benchmarks/data/pii_evasions.jsonl, pinned to the cloud or not, under a masking policy and a keep-local one,
and requests too large or too dense to scan. Counts responses >= 500 to client problems, 12-character runs of
any secret in any response, record or log, and personal values that reached the upstream.

    .venv/bin/python benchmarks/attack_probe.py        # also run at the end of benchmarks/fuzz_server.py
"""

from __future__ import annotations

import json
import re
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks" / "data"))

from doubles import FakeUpstream  # noqa: E402
from gateway import SECRET, SERVER_KEYS, Gateway  # noqa: E402
from make_pii_evasions import CARDS, EMAILS, IBANS, PHONES, rows  # noqa: E402

from hybrid_ai.privacy.pii import normalize  # noqa: E402

TOOLS = [{"type": "function", "function": {"name": "lookup", "description": "Look a thing up",
                                           "parameters": {"type": "object"}}}]
VALUES = EMAILS + PHONES + IBANS + CARDS + ["536-90-4399", "C03005988", "AB1234567"]
MASKING = [{"type": "personal_data", "mask": True}, {"type": "pinned"}, {"type": "context"}]
KEEP_LOCAL = [{"type": "personal_data"}, {"type": "pinned"}, {"type": "context"}]


def _squash(text: str) -> str:
    return re.sub(r"\W", "", normalize(text)).lower()


def raw_values(bodies: list[dict]) -> list[str]:
    """The known personal values found in what the upstream received (any case, separators or width)."""
    seen = _squash(json.dumps(bodies, ensure_ascii=False))
    return [v for v in VALUES if _squash(v) in seen]


def secret_runs(blob: str) -> int:
    return sum(blob.count(s[i:i + 12]) for s in (SECRET, *SERVER_KEYS) for i in range(len(s) - 11))


def bodies() -> list[tuple[str, dict]]:
    """(what, body) of each probe request that carries personal data."""
    out = []
    for r in rows():
        if r["personal"]:
            base = {k: r[k] for k in ("messages", "tools", "user", "stop") if k in r}
            out += [(f"{r['form']} (routed)", {**base, "max_tokens": 2}),
                    (f"{r['form']} (pinned to the cloud)", {**base, "max_tokens": 2, "route": "cloud"})]
    out.append(("199k characters with an e-mail", {"messages": [{"role": "user", "content": "mail jane.doe@example.com "
                                                                 + "word " * 39_000}], "max_tokens": 2}))
    out.append(("dense phone-shaped noise, pinned to the cloud", {"messages": [{"role": "user", "content": (
        "+999 9999999 a " * 13_000) + " ".join(f"+44 20 7946 {i:04d}" for i in range(60))}], "route": "cloud",
        "max_tokens": 2}))
    return out


def run_policy(name: str, rules: list[dict]) -> dict:
    with FakeUpstream("ok") as upstream:
        gw = Gateway(Path(tempfile.mkdtemp()), upstream, rules=rules, classifier={"threshold": 0.0})
        try:
            statuses: dict[int, int] = {}
            fives = []
            for what, body in bodies():
                r = gw.post(body)
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
                if r.status_code >= 500:
                    fives.append((what, r.status_code, r.text[:160]))
            for mode, body in (("401_partial", {"messages": [{"role": "user", "content": "x"}], "tools": TOOLS}),
                               ("echo_key", {"messages": [{"role": "user", "content": "hi"}], "route": "cloud"}),
                               ("echo_key", {"messages": [{"role": "user", "content": "hi"}], "route": "cloud",
                                             "stream": True})):
                upstream.script = [mode]
                gw.post({**body, "max_tokens": 2})
            upstream.script = ["ok"]
        finally:
            gw.close()
        time.sleep(0.2)
        logs = gw.stderr_path.read_text(errors="replace")
        dump = "\n".join(str(row) for row in sqlite3.connect(gw.db).execute("SELECT * FROM route_log"))
        replies = b"\n".join(gw.replies).decode(errors="replace")
        leaked = raw_values([q["body"] for q in upstream.requests])
    print(f"{name}: {sum(statuses.values())} requests with personal data, statuses "
          + ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items())))
    print(f"  responses >= 500 to a client problem: {len(fives)}; personal values at the upstream: {len(leaked)} "
          f"{leaked[:5]}; secret runs in responses {secret_runs(replies)}, route log {secret_runs(dump)}, "
          f"stderr {secret_runs(logs)}")
    for f in fives[:5]:
        print(f"    {f}")
    return {"fives": len(fives), "leaked": len(leaked), "secrets": secret_runs(replies + dump + logs)}


def main() -> dict:
    results = [run_policy("masking policy (cascade's rules)", MASKING),
               run_policy("keep-local policy (default's rules)", KEEP_LOCAL)]
    total = {k: sum(r[k] for r in results) for k in results[0]}
    print(f"probe in all: {total['fives']} responses >= 500 to client problems, {total['leaked']} personal values "
          f"at the upstream, {total['secrets']} secret runs in responses, records and logs")
    return total


if __name__ == "__main__":
    main()
