"""The Milvus engine of `rag.index.Index`: collections in a Milvus Lite file or a Milvus server
(rag/milvus_index.py), searched by rag/milvus_retrieval.py.

Milvus serves its current data to every query and a `MilvusRetriever` follows a manifest committed
elsewhere by itself, so a snapshot never needs loading again (`changed` is always False), and
there is nothing to tidy: an update deletes what it replaced.
Deliberately not here: the collections (milvus_index.py) and search (milvus_retrieval.py).
"""

from __future__ import annotations

from rag import milvus_index
from rag.embedding import Embedder
from rag.index import Engine, Snapshot
from rag.indexing import IndexReport, Prepared, Progress
from rag.milvus_index import MilvusIndex
from rag.milvus_retrieval import MilvusRetriever
from rag.settings import Settings


class MilvusEngine(Engine):
    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        where = f"Milvus at {settings.milvus_uri}, collections {settings.milvus_collection}_*"
        super().__init__(settings, embedder, where)

    def exists(self) -> bool:
        s = self.settings
        return milvus_index.exists(s.milvus_uri or "", s.milvus_collection, s.milvus_token)

    def load(self, previous: Snapshot | None = None) -> MilvusIndex:
        s, e = self.settings, self.embedder
        return milvus_index.load(s.milvus_uri or "", s.milvus_collection, e.name, e.dimension, s.milvus_token)

    def changed(self, snapshot: Snapshot) -> bool:
        return False

    def prepare(self, progress: Progress | None = None, batch: int | None = None) -> Prepared:
        s = self.settings
        return milvus_index.prepare(s.documents_dir, s.milvus_uri or "", s.milvus_collection, self.embedder,
                                    s.chunking, progress, s.milvus_token, batch)

    def update(
        self, prepared: Prepared | None = None, progress: Progress | None = None, previous: Snapshot | None = None
    ) -> tuple[MilvusIndex, IndexReport]:
        s = self.settings
        return milvus_index.update_index(s.documents_dir, s.milvus_uri or "", s.milvus_collection, self.embedder,
                                         s.chunking, progress, s.milvus_token, prepared)

    def searcher(self, snapshot: Snapshot, embedder: Embedder) -> MilvusRetriever:
        assert isinstance(snapshot, MilvusIndex), "a snapshot of another engine"
        return MilvusRetriever(snapshot, embedder, self.settings.retriever)

    def tidy(self) -> None:
        pass
