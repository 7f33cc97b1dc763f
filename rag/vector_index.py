"""Nearest-neighbour search over one segment's vectors (placeholder: exact search only; the
approximate index lands from the vector-bench branch)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

APPROXIMATE_ABOVE = 10**12


class VectorIndex:
    kind = "exact"

    def __init__(self, vectors: np.ndarray) -> None:
        self.vectors = vectors
        self.size = len(vectors)

    @classmethod
    def build(cls, vectors: np.ndarray, approximate_above: int = APPROXIMATE_ABOVE) -> VectorIndex:
        return cls(vectors)

    def save(self, path: Path) -> None:
        raise NotImplementedError

    @classmethod
    def load(cls, path: Path | None, vectors: np.ndarray) -> VectorIndex:
        return cls(vectors)

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        rows = np.arange(self.size) if allowed is None else np.flatnonzero(allowed)
        scores = np.asarray(self.vectors[rows] @ queries.T, dtype=np.float32).T  # (queries, rows)
        k = min(k, len(rows))
        out_s = np.full((len(queries), k), -np.inf, np.float32)
        out_r = np.full((len(queries), k), -1, np.int64)
        for q in range(len(queries)):
            order = np.argsort(-scores[q], kind="stable")[:k]
            out_s[q], out_r[q] = scores[q][order], rows[order]
        return out_s, out_r
