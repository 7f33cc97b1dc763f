"""Nearest rows of one block of unit vectors by inner product: exact when small, HNSW when large.

A `VectorIndex` answers "which k rows are closest to this query?" for one immutable block of
float32 unit vectors (a segment of the index store), optionally restricted to the rows an `allowed`
mask keeps (deleted rows, articles a filter leaves out). Up to `APPROXIMATE_ABOVE` rows it searches
exactly, with numpy straight over the vectors (no copy of them, no file); above, a faiss HNSW graph
saved to one file. A mask that keeps few rows is searched by brute force over just those rows,
which is exact and faster than walking a graph past rows it may not return.

Why numpy and not faiss.IndexFlatIP for the exact kind: IndexFlatIP copies every vector into its
own storage (a second copy of a memory-mapped segment, on the heap), and one query on it is no
faster than numpy's matrix product: 10-20 ms at 100,000-200,000 rows with one thread, and with
faiss's two OpenMP threads on this 2-core machine slower still (18-29 ms), while numpy stays at
8-15 ms (docs/scale.md).

The thresholds and HNSW parameters are measured in docs/scale.md (scripts/bench_scale.py --vectors).

Deliberately not here: which rows are deleted or filtered (the caller's mask), chunk ids, the
manifest, and where the vectors live (a plain array or a read-only np.memmap both work).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import IndexStoreError

# Exact search costs a pass over every vector: about 0.1 ms per 1,000 rows of 384 floats on this
# 2-core machine, so 200,000 rows are ~15-25 ms a query. Above that a graph pays for its build
# (about 7 minutes for 1,000,000 rows).
APPROXIMATE_ABOVE = 200_000
HNSW_M = 32  # graph degree (64 links per vector on the base layer, 256 bytes)
HNSW_EF_CONSTRUCTION = 80
# At 1,000,000 clustered rows: recall@10 0.96 against exact in 2.2 ms a query (0.94 at 256).
HNSW_EF_SEARCH = 512
QUERY_BATCH = 256  # queries scored at once by the exact search: bounds the (queries x rows) scores
# A mask keeping at most this many rows of an HNSW segment is brute-forced over those rows: exact,
# and no graph walk through rows it would have to throw away. Gathering scattered rows costs about
# 0.6 ms per 1,000 (against 0.08 ms per 1,000 contiguous ones), so at 1,000,000 clustered rows the
# two meet near 30,000: 17 ms each; at 10,000 kept the graph walk takes 125 ms (p95 3.3 s), at
# 100,000 it takes 24 ms with recall 0.975 where brute force takes 64 ms (docs/scale.md).
BRUTE_FORCE_ROWS = 30_000
# In an exact segment, scoring every row and masking beats gathering the kept ones above 1/8 of them.
GATHER_BELOW = 1 / 8
_REBUILD = "Run `rag index` to rebuild it."


def _faiss() -> Any:
    import faiss  # imported here: `import rag` must stay light

    return faiss


@dataclass
class VectorIndex:
    kind: str  # "exact" or "hnsw"
    size: int
    vectors: np.ndarray  # (size, dimension) float32; may be a read-only np.memmap
    _index: Any  # the faiss IndexHNSWFlat; None for the exact kind
    ef_search: int = HNSW_EF_SEARCH  # HNSW only: candidates kept during a search (recall vs time)

    @classmethod
    def build(cls, vectors: np.ndarray, approximate_above: int = APPROXIMATE_ABOVE) -> VectorIndex:
        """Index `vectors` (float32 unit rows): exact up to `approximate_above` rows, HNSW above."""
        vectors = _checked(vectors)
        dimension = vectors.shape[1]
        if len(vectors) <= approximate_above:
            return cls("exact", len(vectors), vectors, None)
        faiss = _faiss()
        index = faiss.IndexHNSWFlat(dimension, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.add(np.ascontiguousarray(vectors))
        return cls("hnsw", len(vectors), vectors, index)

    def save(self, path: Path) -> None:
        """Write the HNSW graph (with its copy of the vectors) to `path`; the exact kind has no file."""
        if self.kind == "exact":
            return
        tmp = path.with_name(path.name + ".tmp")
        _faiss().write_index(self._index, str(tmp))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path | None, vectors: np.ndarray) -> VectorIndex:
        """The index of `vectors`: from the HNSW file at `path`, or exact when `path` is None.

        The HNSW file is memory-mapped (its vectors stay in the page cache, shared between
        processes, instead of being copied to the heap). A missing, damaged or truncated file, or
        one for other vectors, raises IndexStoreError naming it.
        """
        vectors = _checked(vectors)
        if path is None:
            return cls("exact", len(vectors), vectors, None)
        faiss = _faiss()
        if not path.is_file():
            raise IndexStoreError(f"The vector index file {path} is missing. {_REBUILD}")
        try:
            index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY)
        except RuntimeError as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise IndexStoreError(f"The vector index file {path} is damaged ({first}). {_REBUILD}") from None
        if not isinstance(index, faiss.IndexHNSW):
            raise IndexStoreError(f"The vector index file {path} does not hold an HNSW index. {_REBUILD}")
        if index.ntotal != len(vectors) or index.d != vectors.shape[1]:
            raise IndexStoreError(
                f"The vector index file {path} holds {index.ntotal} vectors of dimension {index.d}, but the "
                f"segment has {len(vectors)} of dimension {vectors.shape[1]}. {_REBUILD}"
            )
        return cls("hnsw", len(vectors), vectors, index)

    def search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The k best rows per query, best first: (scores, rows), both (len(queries), k).

        Rows the `allowed` bool mask marks False never come back. Missing results (fewer than k
        rows, or allowed rows) are row -1 with score -inf.
        """
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if k <= 0:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        if allowed is None:
            if self.kind == "exact":
                return _brute_force(self.vectors, None, queries, k)
            return self._searched(queries, k, None, self.ef_search)
        allowed = np.asarray(allowed, dtype=bool)
        if allowed.shape != (self.size,):
            raise ValueError(f"allowed has shape {allowed.shape}, expected ({self.size},)")
        kept = int(allowed.sum())
        if kept == self.size:
            return self.search(queries, k)
        if self.kind == "exact":
            if kept <= self.size * GATHER_BELOW:
                return _brute_force(self.vectors, np.flatnonzero(allowed), queries, k)
            return _brute_force(self.vectors, None, queries, k, allowed)
        if kept <= BRUTE_FORCE_ROWS:
            return _brute_force(self.vectors, np.flatnonzero(allowed), queries, k)
        return self._selected(queries, k, allowed, kept)

    def _selected(self, queries: np.ndarray, k: int, allowed: np.ndarray, kept: int) -> tuple[np.ndarray, np.ndarray]:
        """faiss search that skips the rows a bitmap leaves out."""
        faiss = _faiss()
        bits = np.packbits(allowed, bitorder="little")  # faiss reads bit i of byte i >> 3 as row i
        selector = faiss.IDSelectorBitmap(self.size, faiss.swig_ptr(bits))
        # A sparser mask leaves fewer candidates among those the graph walk visits: widen it.
        ef = int(min(self.ef_search * self.size / kept, 8 * self.ef_search))
        found = self._searched(queries, k, selector, ef)
        del bits  # kept alive until here: the selector points into it
        return found

    def _searched(self, queries: np.ndarray, k: int, selector: Any, ef: int) -> tuple[np.ndarray, np.ndarray]:
        params = _faiss().SearchParametersHNSW()
        params.efSearch = max(ef, k)
        if selector is not None:
            params.sel = selector
        scores, rows = self._index.search(queries, k, params=params)
        return _padded(scores, rows)


