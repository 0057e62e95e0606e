"""Admission counters: reserve a request's share of every limit at once, or none of it; adjust to the actual
amount when it ends (reserve-then-settle). Two backends with the same semantics:

- `RedisCounters`: one Lua script per admission, so replicas sharing a Redis can never pass a cap together.
- `LocalCounters`: the same in this process (a lock): exact for one process, per process for several.

A check is (kind, key, cap, amount):
- `sum`: a running total (USD per day or month) that `amount` may not take past `cap`;
- `count`: requests in the last 60 s (a sliding window, exact), at most `cap`;
- `tokens`: the sum of `amount`s in the last 60 s (one bucket per second), at most `cap`.
A refusal says which check refused and after how many milliseconds it would have room (`retry_ms`)."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass

WINDOW_MS = 60_000


@dataclass(frozen=True)
class Check:
    kind: str  # sum | count | tokens
    key: str
    cap: float
    amount: float
    ttl_s: int = 120  # how long a `sum` key lives after its last change (its day or month, and a margin)


@dataclass(frozen=True)
class Refused:
    index: int  # the check that refused
    retry_ms: int


RESERVE = """
local now = tonumber(ARGV[1])
local member = ARGV[2]
local n = #KEYS
local sec = math.floor(now / 1000)
for i = 1, n do
  local kind, cap, amount = ARGV[2 + 4 * i - 3], tonumber(ARGV[2 + 4 * i - 2]), tonumber(ARGV[2 + 4 * i - 1])
  local key = KEYS[i]
  if kind == 'sum' then
    local v = tonumber(redis.call('GET', key) or '0')
    if v + amount > cap + 1e-9 then
      local ttl = redis.call('PTTL', key)
      return {i, ttl > 0 and ttl or 1000}
    end
  elseif kind == 'count' then
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now - 60000)
    if redis.call('ZCARD', key) + 1 > cap then
      local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
      return {i, math.max(1, tonumber(oldest[2]) + 60000 - now)}
    end
  else
    local h = redis.call('HGETALL', key)
    local total, oldest = 0, nil
    for j = 1, #h, 2 do
      local s = tonumber(h[j])
      if s * 1000 <= now - 60000 then
        redis.call('HDEL', key, h[j])
      else
        total = total + tonumber(h[j + 1])
        if oldest == nil or s < oldest then oldest = s end
      end
    end
    if total + amount > cap then
      return {i, oldest and math.max(1, (oldest + 60) * 1000 - now) or 60000}
    end
  end
end
for i = 1, n do
  local kind, amount, ttl = ARGV[2 + 4 * i - 3], ARGV[2 + 4 * i - 1], tonumber(ARGV[2 + 4 * i])
  local key = KEYS[i]
  if kind == 'sum' then
    redis.call('INCRBYFLOAT', key, amount)
    redis.call('EXPIRE', key, ttl)
  elseif kind == 'count' then
    redis.call('ZADD', key, now, member)
    redis.call('PEXPIRE', key, 61000)
  else
    redis.call('HINCRBYFLOAT', key, sec, amount)
    redis.call('PEXPIRE', key, 61000)
  end
end
return {0, sec}
"""


class RedisCounters:
    shared = True

    def __init__(self, url: str, timeout_s: float = 0.5):
        from . import need

        redis = need("redis")
        self.errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._r = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s,
                                       health_check_interval=30)
        self._reserve = self._r.register_script(RESERVE)

    def reserve(self, checks: list[Check], member: str) -> tuple[Refused | None, int]:
        """(None, the second the tokens were counted in) when every check passed and is reserved; else the
        refusal and nothing reserved."""
        if not checks:
            return None, int(time.time())
        args: list = [int(time.time() * 1000), member]
        for c in checks:
            args += [c.kind, repr(float(c.cap)), repr(float(c.amount)), c.ttl_s]
        index, value = self._reserve(keys=[c.key for c in checks], args=args)
        return (None, int(value)) if index == 0 else (Refused(int(index) - 1, int(value)), 0)

    def adjust(self, items: list[tuple[Check, float, int]]) -> None:
        """Settle: add `delta` to each `sum` and `tokens` check (the latter in the second it was reserved in)."""
        pipe = self._r.pipeline(transaction=False)
        for check, delta, sec in items:
            if not delta or check.kind == "count":
                continue
            if check.kind == "sum":
                pipe.incrbyfloat(check.key, delta)
            else:
                pipe.hincrbyfloat(check.key, str(sec), delta)
        pipe.execute()

    def seed(self, key: str, value: float, ttl_s: int) -> None:
        """Start a `sum` at `value` unless it already runs (the spend kept in the route log, after a restart)."""
        self._r.set(key, repr(float(value)), nx=True, ex=ttl_s)

    def close(self) -> None:
        self._r.close()


class LocalCounters:
    shared = False
    errors: tuple[type[BaseException], ...] = ()

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sums: dict[str, float] = {}
        self._times: dict[str, deque[float]] = {}
        self._tokens: dict[str, dict[int, float]] = {}

    def _room(self, c: Check, now_ms: float) -> int | None:
        """None when the check passes, else the milliseconds until it would."""
        if c.kind == "sum":
            return None if self._sums.get(c.key, 0.0) + c.amount <= c.cap + 1e-9 else _to_midnight_ms()
        if c.kind == "count":
            q = self._times.setdefault(c.key, deque())
            while q and q[0] <= now_ms - WINDOW_MS:
                q.popleft()
            return None if len(q) + 1 <= c.cap else max(1, int(q[0] + WINDOW_MS - now_ms))
        buckets = self._tokens.setdefault(c.key, {})
        for s in [s for s in buckets if s * 1000 <= now_ms - WINDOW_MS]:
            del buckets[s]
        if sum(buckets.values()) + c.amount <= c.cap:
            return None
        return max(1, int((min(buckets) + 60) * 1000 - now_ms)) if buckets else WINDOW_MS

    def reserve(self, checks: list[Check], member: str) -> tuple[Refused | None, int]:
        now_ms = time.time() * 1000
        sec = int(now_ms // 1000)
        with self._lock:
            for i, c in enumerate(checks):
                wait = self._room(c, now_ms)
                if wait is not None:
                    return Refused(i, wait), 0
            for c in checks:
                if c.kind == "sum":
                    self._sums[c.key] = self._sums.get(c.key, 0.0) + c.amount
                elif c.kind == "count":
                    self._times[c.key].append(now_ms)
                else:
                    self._tokens[c.key][sec] = self._tokens[c.key].get(sec, 0.0) + c.amount
        return None, sec

    def adjust(self, items: list[tuple[Check, float, int]]) -> None:
        with self._lock:
            for c, delta, sec in items:
                if c.kind == "sum":
                    self._sums[c.key] = self._sums.get(c.key, 0.0) + delta
                elif c.kind == "tokens" and sec in self._tokens.get(c.key, {}):
                    self._tokens[c.key][sec] += delta

    def seed(self, key: str, value: float, ttl_s: int) -> None:
        with self._lock:
            self._sums.setdefault(key, value)

    def value(self, key: str) -> float:
        with self._lock:
            return self._sums.get(key, 0.0)

    def close(self) -> None:
        pass


def _to_midnight_ms() -> int:
    now = time.time()
    return max(1, int((math.floor(now / 86400) + 1) * 86400 * 1000 - now * 1000))
