"""The CTranslate2 engine with the real bundled SLM: conversion and its cache, answers, streams, cancellation,
concurrent requests batched together, log-probabilities, and every way a conversion can go wrong."""

from __future__ import annotations

import json
import threading
import time

import pytest

from conftest import user
from hybrid_ai import BackendError, HybridClient
from hybrid_ai.backends import ct2_convert
from hybrid_ai.backends.ct2_backend import CTranslate2Backend, CTranslate2Tier
from hybrid_ai.backends.transformers_backend import TransformersBackend, TransformersTier
from hybrid_ai.config import Generation
from hybrid_ai.request import parse_request

GEN = Generation(max_tokens=24)


def policy(**local) -> dict:
    return {"name": "ct2", "tiers": {"local": {"backend": "ctranslate2", "compute_type": "int8",
                                               "generation": {"max_tokens": 24}, **local}},
            "classifier": {"threshold": 1.0, "strong_tier": "local"}, "telemetry": {"sinks": []}, "fallback": {}}


@pytest.fixture(scope="module")
def int8():
    return CTranslate2Backend("local", CTranslate2Tier(compute_type="int8", generation=GEN))


def ask(text: str, **params):
    return parse_request({"messages": user(text), **params})


def test_the_client_answers_with_the_engine_and_the_record_says_which(int8):
    with HybridClient(policy()) as c:
        r = c.chat.completions.create(messages=user("What is the capital of France?"))
    assert "paris" in r.choices[0].message.content.lower()
    rec = r.hybrid.record
    assert rec.backend == "ctranslate2" and rec.quantization == "int8" and rec.route == "local"
    assert rec.completion_tokens == r.usage.completion_tokens > 0 and rec.ttft_ms > 0 and rec.cost_usd > 0


def test_log_probabilities_come_with_every_generated_token(int8):
    r = int8.complete(ask("Name a colour."), GEN)
    assert r.logprobs and all(lp <= 0 for lp in r.logprobs)
    assert len(r.logprobs) in (r.completion_tokens, r.completion_tokens - 1)  # the end token has none in the text


@pytest.mark.slow
def test_greedy_is_deterministic_and_max_tokens_and_stop_strings_hold(int8):
    story = "Tell me a long story about a dragon."
    a, b = int8.complete(ask(story), GEN), int8.complete(ask(story), GEN)
    assert a.text == b.text and a.completion_tokens == 24 and a.finish_reason == "length"
    stop = a.text.split()[4]  # a word of this machine's own answer (int8 kernels differ between CPUs)
    cut = int8.complete(ask(story, stop=[stop]), GEN)
    assert cut.text == a.text[:a.text.index(stop)].rstrip() or cut.text == a.text[:a.text.index(stop)]
    assert cut.finish_reason == "stop" and cut.completion_tokens < 24


@pytest.mark.slow
def test_float32_gives_the_same_greedy_text_as_transformers_fp32():
    ct2 = CTranslate2Backend("local", CTranslate2Tier(compute_type="float32", generation=GEN))
    hf = TransformersBackend("local", TransformersTier(quantization="none", generation=GEN))
    prompts = ["What is the capital of France?", "Name three fruits.", "Write the plural of 'mouse'."]
    assert [ct2.complete(ask(p), GEN).text for p in prompts] == [hf.complete(ask(p), GEN).text for p in prompts]


def test_a_stream_streams_and_an_abandoned_one_stops_generating(int8):
    with HybridClient(policy(generation={"max_tokens": 200})) as c:
        pieces = [ch.choices[0].delta.content for ch in c.chat.completions.create(
            messages=user("Count from 1 to 10."), max_tokens=24, stream=True) if ch.choices]
        assert len([p for p in pieces if p]) > 3
        stream = c.chat.completions.create(messages=user("Tell me a very long story."), stream=True)
        for n, _ in enumerate(stream):
            if n == 3:
                break
        t0 = time.perf_counter()
        stream.close()
        engine = c.backends["local"].loaded()
        while engine.batcher.depth and time.perf_counter() - t0 < 5:
            time.sleep(0.01)
        assert engine.batcher.depth == 0  # the batch slot was freed within a few tokens, not 200
        r = c.chat.completions.create(messages=user("Name a colour."), max_tokens=4)
        assert r.choices[0].message.content


