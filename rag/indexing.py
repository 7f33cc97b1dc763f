"""Bring the index up to date with the documents folder, re-embedding only what changed.

A document whose content hash matches the manifest keeps its chunks and vectors; a new or edited
one is chunked and embedded; a deleted one disappears. A document whose text is unchanged but whose
title is not (an HTML <title> edited, or titles made differently by a newer version) gets its new
title without being embedded again. Changing the embedder or the chunking settings rebuilds
everything. Nothing is written when nothing changed (data files a killed clean-up left behind are
still deleted then).

A document that cannot be split into passages is skipped with the reason, like an unreadable file,
and the rest are indexed. Chunks are embedded in batches across documents: many small files cost
a few embedder calls, not one each. `prepare` does the slow part (chunking and embedding the new
and changed documents) ahead of `update_index` and remembers the result in this process, so that a
caller holding a lock for `update_index` (the web app's `Assistant.index`) holds it only briefly.

Deliberately not here: the on-disk format (store.py) and reading files (loading.py). The Milvus
backend (milvus_index.py) shares `plan` and `embed_documents` and writes to Milvus instead.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rag import store
from rag.chunking import ChunkingSettings, chunk_document
from rag.embedding import Embedder
from rag.errors import IndexStoreError
from rag.loading import Skipped, load_documents
from rag.types import Chunk, Document

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]  # (documents done, documents to embed, current document id)

EMBED_BATCH = 128  # chunks per embedder call: large enough for many small files, small enough for progress

Prepared = tuple[list[Chunk], np.ndarray]
_prepared: dict[tuple[str, str, str, str], Prepared] = {}  # (embedder, chunking, doc id, hash) -> its chunks
_prepared_lock = threading.Lock()


@dataclass
class IndexReport:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    retitled: list[str] = field(default_factory=list)  # among the unchanged: only the title is new
    skipped: list[Skipped] = field(default_factory=list)
    chunks_embedded: int = 0
    seconds: float = 0.0

    @property
    def wrote(self) -> bool:
        return bool(self.added or self.changed or self.removed or self.retitled)

    def summary(self) -> str:
        retitled = f", {len(self.retitled)} with a new title" if self.retitled else ""
        return (
            f"{len(self.added)} added, {len(self.changed)} changed, {len(self.removed)} removed, "
            f"{len(self.unchanged)} unchanged (not re-embedded{retitled}), {len(self.skipped)} file(s) skipped; "
            f"{self.chunks_embedded} chunk{'' if self.chunks_embedded == 1 else 's'} embedded in {self.seconds:.1f} s"
        )


def _previous(index_dir: Path, embedder: Embedder, chunking: ChunkingSettings) -> store.StoredIndex | None:
    if not store.exists(index_dir):
        return None
    try:
        previous = store.load(index_dir, embedder.name, embedder.dimension)
    except IndexStoreError as err:
        log.warning("Rebuilding the whole index: %s", err)
        return None
    if previous.manifest.get("chunking") != chunking.as_dict():
        log.warning("Chunking settings changed since the last build: rebuilding the whole index.")
        return None
    return previous


def _changes(
    documents_dir: Path, index_dir: Path, embedder: Embedder, chunking: ChunkingSettings
) -> tuple[list[Document], store.StoredIndex | None, IndexReport]:
    """The usable documents, the previous index and a report of what changed (nothing embedded yet)."""
    documents, skipped = load_documents(documents_dir)
    previous = _previous(index_dir, embedder, chunking)
    old_docs = previous.manifest.get("documents", {}) if previous else {}
    report, _ = plan(documents, old_docs, skipped)
    return documents, previous, report


def _key(embedder: Embedder, chunking: ChunkingSettings, doc: Document) -> tuple[str, str, str, str]:
    return embedder.name, repr(sorted(chunking.as_dict().items())), doc.id, doc.hash


def _embed_all(
    to_embed: list[Document],
    documents_dir: Path,
    embedder: Embedder,
    chunking: ChunkingSettings,
    progress: Progress | None,
) -> tuple[dict[str, Prepared], list[Skipped]]:
    """Chunk and embed `to_embed`, a batch of chunks at a time; a document that fails is skipped."""
    done: dict[str, Prepared] = {}
    skipped: list[Skipped] = []
    pending: list[tuple[Document, list[Chunk]]] = []

    def flush() -> None:
        texts = [c.text for _, chunks in pending for c in chunks]
        vectors = embedder.embed(texts) if texts else np.zeros((0, embedder.dimension), np.float32)
        row = 0
        for doc, chunks in pending:
            done[doc.id] = (chunks, vectors[row : row + len(chunks)])
            row += len(chunks)
        pending.clear()

    with _prepared_lock:
        ready = {d.id: _prepared.pop(key) for d in to_embed if (key := _key(embedder, chunking, d)) in _prepared}
    for n, doc in enumerate(to_embed):
        if doc.id in ready:
            done[doc.id] = ready[doc.id]
            continue
        if progress:
            progress(n, len(to_embed), doc.id)
        try:
            chunks = chunk_document(doc, chunking, embedder.fits)
        except Exception as err:  # one odd document must not stop the others from being indexed
            log.warning("Skipping %s: it could not be split into passages (%s: %s)", doc.id, type(err).__name__, err)
            skipped.append(Skipped(str(documents_dir / doc.id), f"it could not be split into passages ({err})"))
            continue
        pending.append((doc, chunks))
        if sum(len(c) for _, c in pending) >= EMBED_BATCH:
            flush()
    if pending:
        flush()
    return done, skipped


def prepare(
    documents_dir: Path,
    index_dir: Path,
    embedder: Embedder,
    chunking: ChunkingSettings,
    progress: Progress | None = None,
) -> IndexReport:
    """Chunk and embed what `update_index` would, without writing; it then reuses the result.

    Safe to run while answers are being given from the current index: it reads, and writes nothing.
    """
    documents, _, report = _changes(documents_dir, index_dir, embedder, chunking)
    to_embed = [d for d in documents if d.id in {*report.added, *report.changed}]
    done, skipped = _embed_all(to_embed, documents_dir, embedder, chunking, progress)
    with _prepared_lock:
        _prepared.clear()  # only the latest preparation is kept: memory is bounded by one batch of uploads
        by_id = {d.id: d for d in to_embed}
        _prepared.update({_key(embedder, chunking, by_id[i]): value for i, value in done.items()})
    report.skipped.extend(skipped)
    return report


def update_index(
    documents_dir: Path,
    index_dir: Path,
    embedder: Embedder,
    chunking: ChunkingSettings,
    progress: Progress | None = None,
) -> tuple[store.StoredIndex, IndexReport]:
    started = time.perf_counter()
    documents, previous, report = _changes(documents_dir, index_dir, embedder, chunking)
    if previous and not report.wrote:
        store.remove_unreferenced(index_dir, previous.manifest)
        return previous, _finish(report, started)

    to_embed = [d for d in documents if d.id in {*report.added, *report.changed}]
    new_chunks, failed = _embed_all(to_embed, documents_dir, embedder, chunking, progress)
    if progress:
        progress(len(to_embed), len(to_embed), "")
    if failed:
        report.skipped.extend(failed)
        lost = {Path(s.path).relative_to(documents_dir).as_posix() for s in failed}
        documents = [d for d in documents if d.id not in lost]
        report.added = [i for i in report.added if i not in lost]
        report.changed = [i for i in report.changed if i not in lost]
    old_docs = previous.manifest.get("documents", {}) if previous else {}
    if failed:
        # A changed document that now fails leaves the index too: its old text is no longer in the folder.
        report.removed = sorted({*report.removed, *(lost & set(old_docs))})
    kept: dict[str, list[int]] = {}
    if previous:
        for row, chunk in enumerate(previous.chunks):
            kept.setdefault(chunk.doc_id, []).append(row)
    chunks_out: list[Chunk] = []
    vectors_out: list[np.ndarray] = []
    doc_entries: dict[str, dict[str, object]] = {}
    now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    for doc in documents:
        if doc.id in new_chunks:
            chunks, vectors = new_chunks[doc.id]
            indexed_at = now
        else:
            assert previous is not None
            rows = kept.get(doc.id, [])
            chunks = [previous.chunks[r] for r in rows]
            vectors = previous.vectors[rows] if rows else np.zeros((0, embedder.dimension), np.float32)
            indexed_at = str(old_docs[doc.id].get("indexed_at", now))
        chunks_out.extend(chunks)
        vectors_out.append(vectors)
        doc_entries[doc.id] = _doc_entry(doc, len(chunks), indexed_at)

    manifest = {
        "embedder": {"name": embedder.name, "dimension": embedder.dimension},
        "chunking": chunking.as_dict(),
        "documents": doc_entries,
        "built_at": now,
    }
    vectors = np.vstack(vectors_out) if vectors_out else np.zeros((0, embedder.dimension), np.float32)
    index = store.StoredIndex(manifest, {d.id: d for d in documents}, chunks_out, vectors.astype(np.float32))
    store.save(index_dir, index)
    report.chunks_embedded = sum(len(c) for c, _ in new_chunks.values())
    return index, _finish(report, started)


def plan(
    documents: list[Document], old_docs: dict[str, dict[str, object]], skipped: list[Skipped]
) -> tuple[IndexReport, list[Document]]:
    """Compare the documents with the previous manifest's entries: the report, and what to embed."""
    report = IndexReport(skipped=skipped)
    to_embed = [d for d in documents if old_docs.get(d.id, {}).get("hash") != d.hash]
    for doc in documents:
        if doc.id not in old_docs:
            report.added.append(doc.id)
        elif doc in to_embed:
            report.changed.append(doc.id)
        else:
            report.unchanged.append(doc.id)
            if old_docs[doc.id].get("title") != doc.title:
                report.retitled.append(doc.id)
    current_ids = {d.id for d in documents}
    report.removed.extend(sorted(set(old_docs) - current_ids))
    return report, to_embed


def embed_documents(
    to_embed: list[Document], embedder: Embedder, chunking: ChunkingSettings, progress: Progress | None = None
) -> dict[str, tuple[list[Chunk], np.ndarray]]:
    """Chunk and embed each document: doc id -> (its chunks, their vectors)."""
    new_chunks: dict[str, tuple[list[Chunk], np.ndarray]] = {}
    for n, doc in enumerate(to_embed):
        if progress:
            progress(n, len(to_embed), doc.id)
        chunks = chunk_document(doc, chunking, embedder.fits)
        new_chunks[doc.id] = (chunks, embedder.embed([c.text for c in chunks]))
    if progress:
        progress(len(to_embed), len(to_embed), "")
    return new_chunks


def _doc_entry(doc: Document, chunks: int, indexed_at: str) -> dict[str, object]:
    return {"hash": doc.hash, "title": doc.title, "chars": len(doc.text), "chunks": chunks, "indexed_at": indexed_at}


def _finish(report: IndexReport, started: float) -> IndexReport:
    report.seconds = time.perf_counter() - started
    return report
