"""`hybrid-ai eval` end to end: the real SLM answers live, the cloud tier is replayed from recordings (or live
through litellm to a real server), every threshold is swept, reports are written and the HTML is opened in a
real headless Chromium."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import hybrid_policy

from hybrid_ai.cli import main
from hybrid_ai.evaluation.cli import policy_threshold

from hybrid_ai.policy import load_policy

GPT4 = "gpt-4-1106-preview"
ITEMS = [
    {"id": "capital", "prompt": "What is the capital of France?", "reference": "Paris",
     "standin": "The capital of France is Paris.", "tags": ["fact"]},
    {"id": "pii", "prompt": "Reply to bob@example.com: what is the capital of Italy?", "reference": "Rome",
     "tags": ["personal"]},
    {"id": "math", "prompt": "What is 6 times 7?", "reference": 42, "grader": "numeric", "tags": ["math"],
     "recorded": {GPT4: {"answer": "6 x 7 = 42", "correct": True}}},
    {"id": "mcq", "prompt": "Which number is prime?\nA. 4\nB. 6\nC. 7\nD. 9\nAnswer:", "reference": "C",
     "grader": "choice", "tags": ["knowledge"], "recorded": {GPT4: {"correct": False}}},
]

def write_suite(folder: Path, items=ITEMS, **meta) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "suite.yaml").write_text(yaml.safe_dump({
        "name": "mini", "source": "written for the tests", "license": "CC0-1.0", "grader": "contains",
        "reference_is_standin": True, "max_tokens": 8, **meta}))
    (folder / "items.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items))
    return folder

def write_policy(path: Path, cloud_base: str | None = None) -> Path:
    """The bundled route-only policy with a short local answer; the cloud tier live at `cloud_base` if given,
    otherwise left to replay (its key variable is unset)."""
    data = yaml.safe_load(Path("policies/route-only.yaml").read_text())
    data["tiers"]["local"]["generation"]["max_tokens"] = 8
    if cloud_base:
        data["tiers"]["cloud"] = hybrid_policy(cloud_base)["tiers"]["cloud"]
    else:
        data["tiers"]["cloud"]["api_key_env"] = "HYBRID_AI_TEST_UNSET_KEY"
    data["telemetry"] = {"sinks": []}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path

def chromium(*args: str) -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    assert exe, "Debian's chromium is needed for the report test (apt-get install chromium; .ci/run does it)"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync"]
    r = subprocess.run([exe, *flags, *args], capture_output=True, text=True, timeout=120)
    return r.stdout

@pytest.fixture(scope="module")
def replayed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("eval")
    suite, policy = write_suite(tmp / "suite"), write_policy(tmp / "policy.yaml")
    args = ["eval", "--suite", str(suite), "--policy", str(policy), "--cache", str(tmp / "cache.db")]
    assert main([*args, "--out", str(tmp / "r1"), "--target-quality", "0.5"]) == 0
    assert main([*args, "--out", str(tmp / "r2")]) == 0  # the re-run: every answer from the cache
    return tmp, args

def report(folder: Path) -> dict:
    return json.loads((folder / "report.json").read_text())

def test_report_has_the_curve_baselines_choice_and_summary(replayed):
    tmp, _ = replayed
    r = report(tmp / "r1")
    assert {"curve", "baselines", "chosen", "summary"} <= set(r)
    assert {"all_local", "all_cloud", "random", "oracle"} <= set(r["baselines"])
    s = r["summary"]
    for k in ("quality_retention", "local_share", "cost_saving", "energy_saving"):
        assert isinstance(s[k], float) and -1 <= s[k] <= 1.5, k
    assert s["quality_retention"] >= 0.5 and r["target"] == {"target_quality": 0.5}
    assert r["chosen"]["quality"] >= 0.5 * r["baselines"]["all_cloud"]["quality"]
    assert all(p["cloud_share"] >= r["chosen"]["cloud_share"] for p in r["curve"]
               if p["quality"] >= 0.5 * r["baselines"]["all_cloud"]["quality"])  # the fewest cloud calls
    shares = [p["cloud_share"] for p in r["curve"]]
    assert shares == sorted(shares) and shares[0] == 0.0
    by_id = {i["id"]: i for i in r["items"]}
    assert by_id["mini/pii"]["forced"] == "local" and shares[-1] == 0.75  # personal data stays local in the sweep
    assert r["baselines"]["all_cloud"]["cloud_share"] == 1.0  # the baselines ignore the rules
    assert "paris" in by_id["mini/capital"]["local"]["answer"].lower()  # the real SLM answered
    assert by_id["mini/capital"]["local"]["quality"] == 1.0

def test_replay_provenance_and_costs_are_reported(replayed):
    tmp, _ = replayed
    r = report(tmp / "r1")
    cloud = r["tiers"]["cloud"]
    assert cloud["mode"] == "replay" and cloud["model"] == f"replay:{GPT4}"
    assert cloud["replayed"] == {"standin": 2, "recorded": 1, "outcome": 1} and cloud["standin_items"] == 2
    by_id = {i["id"]: i for i in r["items"]}
    assert by_id["mini/mcq"]["cloud"]["quality"] == 0.0  # the recorded outcome, not a grade of some text
    assert by_id["mini/math"]["cloud"]["quality"] == 1.0 and by_id["mini/math"]["cloud"]["replay_kind"] == "recorded"
    m = by_id["mini/math"]["cloud"]
    tier = load_policy("default").tiers["cloud"].model_copy(update={"model": GPT4})
    assert m["cost_usd"] == pytest.approx(tier.price(m["prompt_tokens"], m["completion_tokens"], 0.0, None)[0])
    assert m["energy_source"] == "ecologits" and m["energy_wh"] > 0 and m["latency_source"] == "estimated"
    md = (tmp / "r1" / "report.md").read_text()
    assert "replayed, not live" in md and "2 items were scored with their reference answer standing in" in md
    assert "router trained on these items: skipped (4 items; 5-fold training needs at least 25)" in md
    outcomes = [json.loads(x) for x in (tmp / "r1" / "outcomes.jsonl").read_text().splitlines()]
    assert len(outcomes) == 4 and {"messages", "weak_correct", "strong_correct"} <= set(outcomes[0])

def test_a_rerun_answers_from_the_cache(replayed):
    tmp, _ = replayed
    first, again = report(tmp / "r1"), report(tmp / "r2")
    assert first["tiers"]["local"]["answered"] == 4
    assert again["tiers"]["local"]["answered"] == 0 and again["tiers"]["local"]["cached"] == 4
    assert [i["local"]["answer"] for i in again["items"]] == [i["local"]["answer"] for i in first["items"]]

def rerun_with(replayed, tmp_path: Path, edit, *more: str) -> Path:
    """The fixture's eval again, on its policy changed by `edit(policy dict)`; returns the report folder."""
    _, args = replayed
    policy = yaml.safe_load(Path(args[args.index("--policy") + 1]).read_text())
    edit(policy)
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(policy))
    args = [*args, "--out", str(tmp_path / "r"), *more]
    args[args.index("--policy") + 1] = str(tmp_path / "p.yaml")
    assert main(args) == 0
    return tmp_path / "r"

