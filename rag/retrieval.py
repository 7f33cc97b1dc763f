"""Find the chunks most likely to answer a question: dense search over the FAISS index.

Scores are cosine similarities (inner products of unit vectors). Deliberately not here:
embedding the chunks (indexing.py) or deciding whether the hits are good enough (pipeline.py).
"""

from __future__ import annotations

from typing import Any

from rag.embedding import Embedder
from rag.store import StoredIndex
from rag.types import Hit


class DenseRetriever:
    def __init__(self, index: StoredIndex, embedder: Embedder) -> None:
        self.index = index
        self.embedder = embedder
        self._faiss: Any = index.faiss_index()

    def search(self, query: str, k: int) -> list[Hit]:
        if not self.index.chunks or k <= 0:
            return []
        vector = self.embedder.embed([query])
        scores, rows = self._faiss.search(vector, min(k, len(self.index.chunks)))
        hits = []
        for rank, (score, row) in enumerate(zip(scores[0], rows[0], strict=True), start=1):
            if row < 0:
                continue
            chunk = self.index.chunks[row]
            title = self.index.documents[chunk.doc_id].title
            hits.append(Hit(chunk=chunk, score=float(score), rank=rank, title=title))
        return hits
