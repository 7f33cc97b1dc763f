"""Find the chunks most likely to answer a question: dense, BM25, or both fused (the default).

- dense: cosine similarity of MiniLM vectors, each segment searched with its own vector index
  (exact, or approximate in big segments: rag/index/local/vector_index.py);
- bm25: BM25 over `terms()` of each chunk (stemmed words, whole numbers), so names, numbers and
  rare words are found even when the embedding misses them, scored with statistics of the whole
  index from counts stored with each segment (rag/index/local/bm25.py): nothing is rebuilt when the index loads;
- hybrid: reciprocal rank fusion of the two candidate lists (score = sum of 1 / (RRF_K + rank)).
Only live rows (store.py) and the articles `Filters` allow are searched. A question about recency
("What is the latest on …?") puts the newest of the passages nearly as relevant as the best first.
One story, one copy: of articles that are copies of one story (rag/index/stories.py), only the passages
of the best ranked copy are kept (an article's own passages are never dropped for it), and their
hits name the other copies (`Hit.also_in`): rag/index/search.py's `one_per_story`, shared.
Every hit carries its dense cosine similarity and its BM25 score, whichever list it came from,
because the refusal decision uses them, and its article's date, source and address.
The modes, the search depth, newest first and building hits are shared with the Milvus engine
(rag/index/search.py). Deliberately not here: deciding whether hits are enough.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rag.filters import Filters
from rag.index import DocumentEntry, stories
from rag.index.local.bm25 import SegmentedBM25
from rag.index.local.store import StoredIndex
from rag.index.search import (
    MODES,
    RRF_K,
    asks_for_recent,
    check_mode,
    entry_day,
    make_hit,
    newest_first,
    one_per_story,
    search_depth,
)
from rag.models.embedding import Embedder
from rag.text.terms import terms
from rag.types import Hit

__all__ = ["MODES", "RRF_K", "Retriever", "asks_for_recent"]


class Retriever:
    def __init__(self, index: StoredIndex, embedder: Embedder, mode: str = "hybrid") -> None:
        self.index = index
        self.embedder = embedder
        self.mode = check_mode(mode)
        self._bm25 = SegmentedBM25(index.segments, index.size)
        self.idf: Callable[[str], float] = self._bm25.idf
        self._doc_allowed_cache: dict[Filters, list[np.ndarray]] = {}
        self._stories = stories.members(index.manifest.get("documents", {}))

    def search(self, query: str, k: int, filters: Filters | None = None) -> list[Hit]:
        if not len(self.index.live_rows) or k <= 0:
            return []
        allowed = self._allowed(filters)
        if not any(a.any() for a in allowed):
            return []
        depth = search_depth(self.index.size, k)
        vector = self.embedder.embed([query])
        dense = self._dense(vector, depth, allowed)
        dense_list = list(dense)

        lexical_all = self._bm25.scores(terms(query))
        if filters is not None and filters.active:
            lexical_all[~np.concatenate(allowed)] = 0.0
        matched = np.flatnonzero(lexical_all > 0)  # only rows sharing a term are ranked, not the whole index
        lexical_list = [int(r) for r in matched[np.argsort(-lexical_all[matched], kind="stable")[:depth]]]

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
            if asks_for_recent(query):
                ranked = newest_first(ranked, lambda row: entry_day(self._entry_of(row), filters))

        hits: list[Hit] = []
        for (row, score), entry, also_in in one_per_story(ranked, lambda item: self._entry_of(item[0]), k,
                                                          self._stories):
            chunk = self.index.chunk_at(row)
            cosine = dense[row] if row in dense else float(self.index.vector_at(row) @ vector[0])
            hits.append(make_hit(chunk, score, len(hits) + 1, entry, dense=cosine, lexical=float(lexical_all[row]),
                                 also_in=also_in))
        return hits

    def _entry_of(self, row: int) -> DocumentEntry | None:
        segment, local = self.index.locate(row)
        return self.index.catalog.get(segment.doc_ids[int(segment.doc[local])])

    def _dense(self, vector: np.ndarray, depth: int, allowed: list[np.ndarray]) -> dict[int, float]:
        """The `depth` best allowed rows by cosine similarity, best first: row -> cosine."""
        found: list[tuple[float, int]] = []
        for segment, mask in zip(self.index.segments, allowed, strict=True):
            if not mask.any():
                continue
            scores, rows = segment.vector_index.search(vector, depth, None if mask.all() else mask)
            found.extend((float(s), segment.offset + int(r)) for s, r in zip(scores[0], rows[0], strict=True) if r >= 0)
        found.sort(key=lambda item: (-item[0], item[1]))
        return {row: score for score, row in found[:depth]}

    def _allowed(self, filters: Filters | None) -> list[np.ndarray]:
        """Per segment, which rows may be searched: live, and of an article `filters` allows."""
        if filters is None or not filters.active:
            return [s.live for s in self.index.segments]
        if filters not in self._doc_allowed_cache:
            catalog = self.index.catalog
            masks = []
            for segment in self.index.segments:
                ok = np.array(
                    [e is not None and filters.allows(e) for e in (catalog.get(d) for d in segment.doc_ids)],
                    dtype=bool,
                )
                masks.append(segment.live & ok[segment.doc] if segment.size else segment.live)
            self._doc_allowed_cache = {filters: masks}  # the last filter only: a chat asks many with one
        return self._doc_allowed_cache[filters]