def _checked(vectors: np.ndarray) -> np.ndarray:
    if vectors.ndim != 2 or vectors.dtype != np.float32:
        raise ValueError(f"vectors must be a 2-d float32 array, not {vectors.dtype} of shape {vectors.shape}")
    return vectors


def _brute_force(
    vectors: np.ndarray, rows: np.ndarray | None, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top k by numpy among `rows` of `vectors` (None: all of them, those `allowed` keeps)."""
    out_scores = np.full((len(queries), k), -np.inf, np.float32)
    out_rows = np.full((len(queries), k), -1, np.int64)
    block = np.asarray(vectors if rows is None else vectors[rows])
    if len(block) == 0:
        return out_scores, out_rows
    take = min(k, len(block))
    for first in range(0, len(queries), QUERY_BATCH):
        scores = queries[first : first + QUERY_BATCH] @ block.T  # (queries, rows)
        if allowed is not None:
            scores[:, ~allowed] = -np.inf
        top = np.argpartition(-scores, take - 1, axis=1)[:, :take]
        top_scores = np.take_along_axis(scores, top, axis=1)
        order = np.argsort(-top_scores, axis=1, kind="stable")
        top = np.take_along_axis(top, order, axis=1)
        out_scores[first : first + QUERY_BATCH, :take] = np.take_along_axis(top_scores, order, axis=1)
        out_rows[first : first + QUERY_BATCH, :take] = top if rows is None else rows[top]
    out_rows[np.isneginf(out_scores)] = -1  # a masked row can only fill a place no allowed row could
    return out_scores, out_rows


def _padded(scores: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rows = rows.astype(np.int64, copy=False)
    scores = np.where(rows < 0, -np.inf, scores).astype(np.float32)
    return scores, rows
