"""The prompt prefix cache of `backend: onnxruntime`: the chat template's fixed opening (for SmolLM2 its default
system prompt and the user header, 24 of the 31 tokens of "Hi") is computed once per model, and greedy requests
append only the rest of their prompt to a warm generator that holds it (llama.cpp's prompt cache does the same).

- The prefix is what the template gives every conversation that has no system message of its own: the common
  start of two probe conversations, used when at least `MIN_PREFIX` tokens long. A request's prompt uses it only
  when its own token ids start with it, so the cached keys and values are exactly the ones it would compute.
- The same prompt is always computed in the same chunks, [prefix][rest], whether it gets a warm generator or a
  fresh one (while the warm one is busy, for sampling, or for a prompt too long for the warm buffer): the int8
  kernels quantize each chunk's activations together, so another chunking could change a greedy token.
- One warm generator per greedy setting (its repetition penalty), used by one request at a time; after each
  request it is rewound to the prefix (`Generator.rewind_to`). Sampling requests never share one: the warm
  generator's random state would make a seeded answer depend on the requests before it.
- The warm generators' key/value buffers are sized `WARM_TOKENS` (about 92 MiB each for SmolLM2-135M in fp32).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

MIN_PREFIX = 8  # fewer shared tokens are not worth a second chunk
WARM_TOKENS = 2048  # prompt plus answer that a warm generator holds; longer requests get a fresh generator
PROBES = ("Hello there.", "What is 2+2?")  # two user messages: their common start is the template's


def probe_messages(text: str, system: str | None) -> list[dict[str, str]]:
    """A probe conversation as the tier sends it: its `system_prompt` (if any), then the user's text."""
    return [*([{"role": "system", "content": system}] if system else []), {"role": "user", "content": text}]


def template_prefix(tokenizer, system: str | None = None) -> list[int]:
    """The token ids every conversation without a system message of its own starts with (may be empty); `system`:
    the tier's system prompt, which such conversations get."""
    try:
        a, b = (tokenizer.apply_chat_template(probe_messages(p, system), add_generation_prompt=True,
                                              tokenize=True, return_dict=True)["input_ids"] for p in PROBES)
    except Exception:  # a template that needs more than a user message: no prefix, nothing lost
        return []
    n = common_prefix(list(a), list(b))
    return list(a[:n]) if n >= MIN_PREFIX else []


def common_prefix(a: list[int], b: list[int]) -> int:
    """How many first tokens `a` and `b` share."""
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


class PrefixCache:
    """Warm generators over one model that hold its template prefix."""

    def __init__(self, model, prefix: list[int]):
        self.model, self.prefix = model, prefix
        self._warm: dict[tuple, Any] = {}  # greedy setting -> its idle warm generator
        self._busy: set[tuple] = set()
        self._lock = threading.Lock()

    def split(self, ids: list[int]) -> int:
        """How many of the prompt's first tokens are the cached prefix (0: none; the whole prompt never is)."""
        n = len(self.prefix)
        return n if n and len(ids) > n and ids[:n] == self.prefix else 0

    @contextmanager
    def generator(self, options: dict[str, Any], ids: list[int]) -> Iterator[tuple[Any, int]]:
        """(a generator with the whole prompt appended, how many prompt tokens came from the warm cache)."""
        n = self.split(ids)
        key = _key(options)
        warm = None
        if n and not options.get("do_sample") and options["max_length"] <= WARM_TOKENS:
            warm = self._take(key)
        if warm is None:
            gen = self._new(options)
            for chunk in ((ids[:n], ids[n:]) if n else (ids,)):
                gen.append_tokens(chunk)
            try:
                yield gen, 0
            finally:
                del gen  # frees its key/value buffers now, also when the caller stopped reading
            return
        keep = None
        try:
            warm.append_tokens(ids[n:])
            try:
                yield warm, n
            except GeneratorExit:  # an abandoned stream: its generator is sound, only stopped early
                keep = _rewound(warm, n)
                raise
            keep = _rewound(warm, n)
        finally:  # a failed generation drops it: the next request builds a new one
            self._give_back(key, keep)

    def prewarm(self, options: dict[str, Any]) -> None:
        """Builds the warm generator of this greedy setting now (a server's start), not on the first request."""
        key = _key(options)
        with self._lock:
            if key in self._warm or key in self._busy:  # warm already (this runs before every request)
                return
        gen = self._take(key)
        if gen is not None:  # None: no prefix, or a request took it meanwhile
            self._give_back(key, gen)

    def _new(self, options: dict[str, Any]):
        import onnxruntime_genai as og

        params = og.GeneratorParams(self.model)
        params.set_search_options(**options)
        return og.Generator(self.model, params)

    def _take(self, key: tuple):
        """The idle warm generator of this setting (made on first use); None while another request has it."""
        with self._lock:
            if key in self._busy or not self.prefix:
                return None
            self._busy.add(key)
            gen = self._warm.pop(key, None)
        if gen is None:
            try:
                gen = self._new({"max_length": WARM_TOKENS, "do_sample": False,
                                 **({"repetition_penalty": key[0]} if key[0] else {})})
                gen.append_tokens(self.prefix)
            except BaseException:
                self._give_back(key, None)
                raise
        return gen

    def _give_back(self, key: tuple, gen) -> None:
        """Back to idle; None drops it."""
        with self._lock:
            self._busy.discard(key)
            if gen is not None:
                self._warm[key] = gen


def _key(options: dict[str, Any]) -> tuple:
    return (options.get("repetition_penalty") or None,)


def _rewound(gen, n: int):
    """The generator back at the prefix's end, or None if that failed."""
    try:
        gen.rewind_to(n)
        return gen
    except Exception:
        return None
