"""Find the chunks most likely to answer a question: dense, BM25, or both fused (the default).

- dense: cosine similarity of MiniLM vectors, searched with the FAISS index;
- bm25: bm25s over `terms()` of each chunk (stemmed words, whole numbers), so names, numbers and
  rare words are found even when the embedding misses them; built in memory from the stored
  chunks when the index loads (milliseconds for thousands of chunks);
- hybrid: reciprocal rank fusion of the two candidate lists (score = sum of 1 / (RRF_K + rank)).
Every hit carries its dense cosine similarity and its BM25 score, whichever list it came from,
because the refusal decision uses them. Deliberately not here: deciding whether hits are enough.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rag.embedding import Embedder
from rag.filters import Filters
from rag.store import StoredIndex
from rag.terms import idf_table, terms
from rag.types import Hit

# The usual 60 suits fusing long lists; with a handful of passages kept, a smaller constant lets a
# passage ranked first by one list count for more. On eval/questions.jsonl, recall@5 is 0.974 for
# 5 and 10, 0.961 for 20 and 0.947 for 30 to 100 (recall@3 and @4 unchanged).
RRF_K = 10
MODES = ("hybrid", "dense", "bm25")


class BM25Scorer:
    def __init__(self, index: StoredIndex) -> None:
        import bm25s

        self._size = len(index.chunks)
        self._bm25: Any = None
        if index.chunks:
            self._bm25 = bm25s.BM25()
            self._bm25.index([terms(c.text) or ["_"] for c in index.chunks], show_progress=False)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every chunk for the query, in chunk order (0 where no term is shared)."""
        known = [t for t in terms(query) if t in self._bm25.vocab_dict] if self._bm25 else []
        if not known:
            return np.zeros(self._size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(known), dtype=np.float32)


class Retriever:
    def __init__(self, index: StoredIndex, embedder: Embedder, mode: str = "hybrid") -> None:
        if mode not in MODES:
            raise ValueError(f"retriever must be one of {', '.join(MODES)}, not {mode!r}")
        self.index = index
        self.embedder = embedder
        self.mode = mode
        self._faiss: Any = index.faiss_index()
        self._bm25 = BM25Scorer(index)
        self.idf = idf_table([c.text for c in index.chunks])

    def search(self, query: str, k: int, filters: Filters | None = None) -> list[Hit]:
        size = len(self.index.chunks)
        if not size or k <= 0:
            return []
        allowed = self._allowed(filters)
        if allowed is not None and not allowed.any():
            return []
        depth = min(size, max(4 * k, 50))
        vector = self.embedder.embed([query])
        if allowed is None:
            dense_scores, dense_rows = self._faiss.search(vector, depth)
            dense_list = [int(r) for r in dense_rows[0] if r >= 0]
            dense = dict(zip(dense_list, (float(s) for s in dense_scores[0]), strict=False))
        else:
            rows = np.flatnonzero(allowed)
            cosines = self.index.vectors[rows] @ vector[0]
            order = np.argsort(-cosines, kind="stable")[:depth]
            dense_list = [int(rows[i]) for i in order]
            dense = {int(rows[i]): float(cosines[i]) for i in order}

        lexical_all = self._bm25.scores(query)
        if allowed is not None:
            lexical_all = np.where(allowed, lexical_all, 0.0).astype(np.float32)
        lexical_list = [int(r) for r in np.argsort(-lexical_all, kind="stable")[:depth] if lexical_all[r] > 0]

        if self.mode == "dense":
            ranked = [(row, dense[row]) for row in dense_list]
        elif self.mode == "bm25":
            ranked = [(row, float(lexical_all[row])) for row in lexical_list]
        else:
            fused: dict[int, float] = {}
            for ranking in (dense_list, lexical_list):
                for rank, row in enumerate(ranking, start=1):
                    fused[row] = fused.get(row, 0.0) + 1.0 / (RRF_K + rank)
            ranked = sorted(fused.items(), key=lambda item: (-item[1], item[0]))

        hits = []
        for rank, (row, score) in enumerate(ranked[:k], start=1):
            chunk = self.index.chunks[row]
            cosine = dense[row] if row in dense else float(self.index.vectors[row] @ vector[0])
            doc = self.index.documents[chunk.doc_id]
            hits.append(Hit(chunk, score, rank, doc.title, dense=cosine, lexical=float(lexical_all[row]),
                            published=doc.published, source=doc.source, url=doc.url))
        return hits

    def _allowed(self, filters: Filters | None) -> np.ndarray | None:
        """Which chunk rows `filters` allows, or None when it allows every one."""
        if filters is None or not filters.active:
            return None
        docs = self.index.documents
        ok = {i for i, d in docs.items() if filters.allows(d.published, d.source)}
        return np.fromiter((c.doc_id in ok for c in self.index.chunks), dtype=bool, count=len(self.index.chunks))
