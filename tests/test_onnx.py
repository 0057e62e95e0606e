"""The ONNX Runtime GenAI engine with the real bundled SLM: conversion and its cache, answers, streams,
cancellation, concurrent requests, log-probabilities, sampling, the prompt prefix cache, and every way a conversion
can go wrong."""

from __future__ import annotations

import json
import threading
import time

import pytest

from conftest import hybrid_policy, user
from hybrid_ai import BackendError, HybridClient
from hybrid_ai.backends import onnx_convert
from hybrid_ai.backends.onnx_backend import OnnxBackend, OnnxTier
from hybrid_ai.backends.transformers_backend import TransformersBackend, TransformersTier
from hybrid_ai.config import Generation
from hybrid_ai.request import parse_request

GEN = Generation(max_tokens=24)


def policy(**local) -> dict:
    return {"name": "onnx", "tiers": {"local": {"backend": "onnxruntime", "generation": {"max_tokens": 24},
                                                **local}},
            "classifier": {"threshold": 1.0, "strong_tier": "local"}, "telemetry": {"sinks": []}, "fallback": {}}


@pytest.fixture(scope="module")
def int8():
    return OnnxBackend("local", OnnxTier(generation=GEN))  # auto: int8 on the CPU


def ask(text: str, **params):
    return parse_request({"messages": user(text), **params})


def test_the_client_answers_with_the_engine_and_the_record_says_which(int8):
    with HybridClient(policy()) as c:
        r = c.chat.completions.create(messages=user("Name three fruits."))
    assert {"banana", "orange", "apple", "grape"} & set(r.choices[0].message.content.lower().replace(".", " ")
                                                         .replace("s\n", " ").split())
    rec = r.hybrid.record
    assert rec.backend == "onnxruntime" and rec.quantization == "int8" and rec.route == "local"
    assert rec.completion_tokens == r.usage.completion_tokens > 0 and rec.ttft_ms > 0 and rec.cost_usd > 0


def test_each_token_comes_with_its_own_log_probability_and_alternatives(int8):
    r = int8.complete(ask("Name a colour.", logprobs=True, top_logprobs=3), GEN)
    assert r.logprobs and all(lp <= 0 for lp in r.logprobs) and len(r.token_logprobs) == len(r.logprobs)
    for entry in r.token_logprobs:  # greedy: the chosen token is the most likely one at its own step
        assert len(entry["top_logprobs"]) == 3 and entry["top_logprobs"][0]["token"] == entry["token"]
        assert entry["top_logprobs"][0]["logprob"] == pytest.approx(entry["logprob"])
        assert entry["top_logprobs"][0]["logprob"] >= entry["top_logprobs"][1]["logprob"]
    assert "".join(e["token"] for e in r.token_logprobs).strip() == r.text


def test_greedy_is_deterministic_and_max_tokens_and_stop_strings_hold(int8):
    story = "Tell me a long story about a dragon."
    a, b = int8.complete(ask(story), GEN), int8.complete(ask(story), GEN)
    assert a.text == b.text and a.completion_tokens == 24 and a.finish_reason == "length"
    stop = a.text.split()[4]  # a word of this machine's own answer (int8 kernels differ between CPUs)
    cut = int8.complete(ask(story, stop=[stop]), GEN)
    assert cut.text == a.text[:a.text.index(stop)].rstrip() or cut.text == a.text[:a.text.index(stop)]
    assert cut.finish_reason == "stop" and cut.completion_tokens < 24


@pytest.mark.slow
def test_sampling_follows_the_seed(int8):
    hot = Generation(max_tokens=16, temperature=1.0)
    same = [int8.complete(ask("Tell me a joke.", seed=7), hot).text for _ in range(2)]
    others = {int8.complete(ask("Tell me a joke.", seed=s), hot).text for s in (1, 2, 3)}
    assert same[0] == same[1] and len(others | {same[0]}) > 1


@pytest.mark.slow
def test_fp32_gives_the_same_greedy_text_as_transformers_fp32_and_int4_answers():
    onnx = OnnxBackend("local", OnnxTier(precision="fp32", generation=GEN))
    hf = TransformersBackend("local", TransformersTier(quantization="none", generation=GEN))
    prompts = ["What is the capital of France?", "Name three fruits.", "Write the plural of 'mouse'."]
    assert [onnx.complete(ask(p), GEN).text for p in prompts] == [hf.complete(ask(p), GEN).text for p in prompts]
    int4 = OnnxBackend("local", OnnxTier(precision="int4", generation=GEN)).complete(ask(prompts[0]), GEN)
    assert "paris" in int4.text.lower() and int4.info["quantization"] == "int4"


