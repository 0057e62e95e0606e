"""A test double for the Backend seam: answers instantly and deterministically, or fails on demand.

Used to measure the routing overhead without model time and to test code around the seam."""

from __future__ import annotations

from ..errors import BackendError
from .base import Backend, sampling


class EchoBackend(Backend):
    name = "echo"

    def __init__(self, tier: str = "echo", *, fail: str | None = None, runs_locally: bool = True):
        self.tier, self.fail, self.runs_locally, self.calls = tier, fail, runs_locally, 0

    def complete(self, request, generation):
        from ..types import BackendResult

        self.calls += 1
        if self.fail:
            raise BackendError(self.fail, tier=self.tier, kind="generation")
        words = request.last_user_text.split()[: sampling(request, generation)["max_tokens"]]
        return BackendResult(" ".join(words), model=f"echo-{self.tier}", prompt_tokens=len(request.text.split()),
                             completion_tokens=len(words), ttft_ms=0.0)
