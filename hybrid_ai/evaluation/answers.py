"""Answer every item of a suite once with one tier, through the same metered tier the client's chain uses
(`backends.metered.Metered`: the model loaded before the first timed answer, each answer timed and its energy
metered where the machine has a counter): from the cache where possible, concurrently otherwise, with a rich
progress bar. A failed item is recorded with its error and the run goes on; failed answers are not cached, so the
next run tries them again. Answers of a backend that is not `cacheable` (replayed answers) are not cached either:
they cost nothing to produce again. An item's own `max_tokens` overrides the tier's.

With `batch > 1` and a backend that `batches` (the local SLM), items are answered in batches of similar length:
each answer's `latency_s` is then its batch's wall time (what that request waited) and `batch_size` says how many
shared it, so cost and energy are split between them (as `Metered.complete_batch` charges them)."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor, as_completed

from ..backends.metered import Metered
from ..errors import BackendError
from ..request import parse_request
from ..types import Attempt, BackendResult
from .cache import Answer, AnswerCache, answer_key
from .suite import Suite

_COUNTERS = ("rapl", "nvml")  # energy read from the machine, kept with the answer (not re-estimated later)


def _chunks(todo: list, batch: int) -> list[list]:
    """Batches of items with the same generation settings, similar lengths together (less padding)."""
    groups: dict[str, list] = {}
    for job in todo:
        groups.setdefault(json.dumps(job[2].model_dump(mode="json"), sort_keys=True), []).append(job)
    out = []
    for jobs in groups.values():
        jobs = sorted(jobs, key=lambda j: len(json.dumps(j[0].messages))) if batch > 1 else jobs
        out += [jobs[k:k + batch] for k in range(0, len(jobs), batch)]
    return out


def _answer(tier: Metered, model: str, item, r: BackendResult | BackendError, attempt: Attempt, size: int) -> Answer:
    wall = attempt.latency_ms / 1000
    if isinstance(r, BackendError):
        return Answer(item.id, tier.name, model, None, latency_s=wall, error=str(r))
    measured = attempt.energy_source in _COUNTERS
    return Answer(item.id, tier.name, model, r.text, r.prompt_tokens, r.completion_tokens, wall, r.ttft_ms,
                  backend=r.info.get("backend", tier.backend.name), batch_size=size, info=dict(r.info),
                  energy_wh=attempt.energy_wh if measured else None,
                  energy_source=attempt.energy_source if measured else None)


def answer_items(suite: Suite, tier: Metered, model: str, cache: AnswerCache, *, workers: int = 1, batch: int = 1,
                 progress=None, stats: dict | None = None) -> dict[str, Answer]:
    """{item id: Answer}. `model` names what answers (it keys the cache with the generation settings).
    The model is loaded before the first timed answer, only if something is left to answer;
    `stats["warmup_s"]` gets that time."""
    backend = tier.backend
    batch = batch if backend.batches else 1
    results: dict[str, Answer] = {}
    todo = []
    for item in suite.items:
        gen = tier.generation if item.max_tokens is None else tier.generation.model_copy(
            update={"max_tokens": item.max_tokens})
        key = answer_key(model, gen.model_dump(mode="json"), item.messages)
        hit = cache.get(key) if backend.cacheable else None
        if hit is not None:
            hit.item_id, hit.tier = item.id, tier.name
            results[item.id] = hit
        else:
            todo.append((item, key, gen))
    task = progress.add_task(f"{tier.name}: {model}", total=len(suite.items), completed=len(results)) \
        if progress else None
    t0 = time.perf_counter()
    if todo:
        try:
            tier.load()
        except BackendError:
            pass  # every item then fails with the error, recorded per item
    if stats is not None:
        stats["warmup_s"] = time.perf_counter() - t0

    def run(chunk) -> list[Answer]:
        requests = [parse_request({"messages": item.messages, "max_tokens": item.max_tokens})
                    for item, _, _ in chunk]
        own = tier.noting_in([])  # this chunk's attempts, apart from the other threads'
        got = own.complete_batch(requests)
        out = [_answer(tier, model, item, r, a, len(chunk)) for (item, _, _), r, a in zip(chunk, got, own.attempts)]
        for (_, key, _), a in zip(chunk, out):
            if backend.cacheable and a.error is None:
                cache.put(key, a)  # kept even if the run is interrupted a moment later
        return out

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = [pool.submit(run, chunk) for chunk in _chunks(todo, max(1, batch))]
        try:
            for f in as_completed(futures):
                done = f.result()
                for a in done:
                    results[a.item_id] = a
                if progress:
                    progress.advance(task, len(done))
        except KeyboardInterrupt:
            for f in futures:
                f.cancel()
            raise
    return {item.id: results[item.id] for item in suite.items}