@pytest.mark.slow
def test_a_local_system_prompt_is_answered_anew_not_read_from_the_cache(replayed, tmp_path):
    rerun_with(replayed, tmp_path,
               lambda p: p["tiers"]["local"].update(system_prompt="Answer the question directly. Be brief and precise."))
    local = report(tmp_path / "r")["tiers"]["local"]
    assert local["answered"] == 4 and local["cached"] == 0 and "[system prompt " in local["model"]

def test_a_cascade_policy_is_reported_by_its_own_mode(replayed, tmp_path):
    from hybrid_ai.evaluation.format import pct

    rerun_with(replayed, tmp_path, lambda p: p["classifier"].update(mode="cascade", verifier={"threshold": 0.5}),
               "--target-quality", "0.5")
    md, cas = (tmp_path / "r" / "report.md").read_text(), report(tmp_path / "r")["cascade"]["summary"]
    assert "cascade, policy now" in md and "hybrid, policy now" not in md  # route mode is not what this policy does
    assert (f"**At the chosen cascade thresholds (this policy's mode; router" in md
            and f"{pct(cas['local_share'])} of requests stay local" in md)
    assert "At the chosen cascade thresholds" in (tmp_path / "r" / "report.html").read_text()

def test_the_html_report_renders_its_plots_in_headless_chromium(replayed, tmp_path):
    tmp, _ = replayed
    page = (tmp / "r1" / "report.html").resolve()
    dom = chromium("--virtual-time-budget=5000", "--dump-dom", page.as_uri())
    assert 'data-plots-loaded="4"' in dom  # the browser decoded all four inline plots
    assert "quality retention" in dom and 'id="results"' in dom
    shot = tmp_path / "shot.png"
    chromium("--window-size=1200,1400", f"--screenshot={shot}", page.as_uri())
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[0] == 1400 and pixels.std() > 0.05  # not a blank page