def test_a_stream_streams_and_an_abandoned_one_stops_generating(int8):
    with HybridClient(policy(generation={"max_tokens": 400})) as c:
        pieces = [ch.choices[0].delta.content for ch in c.chat.completions.create(
            messages=user("Count from 1 to 10."), max_tokens=24, stream=True) if ch.choices]
        assert len([p for p in pieces if p]) > 3
        stream = c.chat.completions.create(messages=user("Tell me a very long story."), stream=True)
        for n, _ in enumerate(stream):
            if n == 3:
                break
        engine = c.backends["local"].loaded()
        assert engine.running == 1
        t0 = time.perf_counter()
        stream.close()
        while engine.running and time.perf_counter() - t0 < 5:
            time.sleep(0.01)
        assert engine.running == 0 and time.perf_counter() - t0 < 2  # stopped within a few tokens, not 400
        r = c.chat.completions.create(messages=user("Name a colour."), max_tokens=4)
        assert r.choices[0].message.content


@pytest.mark.slow
def test_concurrent_requests_get_the_answers_they_get_alone(int8):
    prompts = [f"What is {a} plus {a}?" for a in range(1, 7)]
    alone = {p: int8.complete(ask(p), GEN).text for p in prompts}
    got: dict = {}

    def run(p):
        got[p] = int8.complete(ask(p), GEN).text

    threads = [threading.Thread(target=run, args=(p,)) for p in prompts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == alone and all(alone.values())
    assert int8.complete_batch([ask(p) for p in prompts[:2]], GEN)[1].text == alone[prompts[1]]


def test_greedy_requests_reuse_the_template_prefix_and_get_the_same_text_without_it(int8):
    prefix = int8.loaded().prefix
    assert len(prefix.prefix) >= 8  # SmolLM2's default system prompt and the user header
    warm = int8.complete(ask("Name two rivers."), GEN)
    assert warm.info["cached_prompt_tokens"] == len(prefix.prefix) and warm.prompt_tokens > len(prefix.prefix)
    stream = int8._run(ask("Tell me a long story."), GEN)  # holds the warm generator while it is read
    next(stream)
    busy = int8.complete(ask("Name two rivers."), GEN)  # a fresh generator, the same two chunks
    assert busy.info["cached_prompt_tokens"] == 0 and busy.text == warm.text and busy.logprobs == pytest.approx(
        warm.logprobs, abs=1e-4)
    stream.close()  # abandoned: the warm generator is rewound and kept
    again = int8.complete(ask("Name two rivers."), GEN)
    assert again.info["cached_prompt_tokens"] == len(prefix.prefix) and again.text == warm.text


def test_requests_the_prefix_cannot_serve_compute_their_whole_prompt(int8):
    own_system = parse_request({"messages": [{"role": "system", "content": "Answer in French."},
                                             *user("Name a colour.")]})
    assert int8.complete(own_system, GEN).info["cached_prompt_tokens"] == 0
    sampled = int8.complete(ask("Tell me a joke.", seed=3), Generation(max_tokens=8, temperature=1.0))
    assert sampled.info["cached_prompt_tokens"] == 0 and sampled.text
    lm = int8.loaded()
    ids = lm.tokenizer.apply_chat_template(user("Hi"), add_generation_prompt=True, tokenize=True,
                                           return_dict=True)["input_ids"]
    with lm.prefix.generator({"max_length": 4096, "do_sample": False}, ids) as (gen, cached):  # over the buffer
        assert cached == 0 and gen.token_count() == len(ids)


def test_the_tiers_system_prompt_is_what_a_request_without_one_gets_and_the_prefix_cache_holds_it(int8):
    system = "Answer the question directly. Be brief and precise."
    tier = OnnxBackend("local", OnnxTier(generation=GEN, system_prompt=system))
    plain = tier.complete(ask("What is the capital of Italy?"), GEN)
    explicit = parse_request({"messages": [{"role": "system", "content": system}, *user("What is the capital of Italy?")]})
    assert plain.prompt_tokens == int8.complete(explicit, GEN).prompt_tokens  # the tokens of that system message
    # the cached opening is the tier's system prompt and the user header, not the template default's
    prefix = tier.loaded().prefix.prefix
    assert plain.info["cached_prompt_tokens"] == len(prefix) >= 8 and prefix != int8.loaded().prefix.prefix
    assert system in tier.loaded().tokenizer.decode(prefix)
    own = parse_request({"messages": [{"role": "system", "content": "Answer in French."}, *user("Name a colour.")]})
    mine, theirs = tier.complete(own, GEN), int8.complete(own, GEN)  # a request's own system message wins
    assert (mine.text, mine.prompt_tokens) == (theirs.text, theirs.prompt_tokens)


def test_a_failed_generation_drops_its_warm_generator_and_the_next_request_builds_one(int8):
    lm = int8.loaded()
    int8.complete(ask("Hi"), GEN)
    ids = lm.tokenizer.apply_chat_template(user("Hi"), add_generation_prompt=True, tokenize=True,
                                           return_dict=True)["input_ids"]
    options = {"max_length": 64, "do_sample": False}
    with pytest.raises(RuntimeError, match="engine broke"):
        with lm.prefix.generator(options, ids) as (gen, cached):
            assert cached == len(lm.prefix.prefix) and gen.token_count() == len(ids)
            raise RuntimeError("engine broke")
    assert lm.prefix._warm.get((None,)) is None
    assert int8.complete(ask("Hi"), GEN).info["cached_prompt_tokens"] == len(lm.prefix.prefix)


def test_the_response_reports_the_cached_prompt_tokens_as_openai_does():
    with HybridClient(policy()) as c:
        r = c.chat.completions.create(messages=user("Name a fruit."))
    assert r.usage.prompt_tokens_details.cached_tokens > 0
    assert r.usage.prompt_tokens > r.usage.prompt_tokens_details.cached_tokens


@pytest.mark.slow
def test_the_conversion_is_cached_and_a_corrupt_or_half_written_folder_is_rebuilt(int8):
    int8.warmup()
    folder = onnx_convert.converted(int8.tier, "int8")
    weights = folder / "model.onnx.data"
    assert onnx_convert.intact(folder)
    stamp = weights.stat().st_mtime_ns
    assert onnx_convert.converted(int8.tier, "int8") == folder and weights.stat().st_mtime_ns == stamp
    with open(weights, "r+b") as f:  # a flipped byte: same size, other content
        f.seek(1000)
        byte = f.read(1)
        f.seek(1000)
        f.write(bytes([byte[0] ^ 0xFF]))
    assert not onnx_convert.intact(folder)
    (folder / onnx_convert.MANIFEST).unlink()  # a half-written folder has no manifest
    assert not onnx_convert.intact(folder)
    assert onnx_convert.converted(int8.tier, "int8") == folder and onnx_convert.intact(folder)  # rebuilt
    assert weights.stat().st_mtime_ns != stamp


@pytest.mark.slow
def test_a_model_the_builder_cannot_convert_is_a_clear_error_naming_it(tmp_path, monkeypatch, upstream, cloud_key):
    monkeypatch.setenv("HYBRID_AI_CACHE", str(tmp_path / "cache"))
    bad = tmp_path / "weird-model"
    bad.mkdir()
    (bad / "config.json").write_text(json.dumps({"model_type": "no-such-architecture",
                                                 "architectures": ["NoSuchForCausalLM"]}))
    with pytest.raises(BackendError) as e:
        OnnxBackend("local", OnnxTier(model=str(bad))).warmup()
    assert "weird-model" in str(e.value) and e.value.kind == "load" and e.value.tier == "local"
    assert "no-such-architecture" in str(e.value) and "Traceback" not in str(e.value)
    assert [p.name for p in (tmp_path / "cache" / "models" / "onnx").iterdir()] == []
    with HybridClient({**policy(model=str(bad)), "tiers": {
            "local": {"backend": "onnxruntime", "model": str(bad)},
            "cloud": hybrid_policy(upstream)["tiers"]["cloud"]},
            "classifier": {"threshold": 1.0}, "fallback": {"local": ["cloud"]}}) as c:
        r = c.chat.completions.create(messages=user("Name a colour."))
    assert r.hybrid.record.route == "cloud" and "weird-model" in r.hybrid.record.fallback_reason


def test_the_kind_is_registered_and_auto_builds_onnxruntime_on_a_machine_without_cuda():
    from hybrid_ai.backends.registry import build_backend, kind_names

    assert "onnxruntime" in kind_names()
    backend = build_backend("local", OnnxTier())
    assert isinstance(backend, OnnxBackend) and backend.describe()["precision"] == "auto"
    assert backend.ready() == (True, None)
    with pytest.raises(BackendError, match="runs on the CPU"):
        OnnxBackend("local", OnnxTier(device="cuda")).warmup()
