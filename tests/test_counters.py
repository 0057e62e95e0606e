"""Admission counters (store/counters.py): the same semantics in this process and in a real Redis."""

from __future__ import annotations

import threading

import pytest

from hybrid_ai.store.counters import Check, LocalCounters, RedisCounters


@pytest.fixture(params=["local", "redis"])
def counters(request):
    if request.param == "local":
        yield LocalCounters()
    else:
        c = RedisCounters(request.getfixturevalue("redis_url"))
        yield c
        c.close()


def test_sum_reserves_until_the_cap_then_refuses_and_settles(counters):
    cap = Check("sum", "k:usd", 10.0, 4.0)
    assert counters.reserve([cap], "a")[0] is None
    assert counters.reserve([cap], "b")[0] is None
    refused, _ = counters.reserve([cap], "c")  # 8 + 4 > 10
    assert refused is not None and refused.index == 0
    counters.adjust([(cap, -3.0, 0)])  # one request cost 1 instead of the 4 it reserved: 5 in all
    assert counters.reserve([cap], "d")[0] is None  # 5 + 4 <= 10


def test_all_or_nothing(counters):
    """A refusal by one check reserves nothing on the others."""
    rpm = Check("count", "k:rpm", 100, 1)
    usd = Check("sum", "k:usd2", 1.0, 2.0)  # can never pass
    for i in range(5):
        refused, _ = counters.reserve([rpm, usd], f"r{i}")
        assert refused is not None and refused.index == 1
    for i in range(100):  # the 5 refused did not count against the rpm
        assert counters.reserve([rpm], f"s{i}")[0] is None
    refused, _ = counters.reserve([rpm], "t")
    assert refused is not None and 0 < refused.retry_ms <= 60_000


def test_tokens_window_settles_to_actual(counters):
    tpm = Check("tokens", "k:tpm", 1000, 600)
    ok, sec = counters.reserve([tpm], "a")
    assert ok is None
    assert counters.reserve([tpm], "b")[0] is not None  # 600 + 600 > 1000
    counters.adjust([(tpm, -500, sec)])  # it used 100 tokens
    assert counters.reserve([tpm], "c")[0] is None  # 100 + 600


def test_concurrent_reservations_never_pass_the_cap(counters):
    cap = Check("sum", "k:conc", 50.0, 1.0)
    passed = []

    def go(i):
        for j in range(20):
            if counters.reserve([cap], f"{i}-{j}")[0] is None:
                passed.append(1)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(passed) == 50