@pytest.mark.slow
def test_concurrent_requests_are_answered_correctly_and_batched_together(int8):
    prompts = [f"What is {a} plus {a}?" for a in range(1, 9)]
    alone = {p: int8.complete(ask(p), GEN).text for p in prompts[:3]}
    got: dict = {}

    def run(p):
        got[p] = int8.complete(ask(p), GEN)

    threads = [threading.Thread(target=run, args=(p,)) for p in prompts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 8 and all(r.text and r.completion_tokens for r in got.values())
    assert max(r.info["batch_size"] for r in got.values()) > 1
    batched = int8.complete_batch([ask(p) for p in prompts[:3]], GEN)
    assert all(r.info["batch_size"] == 3 for r in batched)
    # int8 matmuls of a padded batch may round differently: most greedy answers still agree token for token
    assert sum(r.text == alone[p] for p, r in zip(prompts, batched)) >= 2


@pytest.mark.slow
def test_the_conversion_is_cached_and_a_corrupt_or_half_written_folder_is_rebuilt(int8):
    int8.warmup()
    tier = int8.tier
    folder = ct2_convert.converted(tier, "int8")
    assert ct2_convert.intact(folder)
    stamp = (folder / "model.bin").stat().st_mtime_ns
    assert ct2_convert.converted(tier, "int8") == folder and (folder / "model.bin").stat().st_mtime_ns == stamp
    with open(folder / "model.bin", "r+b") as f:  # a flipped byte: same size, other content
        f.seek(1000)
        byte = f.read(1)
        f.seek(1000)
        f.write(bytes([byte[0] ^ 0xFF]))
    assert not ct2_convert.intact(folder)
    manifest = (folder / ct2_convert.MANIFEST).read_text()
    (folder / ct2_convert.MANIFEST).unlink()  # a half-written folder has no manifest
    assert not ct2_convert.intact(folder)
    (folder / ct2_convert.MANIFEST).write_text(manifest)
    assert not ct2_convert.intact(folder)  # still the flipped byte
    assert ct2_convert.converted(tier, "int8") == folder and ct2_convert.intact(folder)  # rebuilt
    assert (folder / "model.bin").stat().st_mtime_ns != stamp


def test_a_model_ctranslate2_cannot_convert_is_a_clear_error_naming_it(tmp_path):
    bad = tmp_path / "weird-model"
    bad.mkdir()
    (bad / "config.json").write_text(json.dumps({"model_type": "no-such-architecture",
                                                 "architectures": ["NoSuchForCausalLM"]}))
    backend = CTranslate2Backend("local", CTranslate2Tier(model=str(bad), compute_type="int8"))
    with pytest.raises(BackendError) as e:
        backend.warmup()
    assert "weird-model" in str(e.value) and e.value.kind == "load" and e.value.tier == "local"
    with HybridClient({**policy(model=str(bad)), "tiers": {
            "local": {"backend": "ctranslate2", "model": str(bad)},
            "cloud": {"backend": "transformers", "generation": {"max_tokens": 4}}},
            "classifier": {"threshold": 1.0}, "fallback": {"local": ["cloud"]}}) as c:
        r = c.chat.completions.create(messages=user("Name a colour."))
    assert r.hybrid.record.route == "cloud" and "weird-model" in r.hybrid.record.fallback_reason


def test_the_kind_is_registered_and_auto_builds_ctranslate2_on_a_machine_without_cuda():
    from hybrid_ai.backends.registry import build_backend, kind_names

    assert "ctranslate2" in kind_names()
    backend = build_backend("local", CTranslate2Tier())
    assert isinstance(backend, CTranslate2Backend) and backend.describe()["compute_type"] == "auto"
    assert backend.ready() == (True, None)
