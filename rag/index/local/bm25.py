"""BM25 over the segments of an index, with statistics of the whole index.

Each segment stores how often each term occurs in each of its chunks (a sparse matrix, store.py).
Scores use the live chunks of all segments together: the number of chunks, their average length
and each term's document frequency, so a segment added for one article does not skew them, and
nothing is rebuilt at start-up. The formula is bm25s's default (Lucene's: k1 = 1.5, b = 0.75,
idf = ln(1 + (N - df + 0.5) / (df + 0.5))), so scores equal bm25s's over the same terms; a term
repeated in the question counts again, as in bm25s. `idf` is the answer checker's table
(`rag.text.terms.idf_table`'s formula) from the same counts, without reading any chunk text.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from typing import Protocol

import numpy as np

K1 = 1.5
B = 0.75


class TermSegment(Protocol):
    offset: int
    size: int
    live: np.ndarray
    lengths: np.ndarray
    vocabulary: dict[str, int]
    terms: object  # a scipy.sparse csc_matrix: chunks x vocabulary


class SegmentedBM25:
    def __init__(self, segments: Sequence[TermSegment], total: int) -> None:
        self.segments = list(segments)
        self.total = total  # rows in all segments, live or not
        self.n = int(sum(int(s.live.sum()) for s in self.segments))
        length = sum(float(s.lengths[s.live].sum()) for s in self.segments)
        self.average_length = length / self.n if self.n else 1.0
        self._df: dict[str, int] = {}
        self._lock = threading.Lock()

    def _postings(self, segment: TermSegment, term: str) -> tuple[np.ndarray, np.ndarray]:
        column = segment.vocabulary.get(term)
        if column is None:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        matrix = segment.terms
        lo, hi = matrix.indptr[column], matrix.indptr[column + 1]  # type: ignore[attr-defined]
        return matrix.indices[lo:hi], matrix.data[lo:hi]  # type: ignore[attr-defined]

    def df(self, term: str) -> int:
        """How many live chunks contain `term`."""
        with self._lock:
            if term not in self._df:
                count = 0
                for segment in self.segments:
                    rows, _ = self._postings(segment, term)
                    count += int(segment.live[rows].sum())
                self._df[term] = count
            return self._df[term]

    def scores(self, query_terms: Sequence[str]) -> np.ndarray:
        """The BM25 score of every row for the query (0 for rows sharing no term, and dead rows)."""
        out = np.zeros(self.total, dtype=np.float32)
        for term in query_terms:
            df = self.df(term)
            if df == 0:
                continue
            idf = math.log(1 + (self.n - df + 0.5) / (df + 0.5))
            for segment in self.segments:
                rows, tf = self._postings(segment, term)
                if not len(rows):
                    continue
                norm = K1 * (1 - B + B * segment.lengths[rows] / self.average_length)
                out[segment.offset + rows] += (idf * tf / (tf + norm)).astype(np.float32)
        for segment in self.segments:
            if not segment.live.all():
                out[segment.offset : segment.offset + segment.size][~segment.live] = 0.0
        return out

    def idf(self, term: str) -> float:
        """The checker's IDF of a term over the live chunks (unknown terms get the highest)."""
        return math.log((self.n + 1) / (self.df(term) + 1)) + 1
