"""The Milvus engine of `rag.index.Index`: collections in a Milvus Lite file or a Milvus server
(store.py), searched by retrieval.py.

Milvus serves its current data to every query and a `MilvusRetriever` follows a manifest committed
elsewhere by itself, so a snapshot never needs loading again (`changed` is always False), and
there is nothing to tidy: an update deletes what it replaced.
Deliberately not here: the collections (store.py) and search (retrieval.py).
"""

from __future__ import annotations

from rag.index import Engine, Snapshot
from rag.index.indexing import IndexReport, Prepared
from rag.index.milvus import store
from rag.index.milvus.retrieval import MilvusRetriever
from rag.index.milvus.store import MilvusIndex
from rag.models.embedding import Embedder
from rag.progress import Progress
from rag.settings import Settings


class MilvusEngine(Engine):
    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        where = f"Milvus at {settings.milvus_uri}, collections {settings.milvus_collection}_*"
        super().__init__(settings, embedder, where)

    def exists(self) -> bool:
        s = self.settings
        return store.exists(s.milvus_uri or "", s.milvus_collection, s.milvus_token)

    def load(self, previous: Snapshot | None = None) -> MilvusIndex:
        s, e = self.settings, self.embedder
        return store.load(s.milvus_uri or "", s.milvus_collection, e.name, e.dimension, s.milvus_token)

    def changed(self, snapshot: Snapshot) -> bool:
        return False

    def prepare(self, progress: Progress | None = None, batch: int | None = None) -> Prepared:
        s = self.settings
        return store.prepare(s.documents_dir, s.milvus_uri or "", s.milvus_collection, self.embedder,
                                    s.chunking, progress, s.milvus_token, batch)

    def update(
        self, prepared: Prepared | None = None, progress: Progress | None = None, previous: Snapshot | None = None
    ) -> tuple[MilvusIndex, IndexReport]:
        s = self.settings
        return store.update_index(s.documents_dir, s.milvus_uri or "", s.milvus_collection, self.embedder,
                                         s.chunking, progress, s.milvus_token, prepared)

    def searcher(self, snapshot: Snapshot, embedder: Embedder) -> MilvusRetriever:
        assert isinstance(snapshot, MilvusIndex), "a snapshot of another engine"
        return MilvusRetriever(snapshot, embedder, self.settings.retriever)

    def tidy(self) -> None:
        pass
