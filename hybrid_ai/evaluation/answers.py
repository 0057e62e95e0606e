"""Answer every item of a suite once with one tier's backend: from the cache where possible, concurrently
otherwise, with a rich progress bar. A failed item is recorded with its error and the run goes on; failed
answers are not cached, so the next run tries them again. Replayed answers (`backend.cacheable = False`) are
not cached either: they cost nothing to produce again. An item's own `max_tokens` overrides the tier's.

With `batch > 1` and a backend that has `complete_batch` (the local SLM), items are answered in batches of
similar length: each answer's `latency_s` is then its batch's wall time (what that request waited) and
`batch_size` says how many shared it, so cost and energy can be split between them."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor, as_completed

from ..errors import BackendError
from ..request import parse_request
from .cache import Answer, AnswerCache, answer_key
from .suite import Suite


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


def answer_items(suite: Suite, tier: str, backend, generation, model: str, cache: AnswerCache, *,
                 workers: int = 1, batch: int = 1, progress=None, stats: dict | None = None) -> dict[str, Answer]:
    """{item id: Answer}. `model` names what answers (it keys the cache with the generation settings).
    The backend is warmed up (its model loaded) before the first timed answer, only if something is left to
    answer; `stats["warmup_s"]` gets that time."""
    cacheable = getattr(backend, "cacheable", True)
    batch = batch if hasattr(backend, "complete_batch") else 1
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

    def answer(item, key, r, wall: float, size: int) -> Answer:
        if isinstance(r, BackendError):
            return Answer(item.id, tier, model, None, latency_s=wall, error=str(r))
        a = Answer(item.id, tier, model, r.text, r.prompt_tokens, r.completion_tokens, wall, r.ttft_ms,
                   backend=r.info.get("backend", getattr(backend, "name", None)), batch_size=size, info=dict(r.info))
        if cacheable:
            cache.put(key, a)  # kept even if the run is interrupted a moment later
        return a

    def run(chunk) -> list[Answer]:
        requests = [parse_request({"messages": item.messages}) for item, _, _ in chunk]
        t = time.perf_counter()
        if len(chunk) == 1:
            try:
                got = [backend.complete(requests[0], chunk[0][2])]
            except BackendError as e:
                got = [e]
        else:
            got = backend.complete_batch(requests, chunk[0][2])
        wall = time.perf_counter() - t
        return [answer(item, key, r, wall, len(chunk)) for (item, key, _), r in zip(chunk, got)]

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
