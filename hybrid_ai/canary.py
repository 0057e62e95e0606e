"""Canary: a candidate policy served to a fixed share of requests beside the current one.

`canary: {bundle: ../v3, share: 0.1}` in a policy makes its client build a second client from the candidate (a
bundle version folder or a policy file) that writes to the same sinks. Each request goes to the candidate when
the hash of its request id falls below `share` (deterministic: the same id always gets the same variant), and
every record says which variant answered it (`variant`: `current` or `canary`), so `hybrid-ai report` and the
`hybrid_ai_variant_*` metrics compare the two on live traffic. A candidate's policy cannot name a canary itself."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import PolicyError

if TYPE_CHECKING:
    from .client import BaseClient
    from .turn import Turn


def fraction(request_id: str) -> float:
    """A request id's place in [0, 1): the first 8 bytes of its BLAKE2b digest."""
    return int.from_bytes(hashlib.blake2b(request_id.encode(), digest_size=8).digest(), "big") / 2.0**64


class Canary:
    """The candidate client and its share; labels the records of both variants."""

    def __init__(self, current: BaseClient):
        spec = current.policy.canary
        assert spec is not None
        self.share = spec.share
        source = Path(spec.bundle)
        source = source / "policy.yaml" if source.is_dir() else source
        self.client = type(current)(source, sinks=current.sinks)  # the same sinks: one log, one registry
        if self.client.policy.canary is not None:
            raise PolicyError("a canary's policy cannot name a canary of its own", path=spec.bundle, key="canary")
        label(current, "current")
        label(self.client, "canary")

    def takes(self, request_id: str) -> bool:
        return fraction(request_id) < self.share


def label(client: BaseClient, variant: str) -> None:
    """Every record of `client` says `variant` (an observer that runs before the sinks write)."""
    client.variant = variant

    def mark(turn: Turn) -> None:
        if turn.record is not None:
            turn.record.variant = variant

    client.observers.insert(0, mark)


def attach(client: BaseClient) -> Canary | None:
    return Canary(client) if client.policy.canary is not None else None
