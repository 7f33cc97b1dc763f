"""One interface to the index, whichever engine holds it: the segments of the index folder or Milvus.

- `Index`, the engine bound to the settings: does an index exist, load a snapshot of it, has
  another process committed a newer one, `prepare` (chunk and embed what changed, writing
  nothing: the slow part) then `update` with what `prepare` returned (the write), and a `Searcher`
  over a snapshot;
- `Snapshot`, one committed state of the index: its `catalog` of typed `DocumentEntry` records
  (what the manifest holds per article, no text), its `documents` (texts, read on use) and chunks;
- `Searcher`: `search(query, k, filters)` returns ranked `Hit`s; `idf` weighs words for the checker.

`open_index(settings, embedder)` is the one place that chooses the engine: unset
`settings.milvus_uri`, the index folder (rag/index/local/: engine.py over store.py and retrieval.py,
written through rag/index/indexing.py); set, Milvus (rag/index/milvus/: engine.py over store.py and
retrieval.py). Each engine is imported only when chosen. What both share: updating (indexing.py),
the search's modes, depth, recency, one passage per story and building hits (search.py), stories
(stories.py), and the filters (rag/filters.py).

The contract both engines keep is tests/test_index_backends.py, run on each.
Deliberately not here: how either engine stores anything.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from rag.index.indexing import IndexReport, Prepared
from rag.progress import Progress

if TYPE_CHECKING:
    from rag.filters import Filters
    from rag.models.embedding import Embedder
    from rag.settings import Settings
    from rag.types import Chunk, Document, Hit

__all__ = [
    "DocumentEntry", "Index", "IndexReport", "Prepared", "Progress", "Searcher", "Snapshot", "catalog_of",
    "open_index",
]


@dataclass(frozen=True)
class DocumentEntry:
    """What the index records of one article, without its text (a manifest entry, typed).

    >>> e = DocumentEntry.from_manifest("a.txt", {"hash": "h", "title": "A", "chunks": 3, "source": "BBC"})
    >>> e.doc_id, e.title, e.chunks, e.source, e.published
    ('a.txt', 'A', 3, 'BBC', None)
    """

    doc_id: str
    title: str = ""
    hash: str = ""
    published: str | None = None  # ISO 8601, as the article says; None when unknown
    source: str | None = None
    author: str | None = None
    url: str | None = None
    added: str | None = None  # when the file was added (its modification time), ISO 8601
    story: str | None = None  # the story its copies share (rag/index/stories.py); None when it has no copy
    chars: int = 0
    chunks: int = 0
    indexed_at: str = ""
    news_recorded: bool = True  # False: an index from before news metadata lacks published, source, url

    @classmethod
    def of(cls, doc_id: str, entry: DocumentEntry | Mapping[str, Any]) -> DocumentEntry:
        """`entry` as a DocumentEntry (a manifest entry is read; a DocumentEntry is itself)."""
        return entry if isinstance(entry, DocumentEntry) else cls.from_manifest(doc_id, entry)

    @classmethod
    def from_manifest(cls, doc_id: str, entry: Mapping[str, Any]) -> DocumentEntry:
        def text(name: str) -> str | None:
            value = entry.get(name)
            return str(value) if value is not None else None

        def number(name: str) -> int:
            try:
                return int(entry.get(name) or 0)
            except (TypeError, ValueError):
                return 0

        return cls(
            doc_id=doc_id, title=text("title") or "", hash=text("hash") or "", published=text("published"),
            source=text("source"), author=text("author"), url=text("url"), added=text("added"),
            story=text("story"), chars=number("chars"), chunks=number("chunks"),
            indexed_at=text("indexed_at") or "",
            news_recorded=all(name in entry for name in ("published", "source", "url")),
        )


def catalog_of(manifest: Mapping[str, Any]) -> dict[str, DocumentEntry]:
    """Doc id -> its `DocumentEntry`, from a manifest (either engine's: they record the same)."""
    return {doc_id: DocumentEntry.from_manifest(doc_id, entry)
            for doc_id, entry in manifest.get("documents", {}).items()}


class Snapshot(Protocol):
    """One committed state of the index, as the program reads it."""

    @property
    def manifest(self) -> dict[str, Any]: ...  # the engine's own record; read `catalog` instead

    @property
    def catalog(self) -> Mapping[str, DocumentEntry]: ...

    @property
    def documents(self) -> Mapping[str, Document]: ...

    @property
    def chunks(self) -> Sequence[Chunk]: ...


class Searcher(Protocol):
    """Search over one snapshot: `search` returns at most k `Hit`s, best first, of the articles
    `filters` allows; `idf` is the inverse document frequency of a word in the index."""

    @property
    def index(self) -> Snapshot: ...

    @property
    def idf(self) -> Callable[[str], float]: ...

    def search(self, query: str, k: int, filters: Filters | None = None) -> list[Hit]: ...


class Index(Protocol):
    """An index engine, bound to the settings that name where the index lives."""

    where: str  # for messages: the index folder, or "Milvus at …"

    def exists(self) -> bool: ...

    def load(self, previous: Snapshot | None = None) -> Snapshot:
        """The index as committed now; what `previous` (an earlier snapshot) holds open is reused."""
        ...

    def changed(self, snapshot: Snapshot) -> bool:
        """Whether another writer committed since `snapshot` was loaded (and it must be loaded again)."""
        ...

    def prepare(self, progress: Progress | None = None, batch: int | None = None) -> Prepared:
        """Chunk and embed what `update` would, writing nothing (safe while questions are answered)."""
        ...

    def update(
        self, prepared: Prepared | None = None, progress: Progress | None = None, previous: Snapshot | None = None
    ) -> tuple[Snapshot, IndexReport]:
        """Bring the index up to date with the documents folder, embedding only what changed and
        was not in `prepared`; `previous`: the snapshot this process serves."""
        ...

    def searcher(self, snapshot: Snapshot, embedder: Embedder) -> Searcher: ...

    def tidy(self) -> None:
        """Delete what the last update replaced and no reader holds any more."""
        ...


class Engine:
    """What both engines hold: the settings, the embedder they load and write with (optional: asking
    whether an index exists needs none), and `where` the index is, for messages."""

    def __init__(self, settings: Settings, embedder: Embedder | None, where: str) -> None:
        self.settings = settings
        self._embedder = embedder
        self.where = where

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            raise TypeError("this index was opened without an embedder: pass one to open_index")
        return self._embedder


def open_index(settings: Settings, embedder: Embedder | None = None) -> Index:
    """The engine the settings name; `embedder` is needed to load, prepare and update (not to ask
    whether an index exists)."""
    if settings.milvus_uri:
        from rag.index.milvus.engine import MilvusEngine

        return MilvusEngine(settings, embedder)
    from rag.index.local.engine import LocalEngine

    return LocalEngine(settings, embedder)
