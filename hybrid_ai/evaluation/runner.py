"""Answer every item of a suite once with one tier's backend: from the cache where possible, concurrently
otherwise, with a rich progress bar. A failed item is recorded with its error and the run goes on; failed
answers are not cached, so the next run tries them again. Replayed answers (`backend.cacheable = False`) are
not cached either: they cost nothing to produce again. An item's own `max_tokens` overrides the tier's."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor, as_completed

from ..errors import BackendError
from ..types import parse_request
from .cache import Answer, AnswerCache, answer_key
from .suite import Suite


def answer_items(suite: Suite, tier: str, backend, generation, model: str, cache: AnswerCache, *,
                 workers: int = 1, progress=None, stats: dict | None = None) -> dict[str, Answer]:
    """{item id: Answer}. `model` names what answers (it keys the cache with the generation settings).
    The backend is warmed up (its model loaded) before the first timed answer, only if something is left to
    answer; `stats["warmup_s"]` gets that time."""
    cacheable = getattr(backend, "cacheable", True)
    results: dict[str, Answer] = {}
    todo = []
    for item in suite.items:
        gen = generation if item.max_tokens is None else generation.model_copy(update={"max_tokens": item.max_tokens})
        key = answer_key(model, gen.model_dump(mode="json"), item.messages)
        hit = cache.get(key) if cacheable else None
        if hit is not None:
            hit.item_id, hit.tier = item.id, tier
            results[item.id] = hit
        else:
            todo.append((item, key, gen))
    task = progress.add_task(f"{tier}: {model}", total=len(suite.items), completed=len(results)) if progress else None
    t0 = time.perf_counter()
    if todo:
        try:
            backend.warmup()
        except BackendError:
            pass  # every item then fails with the error, recorded per item
    if stats is not None:
        stats["warmup_s"] = time.perf_counter() - t0

    def one(item, key, gen) -> Answer:
        request = parse_request({"messages": item.messages})
        t0 = time.perf_counter()
        try:
            r = backend.complete(request, gen)
        except BackendError as e:
            return Answer(item.id, tier, model, None, latency_s=time.perf_counter() - t0, error=str(e))
        a = Answer(item.id, tier, model, r.text, r.prompt_tokens, r.completion_tokens, time.perf_counter() - t0,
                   r.ttft_ms, backend=r.info.get("backend", getattr(backend, "name", None)), info=dict(r.info))
        if cacheable:
            cache.put(key, a)  # kept even if the run is interrupted a moment later
        return a

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = {pool.submit(one, *job): job[0].id for job in todo}
        try:
            for f in as_completed(futures):
                results[futures[f]] = f.result()
                if progress:
                    progress.advance(task)
        except KeyboardInterrupt:
            for f in futures:
                f.cancel()
            raise
    return {item.id: results[item.id] for item in suite.items}
