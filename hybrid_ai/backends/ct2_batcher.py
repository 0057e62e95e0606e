"""One CTranslate2 generator serving many callers: requests from any thread are queued, and the worker thread
generates every compatible waiting request together in one `generate_batch` call (continuous arrival, batched
decoding), streaming each request's tokens back as they come through CTranslate2's per-token callback.

Requests are compatible when they share their sampling settings (greedy or temperature / top-p, repetition
penalty, seed); a request's own `max_new` is enforced by its callback (returning True stops that request only), as
is cancellation (an abandoned stream stops within a token). Each token carries its log-probability."""

from __future__ import annotations

import atexit
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

_END = object()


@dataclass
class Job:
    tokens: list[str]  # the prompt as token strings
    max_new: int
    options: tuple  # the sampling settings, hashable: requests with equal options share a batch
    cancelled: threading.Event = field(default_factory=threading.Event)
    steps: queue.Queue = field(default_factory=queue.Queue)  # (token_id, log_prob), then _END or an exception
    produced: int = 0
    batch_size: int = 1  # how many requests its batch held (for the record)

    def results(self):
        """(token_id, log_prob) pairs as they are generated; raises what the generation raised."""
        while True:
            item = self.steps.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item


class Batcher:
    def __init__(self, generator: Any, end_token: str | list[str], max_batch: int = 16, wait_s: float = 0.002):
        self.generator, self.end_token, self.max_batch, self.wait_s = generator, end_token, max_batch, wait_s
        self._queue: queue.Queue[tuple[Job, ...]] = queue.Queue()  # jobs submitted together stay together
        self._held: list[Job] = []
        self._lock = threading.Lock()  # taken from the queue but not compatible with the batch being formed
        self._stopping = False
        self._worker = threading.Thread(target=self._run, name="hybrid-ai-ct2", daemon=True)
        self._worker.start()
        self.depth = 0  # requests waiting or generating (for metrics)
        atexit.register(self.close)

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop the worker and free the generator while the interpreter still runs: freed during its shutdown,
        CTranslate2's threads abort the process ("terminate called without an active exception", exit code 134)."""
        self._stopping = True
        self._queue.put(())
        self._worker.join(timeout_s)
        if not self._worker.is_alive():
            self.generator = None

    def submit(self, *jobs: Job) -> None:
        """Queue jobs; those submitted in one call are generated in one batch (up to `max_batch`), so an eval's
        batch does not depend on thread timing."""
        with self._lock:
            self.depth += len(jobs)
        self._queue.put(jobs)

    def _next_batch(self) -> list[Job]:
        if not self._held:
            self._held = list(self._queue.get())
            if not self._held:  # close()
                return []
        first = self._held[0]
        batch: list[Job] = []
        keep: list[Job] = []
        for job in self._held:
            (batch if job.options == first.options and len(batch) < self.max_batch else keep).append(job)
        self._held = keep
        deadline = time.perf_counter() + self.wait_s
        while len(batch) < self.max_batch and not self._held:
            try:
                jobs = self._queue.get(timeout=max(0.0, deadline - time.perf_counter()))
            except queue.Empty:
                break
            for job in jobs:
                (batch if job.options == first.options and len(batch) < self.max_batch else self._held).append(job)
        return [j for j in batch if not j.cancelled.is_set() or self._finish(j)]

    def _finish(self, job: Job, error: BaseException | None = None) -> bool:
        with self._lock:
            self.depth -= 1
        job.steps.put(error if error is not None else _END)
        return False

    def _run(self) -> None:
        while not self._stopping:
            batch = self._next_batch()
            if batch:
                self._generate(batch)

    def _generate(self, batch: list[Job]) -> None:
        options = dict(batch[0].options)
        seed = options.pop("sampling_seed", None)
        if seed is not None:  # the whole batch shares the seed (requests with another seed wait for their own)
            import ctranslate2

            ctranslate2.set_random_seed(seed)
        for job in batch:
            job.batch_size = len(batch)

        def step(s) -> bool:
            job = batch[s.batch_id]
            if job.cancelled.is_set() or job.produced >= job.max_new:
                return True
            job.produced += 1
            job.steps.put((s.token_id, s.log_prob))
            return job.produced >= job.max_new or job.cancelled.is_set()

        try:
            self.generator.generate_batch(
                [j.tokens for j in batch], max_length=max(j.max_new for j in batch), include_prompt_in_result=False,
                end_token=self.end_token, return_scores=True, callback=step, **options)
        except Exception as e:  # every request of the batch gets the error
            for job in batch:
                self._finish(job, e)
            return
        for job in batch:
            self._finish(job)
