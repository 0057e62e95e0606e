"""Can the shipped SLM answer `response_format` requests? How often its answer is valid JSON, valid under the
request's schema, and right, and how long it takes: for the prompt as the caller wrote it (what hybrid-ai sends to
the local tier) against the same prompt with a format instruction added as a system message (tried and rejected:
it makes this model worse), in the same run.

    .venv/bin/python benchmarks/structured_output.py [--n 40] [--engine ctranslate2|transformers]

The requests are extractions with exact answers ("Extract the name and age ... as JSON"), generated here from a
fixed seed, checked as `json_object` and as `json_schema` (an object with `name` string and `age` integer, both
required). A local answer that fails the check is escalated to the next tier in a hybrid policy, so the valid share
is the share of such requests the local tier keeps."""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time

from rich.progress import track

from hybrid_ai import HybridClient
from hybrid_ai.checks.structured import problem, unfenced

NAMES = ["Maria", "Tom", "Aiko", "Lars", "Fatima", "Diego", "Chen", "Olga", "Kwame", "Ines", "Ravi", "Nora"]
CITIES = ["Oslo", "Lima", "Kyoto", "Accra", "Porto", "Pune", "Graz", "Hanoi"]
SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
          "required": ["name", "age"]}
FORMATS = {"json_object": {"type": "json_object"},
           "json_schema": {"type": "json_schema", "json_schema": {"name": "person", "schema": SCHEMA}}}


def items(n: int) -> list[tuple[str, str, int]]:
    rng = random.Random(7)
    out = []
    for _ in range(n):
        name, age, city = rng.choice(NAMES), rng.randint(18, 90), rng.choice(CITIES)
        text = f"{name} is {age} years old and lives in {city}."
        out.append((f"Extract the person's name and age from this text as JSON with keys \"name\" and \"age\": "
                    f"{text}", name, age))
    return out


INSTRUCTION = ("Answer with one JSON object that is valid under this JSON Schema: " + json.dumps(SCHEMA) +
               ". Nothing else: no explanation, no Markdown.")


def run(client, prompts, instructed: bool) -> dict:
    valid = schema_ok = right = 0
    times = []
    for prompt, name, age in track(prompts, description="instructed" if instructed else "as asked"):
        system = [{"role": "system", "content": INSTRUCTION}] if instructed else []
        params = {"messages": [*system, {"role": "user", "content": prompt}], "max_tokens": 48,
                  "response_format": FORMATS["json_schema"]}
        t0 = time.perf_counter()
        text = unfenced(client.chat.completions.create(**params).choices[0].message.content or "")
        times.append(time.perf_counter() - t0)
        if problem(text, {"type": "json_object"}) is None:
            valid += 1
            schema_ok += problem(text, FORMATS["json_schema"]) is None
            value = json.loads(text)
            right += str(value.get("name", "")).strip() == name and str(value.get("age", "")).strip() == str(age)
    n = len(prompts)
    return {"valid_json": valid / n, "schema_valid": schema_ok / n, "right": right / n,
            "median_s": statistics.median(times)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--engine", default="ctranslate2", choices=["ctranslate2", "transformers"])
    args = ap.parse_args()
    policy = {"name": "json-bench", "tiers": {"local": {
        "backend": args.engine, "supports": ["json_object", "json_schema"],
        "generation": {"max_tokens": 48, "temperature": 0.0, "repetition_penalty": 1.1}}},
        "classifier": {"threshold": 1.0, "strong_tier": "local"}, "fallback": {}, "telemetry": {"sinks": []}}
    client = HybridClient(policy)  # one tier: nothing is escalated, so every raw answer is seen
    client.warmup()
    prompts = items(args.n)
    print(f"{args.n} extraction requests, SmolLM2-135M on {args.engine}, greedy, max_tokens 48")
    print(f"{'prompt':<36}{'valid JSON':>12}{'schema-valid':>14}{'right':>8}{'median s':>10}")
    for label, instructed in (("as the caller wrote it (sent)", False), ("with a format instruction (rejected)", True)):
        r = run(client, prompts, instructed)
        print(f"{label:<36}{r['valid_json']:>12.0%}{r['schema_valid']:>14.0%}{r['right']:>8.0%}{r['median_s']:>10.2f}")

if __name__ == "__main__":
    main()
