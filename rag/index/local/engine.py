"""The local engine of `rag.index.Index`: segments in the index folder (rag/index/local/store.py), written by
rag/index/indexing.py (one writer at a time, across processes), searched by rag/index/local/retrieval.py.

A snapshot is a `store.StoredIndex`: its segments stay readable while another writer commits, and
loading a newer one reuses the segments a previous snapshot holds open.
Deliberately not here: the format (store.py), what to write (indexing.py), ranking (retrieval.py).
"""

from __future__ import annotations

from collections.abc import Mapping

from rag.index import Engine, Snapshot, indexing
from rag.index.indexing import IndexReport, Prepared
from rag.index.local import store
from rag.index.local.retrieval import Retriever
from rag.models.embedding import Embedder
from rag.progress import Progress
from rag.settings import Settings


class LocalEngine(Engine):
    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        super().__init__(settings, embedder, str(settings.index_dir))

    def exists(self) -> bool:
        return store.exists(self.settings.index_dir)

    def load(self, previous: Snapshot | None = None) -> store.StoredIndex:
        e = self.embedder
        return store.load(self.settings.index_dir, e.name, e.dimension, reuse=_segments(previous))

    def changed(self, snapshot: Snapshot) -> bool:
        return isinstance(snapshot, store.StoredIndex) and store.changed(snapshot)

    def prepare(self, progress: Progress | None = None, batch: int | None = None) -> Prepared:
        s = self.settings
        return indexing.prepare(s.documents_dir, s.index_dir, self.embedder, s.chunking, progress, batch)

    def update(
        self, prepared: Prepared | None = None, progress: Progress | None = None, previous: Snapshot | None = None
    ) -> tuple[store.StoredIndex, IndexReport]:
        s = self.settings
        return indexing.update_index(s.documents_dir, s.index_dir, self.embedder, s.chunking, progress,
                                     wait_s=s.index_wait, reuse=_segments(previous), prepared=prepared)

    def searcher(self, snapshot: Snapshot, embedder: Embedder) -> Retriever:
        assert isinstance(snapshot, store.StoredIndex), "a snapshot of another engine"
        return Retriever(snapshot, embedder, self.settings.retriever)

    def tidy(self) -> None:
        store.tidy(self.settings.index_dir)


def _segments(index: Snapshot | None) -> Mapping[str, store.Segment] | None:
    return index.segment_named if isinstance(index, store.StoredIndex) else None
