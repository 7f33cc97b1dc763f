"""Shorthands for the index engine the settings name (rag.index.open_index): the index folder, or
Milvus when `milvus_uri` is set. Engines are built in rag/engines.py; `make_generator` is
re-exported from there for older callers.
"""

from __future__ import annotations

from rag.embedding import Embedder
from rag.engines import make_generator
from rag.index import Index, IndexReport, Prepared, Progress, Searcher, Snapshot, open_index
from rag.settings import Settings

IndexView = Snapshot  # the name this module gave a snapshot before rag.index

__all__ = [
    "Index", "IndexView", "Searcher", "Snapshot", "index_exists", "load_index", "make_generator", "make_retriever",
    "open_index", "update_index",
]


# -- the index: shorthands for rag.index.open_index(settings, embedder) ----------------------------
def index_exists(settings: Settings) -> bool:
    return open_index(settings).exists()


def load_index(settings: Settings, embedder: Embedder, previous: Snapshot | None = None) -> Snapshot:
    """The index as it is now; the segments of `previous` (an earlier snapshot) are reused."""
    return open_index(settings, embedder).load(previous)


def update_index(settings: Settings, embedder: Embedder, progress: Progress | None = None,
                 previous: Snapshot | None = None, prepared: Prepared | None = None) -> tuple[Snapshot, IndexReport]:
    """Bring the index up to date with the documents folder (only changed documents are embedded,
    and not those in `prepared`), waiting up to settings.index_wait for another writer; `previous`:
    the snapshot this process serves, whose open segments are reused."""
    return open_index(settings, embedder).update(prepared, progress, previous)


def make_retriever(index: Snapshot, embedder: Embedder, settings: Settings) -> Searcher:
    return open_index(settings, embedder).searcher(index, embedder)
