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
and changed documents) ahead of `update_index` and returns it (`Prepared`), which the caller hands
to `update_index`, so that the writer (the web app's `Assistant.index`) holds its lock only briefly.

Each commit also groups the articles into stories (copies of one another, rag/index/stories.py) and
writes each one's story in its manifest entry, so documents and stories are committed together.
A file's signature includes the `_folder.meta.json` files of its folders, so editing one re-reads
the files it describes. An index written before dates were split into published and added
(`news_version` below 2) has every file read once more, its entries' dates corrected, nothing
embedded again.

`update_index` is one writer (store.writer_lock, across processes) from reading the manifest to
the commit, so what it plans (what changed, what to merge) is planned from the manifest it commits
against; another writer is waited for up to `wait_s`. A damaged index is never a dead end: an
unreadable or foreign manifest is rebuilt from the documents, and a segment that is missing or
unreadable is repaired by embedding its articles again; the report's notes say which was done.

Deliberately not here: the on-disk format (rag/index/local/store.py) and reading files
(rag/ingest/loading.py). The Milvus engine (rag/index/milvus/store.py) shares the steps both
engines take (`scan_folder`, `plan`, `embed_all`, `Prepared`, `doc_entry`, `finish`) and writes to
Milvus instead (without the writer lock: Milvus is its own server). The interface over both
engines is rag/index/__init__.py.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rag import faults
from rag.errors import IndexStoreError
from rag.index import stories
from rag.index.local import store
from rag.index.manifest import check_compatible
from rag.ingest import metadata
from rag.ingest.chunking import ChunkingSettings, chunk_document
from rag.ingest.loading import Skipped, UnusableFile, list_folder, read_file, require_folder
from rag.models.embedding import Embedder
from rag.progress import Progress
from rag.types import Chunk, Document

log = logging.getLogger(__name__)

# progress: (documents embedded, documents to embed, the document being embedded; "" when saving)

EMBED_BATCH = 128  # chunks per embedder call: large enough for many small files, small enough for progress

Embedded = tuple[list[Chunk], np.ndarray]  # one document's chunks and their vectors


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
    notes: list[str] = field(default_factory=list)  # e.g. "old.txt: not UTF-8, read as Windows-1252"

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


@dataclass
class Prepared:
    """What `prepare` chunked and embedded ahead of an update (which then embeds only the rest):
    the report of what it found changed, and per document version its chunks and vectors."""

    report: IndexReport
    embedded: dict[tuple[str, str, str, str], Embedded] = field(default_factory=dict)  # see `prepared_key`

    def ready(self, embedder: Embedder, chunking: ChunkingSettings, documents: list[Document]) -> dict[str, Embedded]:
        """Doc id -> chunks and vectors, of the `documents` prepared with this embedder and chunking."""
        return {d.id: self.embedded[key] for d in documents
                if (key := prepared_key(embedder, chunking, d)) in self.embedded}


NEWS_VERSION = 2  # 2: a file's time is `added`, never `published`; entries carry "added" and "story"
WAIT_S = 120.0  # how long a writer waits for another one by default (Settings.index_wait)
SEGMENT_CHUNKS = 20_000  # a long build commits a segment at least this often: killed, it resumes
MERGE_FACTOR = 4  # this many segments of about one size are merged into one
SMALL_SEGMENT = 1_000  # chunks: segments below this are all of the smallest size
MOSTLY_DEAD = 0.5  # a segment with less than this share of live rows is rewritten


@dataclass
class _Scan:
    """The documents folder compared with the manifest, before embedding anything."""

    manifest: dict[str, Any] | None  # the previous, compatible manifest; None: build from nothing
    documents: dict[str, Document]  # the files read: new or modified since the last build
    stats: dict[str, list[int]]  # doc id -> the file's signature (size, mtime, sidecar's), for every file
    report: IndexReport
    previous: _Previous | None = None  # the previous index's segments, checked and open


@dataclass
class _Previous:
    """The segments of the previous manifest, checked by opening them: those opened here (`owned`,
    closed by whoever is done with them) and those borrowed from a reader's snapshot."""

    segments: dict[str, store.Segment]
    owned: set[str]
    repaired: bool = False  # articles of a missing or unreadable segment were dropped: write a new manifest

    def release(self, keep: Mapping[str, store.Segment]) -> None:
        """Close what this opened and `keep` (the new snapshot) does not use."""
        for name in self.owned - set(keep):
            self.segments[name].close()
        self.owned &= set(keep)


def _previous_manifest(
    index_dir: Path, embedder: Embedder, chunking: ChunkingSettings, notes: list[str],
    verify: bool = True, reuse: Mapping[str, store.Segment] | None = None,
) -> tuple[dict[str, Any] | None, _Previous | None]:
    """The previous manifest to build on, or None to build from nothing (a note says why). With
    `verify`, each segment it names is opened (or taken from `reuse`): the articles of one that is
    missing or unreadable are dropped from it, so they are embedded again, and a note says so."""
    if not store.exists(index_dir):
        return None, None
    try:
        manifest = store.read_manifest(index_dir)
        check_compatible(manifest, embedder.name, embedder.dimension, index_dir)
    except IndexStoreError as err:
        reason = err.args[0].split(" Run `rag index`")[0]  # this is that run: no advice to run it
        notes.append(f"{reason} The index was rebuilt from the documents.")
        log.warning("Rebuilding the whole index: %s", reason)
        return None, None
    if manifest.get("chunking") != chunking.as_dict():
        notes.append("The chunking settings changed since the last build: the index was rebuilt.")
        log.warning("Chunking settings changed since the last build: rebuilding the whole index.")
        return None, None
    if not verify:
        return manifest, None
    return _checked(index_dir, manifest, notes, reuse or {})


def _checked(
    index_dir: Path, manifest: dict[str, Any], notes: list[str], reuse: Mapping[str, store.Segment]
) -> tuple[dict[str, Any], _Previous]:
    documents: dict[str, dict[str, Any]] = manifest.get("documents", {})
    previous = _Previous({}, set())
    broken: dict[str, str] = {}
    for entry in manifest.get("segments", []):
        name = str(entry["name"])
        held = reuse.get(name)
        if held is not None and held.path == index_dir / name and held.path.is_dir():
            previous.segments[name] = held
            continue
        try:
            previous.segments[name] = store.Segment(index_dir, name, 0, documents)
            previous.owned.add(name)
        except FileNotFoundError:
            broken[name] = "missing"
        except Exception as err:  # any way a segment can be unreadable: it is rebuilt, not fatal
            broken[name] = f"unreadable: {type(err).__name__}"
    lost = sorted(
        doc_id for doc_id, entry in documents.items()
        if entry.get("segment") not in previous.segments
        or doc_id not in previous.segments[entry["segment"]].position_of
    )
    if broken or lost:
        what = ", ".join(f"{name} is {why}" for name, why in sorted(broken.items())) or "articles are in no segment"
        message = (
            f"The index in {index_dir} was damaged ({what}): repaired by embedding its "
            f"{len(lost)} article{'' if len(lost) == 1 else 's'} again."
        )
        notes.append(message)
        log.warning("%s", message)
        previous.repaired = True
        manifest = {
            **manifest,
            "segments": [e for e in manifest.get("segments", []) if e["name"] in previous.segments],
            "documents": {d: e for d, e in documents.items() if d not in set(lost)},
        }
    return manifest, previous


def _signature(path: Path, maybe_sidecar: bool = True, folder_files: tuple[int, ...] = ()) -> list[int]:
    """What says a file may have changed without reading it: its size and modification time, those
    of its metadata sidecar (`<file>.meta.json`) when it has one, then `folder_files` (the sizes and
    times of its folders' `_folder.meta.json`)."""
    stat = path.stat()
    signature = [stat.st_size, stat.st_mtime_ns, *folder_files]
    if not maybe_sidecar:
        return signature
    sidecar = path.with_name(path.name + ".meta.json")
    try:
        side = sidecar.stat()
        signature += [side.st_size, side.st_mtime_ns]
    except OSError:
        pass
    return signature


def _scan(
    documents_dir: Path, index_dir: Path, embedder: Embedder, chunking: ChunkingSettings,
    verify: bool = True, reuse: Mapping[str, store.Segment] | None = None,
) -> _Scan:
    """Read only the files that are new or whose size or time changed; the report says what changed."""
    require_folder(documents_dir)
    repairs: list[str] = []
    manifest, previous = _previous_manifest(index_dir, embedder, chunking, repairs, verify, reuse)
    old_docs: dict[str, dict[str, Any]] = manifest.get("documents", {}) if manifest else {}
    reread = manifest is not None and manifest.get("news_version") != NEWS_VERSION
    found = scan_folder(documents_dir, old_docs, reread)
    found.report.notes[:0] = repairs
    return _Scan(manifest, found.documents, found.stats, found.report, previous)


@dataclass
class FolderScan:
    """The documents folder compared with a manifest's entries (either engine's), before embedding:
    the files read (new, or whose signature changed), every file's signature, and the report."""

    documents: dict[str, Document]
    stats: dict[str, list[int]]  # doc id -> the file's signature (size, mtime, sidecar's), for every file
    report: IndexReport

    def touched(self, old_docs: Mapping[str, Mapping[str, Any]]) -> list[str]:
        """The unchanged documents whose signature is new (read again, same text): their entries need
        the new signature, or they would be read at every update."""
        return [i for i in self.report.unchanged if old_docs[i].get("stat") != self.stats[i]]


def scan_folder(documents_dir: Path, old_docs: Mapping[str, Mapping[str, Any]], reread: bool = False) -> FolderScan:
    """Read only the files that are new or whose signature (`stat` in `old_docs`: size, time, sidecars)
    changed, and compare them with `old_docs`; `reread`: read every file (the entries are outdated).
    Shared by both engines: an update of an unchanged archive opens no article."""
    require_folder(documents_dir)
    sidecars: set[Path] = set()
    files, skipped = list_folder(documents_dir, sidecars)
    for why in skipped:
        log.warning("Skipping %s: %s", why.path, why.reason)
    documents: dict[str, Document] = {}
    stats: dict[str, list[int]] = {}
    report_notes: list[str] = []
    folder_files = _folder_files(documents_dir, sidecars)
    for path in files:
        doc_id = path.relative_to(documents_dir).as_posix()
        try:
            signature = _signature(
                path, path.with_name(path.name + ".meta.json") in sidecars, folder_files(path.parent)
            )
        except OSError as err:
            skipped.append(Skipped(str(path), f"it cannot be read ({err.strerror})"))
            continue
        stats[doc_id] = signature
        if doc_id in old_docs and old_docs[doc_id].get("stat") == signature and not reread:
            continue  # unchanged since it was indexed: not read again
        try:
            document, note = read_file(path, doc_id)
        except UnusableFile as why:
            log.warning("Skipping %s: %s", path, why)
            skipped.append(Skipped(str(path), str(why)))
            continue
        except Exception as err:  # a reader failing in a way nobody foresaw must not stop the other files
            log.exception("Skipping %s: reading it failed", path)
            skipped.append(Skipped(str(path), f"reading it failed ({type(err).__name__}: {err})"))
            continue
        if note:
            log.warning("%s: %s", path, note)
            report_notes.append(f"{doc_id}: {note}")
        documents[doc_id] = document
    read_before = {i: dict(old_docs[i]) for i in documents if i in old_docs}
    report, _ = plan(list(documents.values()), read_before, skipped)
    report.notes.extend(report_notes)
    report.unchanged.extend(i for i in stats if i in old_docs and i not in documents)
    report.unchanged.sort()
    # A file that can no longer be read leaves the index: its old text is no longer what the folder holds.
    report.removed = sorted(i for i in old_docs if i not in documents and old_docs[i].get("stat") != stats.get(i))
    report.unchanged = [i for i in report.unchanged if i not in report.removed]
    return FolderScan(documents, stats, report)


def _folder_files(documents_dir: Path, sidecars: set[Path]) -> Callable[[Path], tuple[int, ...]]:
    """folder -> the sizes and times of the `_folder.meta.json` files that describe its files (its
    own and its parents' up to the documents folder), remembered per folder."""
    own: dict[Path, tuple[int, ...]] = {}
    for path in sidecars:
        if path.name == metadata.FOLDER_SIDECAR:
            try:
                stat = path.stat()
            except OSError:
                continue
            own[path.parent] = (stat.st_size, stat.st_mtime_ns)
    known: dict[Path, tuple[int, ...]] = {}

    def of(folder: Path) -> tuple[int, ...]:
        if not own:
            return ()
        if folder not in known:
            inside = folder != documents_dir and documents_dir in folder.parents
            known[folder] = (of(folder.parent) if inside else ()) + own.get(folder, ())
        return known[folder]

    return of


def prepared_key(embedder: Embedder, chunking: ChunkingSettings, doc: Document) -> tuple[str, str, str, str]:
    """What a prepared document's vectors hold for: the embedder, the chunking, the document version."""
    return embedder.name, repr(sorted(chunking.as_dict().items())), doc.id, doc.hash


def embed_all(
    to_embed: list[Document],
    documents_dir: Path,
    embedder: Embedder,
    chunking: ChunkingSettings,
    progress: Progress | None,
    collect: Callable[[Document, list[Chunk], np.ndarray], None] | None = None,
    batch: int | None = None,
    prepared: Prepared | None = None,
) -> tuple[Any, list[Skipped]]:
    """Chunk and embed `to_embed`, a batch of chunks at a time; a document that fails is skipped;
    one in `prepared` is taken from it, not embedded again.

    Without `collect`: doc id -> (chunks, vectors) of every document. With it: each document is
    handed to `collect` as soon as it is embedded (nothing is kept) and the number of chunks
    embedded is returned."""
    done: dict[str, Embedded] = {}
    embedded = 0
    skipped: list[Skipped] = []
    pending: list[tuple[Document, list[Chunk]]] = []

    def flush() -> None:
        texts = [c.text for _, chunks in pending for c in chunks]
        vectors = embedder.embed(texts) if texts else np.zeros((0, embedder.dimension), np.float32)
        nonlocal embedded
        embedded += len(texts)
        row = 0
        for doc, chunks in pending:
            hand_over(doc, (chunks, vectors[row : row + len(chunks)]))
            row += len(chunks)
        pending.clear()

    def hand_over(doc: Document, embedded: Embedded) -> None:
        if collect is None:
            done[doc.id] = embedded
        else:
            collect(doc, *embedded)

    ready = prepared.ready(embedder, chunking, to_embed) if prepared is not None else {}
    for n, doc in enumerate(to_embed):
        if doc.id in ready:
            hand_over(doc, ready[doc.id])
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
        if sum(len(c) for _, c in pending) >= (batch or EMBED_BATCH):
            flush()
    if pending:
        flush()
    return (done if collect is None else embedded), skipped


def prepare(
    documents_dir: Path,
    index_dir: Path,
    embedder: Embedder,
    chunking: ChunkingSettings,
    progress: Progress | None = None,
    batch: int | None = None,
) -> Prepared:
    """Chunk and embed what `update_index` would, without writing; pass the result to `update_index`.

    Safe to run while answers are being given from the current index: it reads, and writes nothing.
    `batch` chunks (EMBED_BATCH by default) are embedded per call (`progress` is called between documents: a caller that
    waits there, as the feed refresher does while a question is answered, pauses after a batch).
    """
    scan = _scan(documents_dir, index_dir, embedder, chunking, verify=False)
    report = scan.report
    to_embed = [scan.documents[i] for i in (*report.added, *report.changed)]
    return prepare_planned(report, to_embed, documents_dir, embedder, chunking, progress, batch)


def prepare_planned(
    report: IndexReport,
    to_embed: list[Document],
    documents_dir: Path,
    embedder: Embedder,
    chunking: ChunkingSettings,
    progress: Progress | None = None,
    batch: int | None = None,
) -> Prepared:
    """Embed the documents a plan says to (for either engine's `prepare`), keyed for `update_index`."""
    done, skipped = embed_all(to_embed, documents_dir, embedder, chunking, progress, batch=batch)
    report.skipped.extend(skipped)
    by_id = {d.id: d for d in to_embed}
    return Prepared(report, {prepared_key(embedder, chunking, by_id[i]): value for i, value in done.items()})


def update_index(
    documents_dir: Path,
    index_dir: Path,
    embedder: Embedder,
    chunking: ChunkingSettings,
    progress: Progress | None = None,
    *,
    wait_s: float = WAIT_S,
    reuse: Mapping[str, store.Segment] | None = None,
    prepared: Prepared | None = None,
) -> tuple[store.StoredIndex, IndexReport]:
    """Bring the index in `index_dir` up to date with `documents_dir`, as its only writer (waiting
    up to `wait_s` for another one); `reuse`: the segments of a snapshot this process holds
    (StoredIndex.segment_named), used instead of opening them again; `prepared`: what `prepare`
    embedded already."""
    started = time.perf_counter()
    with store.writer_lock(index_dir, wait_s):
        scan = _scan(documents_dir, index_dir, embedder, chunking, reuse=reuse)
        stored: store.StoredIndex | None = None
        try:
            stored, report = _update(scan, documents_dir, index_dir, embedder, chunking, progress, prepared)
        finally:
            if scan.previous is not None:
                scan.previous.release(keep=stored.segment_named if stored is not None else {})
        # Once this process no longer holds them, the segments the commit replaced can go.
        store.remove_unreferenced(index_dir, stored.manifest)
    return stored, finish(report, started)


def _update(
    scan: _Scan, documents_dir: Path, index_dir: Path, embedder: Embedder, chunking: ChunkingSettings,
    progress: Progress | None, prepared: Prepared | None = None,
) -> tuple[store.StoredIndex, IndexReport]:
    report = scan.report
    held = scan.previous.segments if scan.previous is not None else {}
    old_docs: dict[str, dict[str, Any]] = dict(scan.manifest.get("documents", {})) if scan.manifest else {}
    touched = FolderScan(scan.documents, scan.stats, report).touched(old_docs)
    current = scan.manifest is not None and scan.manifest.get("news_version") == NEWS_VERSION and (
        scan.manifest.get("stories") == stories.SETTINGS
    )
    repaired = scan.previous is not None and scan.previous.repaired
    if scan.manifest is not None and not report.wrote and not touched and current and not repaired:
        return store.load(index_dir, embedder.name, embedder.dimension, reuse=held), report

    manifest: dict[str, Any] = {
        "embedder": {"name": embedder.name, "dimension": embedder.dimension},
        "chunking": chunking.as_dict(),
        "news_version": NEWS_VERSION,
        "stories": stories.SETTINGS,
        "segments": list(scan.manifest.get("segments", [])) if scan.manifest else [],
        "documents": old_docs,
    }
    now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    signatures = stories.Signatures(index_dir)
    for doc_id in report.removed:
        old_docs.pop(doc_id, None)
    for doc_id in report.unchanged:  # touched or retitled: a new signature or title, the same vectors
        entry = old_docs[doc_id] = {**old_docs[doc_id], "stat": scan.stats[doc_id]}
        if doc_id in scan.documents:
            document = scan.documents[doc_id]
            # The dates too: the file's time is not hashed, and an older index kept it as `published`.
            entry.update(title=document.title, published=document.published, added=document.added)
            signatures.add(str(entry["hash"]), document.text)

    def commit() -> None:
        count = stories.regroup(old_docs, signatures, lambda ids: _texts(index_dir, old_docs, ids))
        log.info("%d stories of more than one article", count)
        signatures.save(str(e["hash"]) for e in old_docs.values())
        manifest["built_at"] = now
        store.commit(index_dir, manifest)

    to_embed = [scan.documents[i] for i in (*report.added, *report.changed)]
    pending: list[tuple[Document, list[Chunk], np.ndarray]] = []

    def write_pending() -> None:
        segment = store.SegmentInput(
            [d for d, _, _ in pending],
            [c for _, chunks, _ in pending for c in chunks],
            np.vstack([v for _, _, v in pending]),
        )
        name = store.write_segment(index_dir, segment, embedder.dimension)
        manifest["segments"].append({"name": name, "chunks": segment.size})
        for doc, chunks, _ in pending:
            old_docs[doc.id] = doc_entry(doc, len(chunks), now, name, scan.stats[doc.id])
            signatures.add(doc.hash, doc.text)
        _drop_empty_segments(manifest)
        commit()  # a long build is kept segment by segment
        pending.clear()

    def collect(doc: Document, chunks: list[Chunk], vectors: np.ndarray) -> None:
        pending.append((doc, chunks, vectors))
        if sum(len(c) for _, c, _ in pending) >= SEGMENT_CHUNKS:
            write_pending()

    embedded, failed = embed_all(to_embed, documents_dir, embedder, chunking, progress, collect, prepared=prepared)
    if progress:
        progress(len(to_embed), len(to_embed), "")
    if failed:
        report.skipped.extend(failed)
        lost = {Path(s.path).relative_to(documents_dir).as_posix() for s in failed}
        report.added = [i for i in report.added if i not in lost]
        report.changed = [i for i in report.changed if i not in lost]
        # A changed document that now fails leaves the index too: its old text is no longer in the folder.
        report.removed = sorted({*report.removed, *(lost & set(old_docs))})
        for doc_id in lost:
            old_docs.pop(doc_id, None)
    if pending:
        write_pending()
    _drop_empty_segments(manifest)
    _merge(index_dir, manifest, embedder.dimension, held)
    commit()
    report.chunks_embedded = embedded
    return store.load(index_dir, embedder.name, embedder.dimension, reuse=held), report


def _texts(index_dir: Path, entries: dict[str, dict[str, Any]], doc_ids: list[str]) -> dict[str, str]:
    """The stored texts of these documents, read from their segments (for signatures not cached)."""
    by_segment: dict[str, list[str]] = {}
    for doc_id in doc_ids:
        by_segment.setdefault(str(entries[doc_id]["segment"]), []).append(doc_id)
    texts: dict[str, str] = {}
    for segment in store.load_segments(index_dir, sorted(by_segment), entries):
        try:
            wanted = by_segment[segment.name]
            for document in segment.read_documents([segment.position_of[d] for d in wanted]):
                texts[document.id] = document.text
        finally:
            segment.close()
    return texts


def _drop_empty_segments(manifest: dict[str, Any]) -> None:
    used = {e.get("segment") for e in manifest["documents"].values()}
    manifest["segments"] = [s for s in manifest["segments"] if s["name"] in used]


def _level(live: int) -> int:
    """Segments of one level hold about as many live chunks, within a factor of MERGE_FACTOR."""
    if live < SMALL_SEGMENT:
        return 0
    return 1 + int(math.log(live / SMALL_SEGMENT, MERGE_FACTOR))


def _merge_candidates(manifest: dict[str, Any]) -> list[str]:
    """The segments to merge next: MERGE_FACTOR or more of one level (with any mostly dead ones),
    or the mostly dead ones alone; none when the index is tidy."""
    live: dict[str, int] = {s["name"]: 0 for s in manifest["segments"]}
    for entry in manifest["documents"].values():
        if entry.get("segment") in live:
            live[entry["segment"]] += int(entry.get("chunks", 0))
    rows = {s["name"]: int(s.get("chunks", 0)) for s in manifest["segments"]}
    dead = [n for n in live if rows[n] and live[n] < MOSTLY_DEAD * rows[n]]
    levels: dict[int, list[str]] = {}
    for name in live:
        levels.setdefault(_level(live[name]), []).append(name)
    for level in sorted(levels):
        if len(levels[level]) >= MERGE_FACTOR:
            return sorted({*levels[level], *dead}, key=list(live).index)
    return dead


def _merge(
    index_dir: Path, manifest: dict[str, Any], dimension: int, held: Mapping[str, store.Segment] | None = None
) -> None:
    """Merge the segments the policy picks until none is left to merge: each chunk is rewritten
    about log(size) times over the life of an index, and a search reads a few segments, not one
    per update. Nothing is embedded again: vectors and term counts are copied. `held`: segments
    already open (their liveness is taken from `manifest`, not from when they were opened)."""
    held = held or {}
    while names := _merge_candidates(manifest):
        faults.point("index.merge", segments=names)
        entries = manifest["documents"]
        opened = store.load_segments(index_dir, [n for n in names if n not in held], entries)
        try:
            _merge_once(index_dir, manifest, dimension, names, held, opened)
        finally:
            for segment in opened:
                segment.close()


def _merge_once(
    index_dir: Path, manifest: dict[str, Any], dimension: int, names: list[str],
    held: Mapping[str, store.Segment], opened: list[store.Segment],
) -> None:
    entries = manifest["documents"]
    by_name = {s.name: s for s in opened}
    loaded = [held[n].relive(0, entries) if n in held else by_name[n] for n in names]
    documents: list[Document] = []
    chunks: list[Chunk] = []
    vectors: list[np.ndarray] = []
    counts: list[tuple[Any, list[str]]] = []
    for segment in loaded:
        texts: dict[str, str] = {}
        for document in segment.read_documents([int(p) for p in np.flatnonzero(segment.live_docs)]):
            documents.append(document)
            texts[document.id] = document.text
        keep = np.flatnonzero(segment.live)
        for local in keep:
            doc_id = segment.doc_ids[int(segment.doc[local])]
            start, end = int(segment.start[local]), int(segment.end[local])
            chunks.append(Chunk(segment.ids[local].decode(), doc_id, texts[doc_id][start:end], start, end))
        vectors.append(np.asarray(segment.vectors[keep], dtype=np.float32))
        counts.append((segment.terms.tocsr()[keep], segment.words))
    merged = store.SegmentInput(documents, chunks, np.vstack(vectors), store.merged_terms(counts))
    name = store.write_segment(index_dir, merged, dimension)
    log.info("Merged %d segments (%d live chunks) into %s", len(names), merged.size, name)
    for doc in documents:
        entries[doc.id]["segment"] = name
    manifest["segments"] = [s for s in manifest["segments"] if s["name"] not in names]
    manifest["segments"].append({"name": name, "chunks": merged.size})


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


def doc_entry(
    doc: Document, chunks: int, indexed_at: str, segment: str | None = None, stat: list[int] | None = None
) -> dict[str, object]:
    """A document's manifest entry (rag.index.DocumentEntry is its typed reading)."""
    return {
        "hash": doc.hash, "title": doc.title, "chars": len(doc.text), "chunks": chunks, "indexed_at": indexed_at,
        "published": doc.published, "source": doc.source, "author": doc.author, "url": doc.url,
        "added": doc.added, "segment": segment, "stat": stat,
    }


def finish(report: IndexReport, started: float) -> IndexReport:
    """The report, with the time since `started` (time.perf_counter)."""
    report.seconds = time.perf_counter() - started
    return report