@pytest.mark.slow
def test_write_policy_stores_the_chosen_threshold(replayed):
    tmp, args = replayed
    policy = tmp / "policy.yaml"
    before = policy.read_text()
    assert main([*args, "--out", str(tmp / "r3"), "--target-cloud-share", "0.5", "--write-policy"]) == 0
    chosen = report(tmp / "r3")["chosen"]
    assert chosen["cloud_share"] <= 0.5
    assert load_policy(str(policy)).classifier.threshold == policy_threshold(chosen["threshold"])
    assert len(policy.read_text().splitlines()) == len(before.splitlines())  # only the threshold line changed

def test_missing_recordings_fail_those_items_and_the_run_goes_on(replayed, capsys):
    tmp, args = replayed
    assert main([*args, "--out", str(tmp / "r4"), "--no-standins"]) == 0
    r = report(tmp / "r4")
    assert r["tiers"]["cloud"]["failed"] == 2  # the two items with nothing recorded for GPT-4
    failed = [i for i in r["items"] if i["cloud"]["error"]]
    assert all("no recorded answer" in i["cloud"]["error"] and i["cloud"]["quality"] == 0.0 for i in failed)

@pytest.mark.slow
def test_live_cloud_tier_through_litellm(upstream, cloud_key, tmp_path):
    suite = write_suite(tmp_path / "s", ITEMS[:2])
    policy = write_policy(tmp_path / "p.yaml", upstream)
    assert main(["eval", "--suite", str(suite), "--policy", str(policy), "--cache", str(tmp_path / "c.db"),
                 "--out", str(tmp_path / "r")]) == 0
    r = report(tmp_path / "r")
    assert r["tiers"]["cloud"]["mode"] == "live" and r["tiers"]["cloud"]["answered"] == 2
    assert all(i["cloud"]["backend"] == "litellm" and i["cloud"]["latency_source"] == "measured" for i in r["items"])
    assert all(i["cloud"]["cost_source"] == "litellm_price_table" for i in r["items"])
    # later, offline: the answers that live run cached are replayed, with their provenance
    assert main(["eval", "--suite", str(suite), "--policy", str(policy), "--cache", str(tmp_path / "c.db"),
                 "--out", str(tmp_path / "offline"), "--cloud", "replay", "--replay-model", "openai/gpt-4o-mini",
                 "--no-standins"]) == 0
    off = report(tmp_path / "offline")
    assert off["tiers"]["cloud"]["mode"] == "replay" and off["tiers"]["cloud"]["replayed"] == {"eval_cache": 2}
    assert [i["cloud"]["answer"] for i in off["items"]] == [i["cloud"]["answer"] for i in r["items"]]
    assert all("eval answer cache" in i["cloud"]["provenance"] for i in off["items"])

@pytest.mark.parametrize("args, message", [
    (["--suite", "no-such-suite"], "no suite 'no-such-suite'"),
    (["--write-policy"], "--write-policy needs --policy FILE"),
])
def test_bad_arguments_are_clean_errors(args, message, capsys):
    assert main(["eval", *args]) == 2
    assert message in capsys.readouterr().err

def test_a_malformed_suite_names_line_and_field(tmp_path, capsys):
    suite = write_suite(tmp_path / "s", [ITEMS[0], {"id": "x", "prompt": "hi"}])
    assert main(["eval", "--suite", str(suite), "--cache", str(tmp_path / "c.db")]) == 2
    err = capsys.readouterr().err
    assert "items.jsonl line 2" in err and "'reference'" in err

def test_judge_items_need_the_judge_flag(tmp_path, capsys):
    suite = write_suite(tmp_path / "s", [{**ITEMS[0], "grader": "judge"}])
    assert main(["eval", "--suite", str(suite), "--cache", str(tmp_path / "c.db")]) == 2
    assert "pass --judge" in capsys.readouterr().err

def test_outcomes_are_router_training_data(replayed):
    """The loop after fine-tuning: an eval's outcomes.jsonl is what `hybrid-ai router train --data` reads."""
    from hybrid_ai.learning.data import load_outcomes

    tmp, _ = replayed
    rows = load_outcomes(tmp / "r1" / "outcomes.jsonl")
    items = {i["id"]: i for i in report(tmp / "r1")["items"]}
    assert [(o.weak, o.strong) for o in rows] == [(i["local"]["quality"], i["cloud"]["quality"]) for i in items.values()]
    assert rows[0].prompt == "What is the capital of France?"
