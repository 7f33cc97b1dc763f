"""The index folder on disk: a manifest naming immutable segments, each written once.

Layout of `index/`:
- `manifest.json`: format version, embedder name and dimension, chunking settings, the segments in
  use, and per document its hash, title, news metadata, size, chunk count, when it was indexed, the
  file's size and modification time (so an unchanged file is not read again) and the segment
  that holds it.
- `seg-<tag>/`: one segment, never changed once written:
  - `documents.jsonl` (one `Document` per line), `documents.offsets.npy` (where each line starts,
    so one document is read without reading the others) and `documents.ids.json`;
  - `chunks.npz`: per chunk its id, document, start and end (its text is the document's slice);
  - `vectors.npy`: the chunk vectors, memory-mapped when loaded;
  - `terms.npz` and `terms.json`: how often each term (`rag.text.terms.terms`) occurs in each chunk, a
    sparse matrix over the segment's own vocabulary, for BM25 (rag/index/local/bm25.py);
  - `vectors.ann`: an approximate (HNSW) search index, only in segments above
    `vector_index.APPROXIMATE_ABOVE` chunks.

A chunk is live when the manifest says its document is in its segment: editing an article writes
it into a new segment and the old rows simply stop counting; removing it drops its manifest entry.
So a change to one article writes one small segment and the manifest, not the archive.
`rag/index/indexing.py` merges small segments (and ones mostly dead) into bigger ones now and then.

Writes are atomic: a segment is written in a hidden temporary folder and renamed into place; the
manifest is replaced in one `os.replace` (the commit point); then segments no manifest names are
deleted (a clean-up killed half-way is finished by the next writer). Killed at any moment, the
folder still holds a complete previous index. Loading checks the manifest against the embedder in
use and refuses a mismatch with a message that says to re-run `rag index`.

Several processes share the folder (a `rag serve`, a `rag index` from cron, a person's `rag add`):
- One writer at a time: `writer_lock` holds an exclusive lock on `.writer.lock` (flock, released
  by the system when its process dies, even by kill -9) from reading the manifest to the commit,
  so every plan (what changed, what to merge) is made from the manifest it commits against. A
  second writer waits up to `wait_s` (RAG_INDEX_WAIT), then gives up with `IndexBusy`, naming the
  pid that holds it.
- Readers keep their snapshot: a loaded segment holds its `documents.jsonl` open with a shared lock
  (a `Lease`); the clean-up deletes only segments it can lock exclusively, so nothing a live
  reader may read is deleted (it is left to a later writer's clean-up). `changed` tells a reader
  that a newer manifest was committed; `load(previous=…)` opens it and reuses the segments it
  already holds. A reader that loses a race with a clean-up (the manifest it read named a segment
  deleted meanwhile) reads the new manifest and tries again.
Deliberately not here: deciding what to write (rag/index/indexing.py), repairing a damaged index
(indexing.update_index does, from the documents), and locking on systems without flock (Windows:
one writer at a time is then up to the user).
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import os
import secrets
import shutil
import time
from collections import Counter, OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

try:
    import fcntl
except ImportError:  # Windows: no flock; see the module's docstring
    fcntl = None  # type: ignore[assignment]

import numpy as np

from rag import faults
from rag.errors import IndexBusy, IndexStoreError
from rag.index.local import vector_index
from rag.index.local.vector_index import VectorIndex
from rag.index.manifest import FORMAT_VERSION, check_compatible
from rag.text.terms import terms
from rag.types import Chunk, Document

if TYPE_CHECKING:
    from rag.index import DocumentEntry

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
LOCK = ".writer.lock"  # the writers' lock file: empty, it stays
SEGMENT_PREFIX = "seg-"
EMPTY_TERM = "_"  # the one term of a chunk without any (as bm25s is given), so every chunk has a length


# -- writing -------------------------------------------------------------------------------------
@dataclass
class SegmentInput:
    """What a writer puts into one new segment: documents with their chunks and vectors."""

    documents: list[Document] = field(default_factory=list)
    chunks: list[Chunk] = field(default_factory=list)  # grouped by document, in `documents` order
    vectors: np.ndarray | None = None  # row i is chunks[i]
    # Term counts per chunk (chunks x vocabulary) and the vocabulary, when already known (a merge);
    # otherwise counted from the chunks' text.
    terms: tuple[Any, list[str]] | None = None

    @property
    def size(self) -> int:
        return len(self.chunks)


def _fsync_write(path: Path, data: bytes) -> None:
    faults.point("store.write", path=path, data=data)
    with path.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _npy_bytes(array: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _npz_bytes(**arrays: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()


def count_terms(chunk_texts: Sequence[str]) -> tuple[Any, list[str]]:
    """How often each term occurs in each text: a sparse (texts x vocabulary) matrix and the vocabulary."""
    from scipy import sparse

    vocabulary: dict[str, int] = {}
    r_idx: list[int] = []
    c_idx: list[int] = []
    counts: list[int] = []
    for row, text in enumerate(chunk_texts):
        for term, count in Counter(terms(text) or [EMPTY_TERM]).items():
            r_idx.append(row)
            c_idx.append(vocabulary.setdefault(term, len(vocabulary)))
            counts.append(count)
    matrix = sparse.csc_matrix(
        (np.array(counts, np.float32), (np.array(r_idx, np.int64), np.array(c_idx, np.int64))),
        shape=(len(chunk_texts), len(vocabulary)),
    )
    return matrix, list(vocabulary)


def merged_terms(parts: Sequence[tuple[Any, list[str]]]) -> tuple[Any, list[str]]:
    """Stack term-count matrices with different vocabularies into one over their union."""
    from scipy import sparse

    vocabulary: dict[str, int] = {}
    rows, cols, data = [], [], []
    offset = 0
    for matrix, words in parts:
        remap = np.array([vocabulary.setdefault(w, len(vocabulary)) for w in words], dtype=np.int64)
        coo = matrix.tocoo()
        rows.append(coo.row.astype(np.int64) + offset)
        cols.append(remap[coo.col] if len(words) else coo.col.astype(np.int64))
        data.append(coo.data.astype(np.float32))
        offset += matrix.shape[0]
    if not parts:
        return sparse.csc_matrix((0, 0), dtype=np.float32), []
    merged = sparse.csc_matrix(
        (np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))), shape=(offset, len(vocabulary))
    )
    return merged, list(vocabulary)


def write_segment(folder: Path, segment: SegmentInput, dimension: int) -> str:
    """Write `segment` as a new immutable segment folder and return its name (not yet in use:
    only a manifest naming it makes it part of the index)."""
    try:
        return _write_segment(folder, segment, dimension)
    except OSError as err:
        raise IndexStoreError(
            f"Cannot write the index in {folder} ({err.strerror or err}). It must be a folder you can write to "
            "with free space: choose another with --index or RAG_INDEX."
        ) from None


def _write_segment(folder: Path, segment: SegmentInput, dimension: int) -> str:
    from scipy import sparse

    folder.mkdir(parents=True, exist_ok=True)
    name = f"{SEGMENT_PREFIX}{secrets.token_hex(6)}"
    tmp = folder / f".{name}.tmp"
    tmp.mkdir()
    lines = [json.dumps(asdict(d), ensure_ascii=False).encode() + b"\n" for d in segment.documents]
    offsets = np.cumsum([0] + [len(line) for line in lines[:-1]]).astype(np.int64) if lines else np.zeros(0, np.int64)
    _fsync_write(tmp / "documents.jsonl", b"".join(lines))
    _fsync_write(tmp / "documents.offsets.npy", _npy_bytes(offsets))
    _fsync_write(tmp / "documents.ids.json", json.dumps([d.id for d in segment.documents], ensure_ascii=False).encode())

    position = {d.id: n for n, d in enumerate(segment.documents)}
    chunks = segment.chunks
    _fsync_write(
        tmp / "chunks.npz",
        _npz_bytes(
            ids=np.array([c.id.encode() for c in chunks], dtype="S64"),
            doc=np.array([position[c.doc_id] for c in chunks], dtype=np.int32),
            start=np.array([c.start for c in chunks], dtype=np.int64),
            end=np.array([c.end for c in chunks], dtype=np.int64),
        ),
    )
    vectors = segment.vectors if segment.vectors is not None else np.zeros((0, dimension), np.float32)
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    _fsync_write(tmp / "vectors.npy", _npy_bytes(vectors))

    if segment.terms is not None:
        matrix, words = segment.terms
    else:
        matrix, words = count_terms([c.text for c in chunks])
    import io

    buffer = io.BytesIO()
    sparse.save_npz(buffer, matrix, compressed=False)
    _fsync_write(tmp / "terms.npz", buffer.getvalue())
    _fsync_write(tmp / "terms.json", json.dumps(words, ensure_ascii=False).encode())

    ann = VectorIndex.build(vectors, vector_index.APPROXIMATE_ABOVE)
    if ann.kind != "exact":
        ann.save(tmp / "vectors.ann")
    _fsync_dir(tmp)
    os.rename(tmp, folder / name)
    return name


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def commit(folder: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Make `manifest` the index (one atomic rename), then delete what it no longer names and no
    reader holds. Call it holding `writer_lock`."""
    manifest = {**manifest, "format_version": FORMAT_VERSION}
    tag = secrets.token_hex(4)
    tmp = folder / f".{MANIFEST}.{tag}.tmp"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _fsync_write(tmp, json.dumps(manifest, indent=1, ensure_ascii=False).encode())
        faults.point("index.commit", where=folder)
        os.replace(tmp, folder / MANIFEST)  # the commit point
        _fsync_dir(folder)
    except OSError as err:
        raise _unwritable(folder, err) from None
    remove_unreferenced(folder, manifest)
    return manifest


def _unwritable(folder: Path, err: OSError) -> IndexStoreError:
    return IndexStoreError(
        f"Cannot write the index in {folder} ({err.strerror or err}). It must be a folder you can write to "
        "with free space: choose another with --index or RAG_INDEX."
    )


def remove_unreferenced(folder: Path, manifest: dict[str, Any]) -> list[str]:
    """Delete the segments and temporary files `manifest` does not name: what a killed build or a
    killed clean-up left behind, and the segments a merge replaced; but not a segment a reader
    holds (`Lease`): a later clean-up deletes it. Only a writer holding `writer_lock` calls this.
    Returns the names of the segments kept for their readers."""
    keep = {s["name"] for s in manifest.get("segments", [])}
    held: list[str] = []
    try:
        paths = list(folder.iterdir())
    except OSError:
        return held
    for path in paths:
        stale_segment = path.name.startswith(SEGMENT_PREFIX) and path.name not in keep
        # Files of the format before segments (version 1), once a version 2 manifest replaced it.
        old_format = path.name.startswith(("vectors-", "chunks-", "documents-"))
        if not (stale_segment or old_format or path.name.endswith(".tmp")):
            continue
        with _unless_read(path) as free:
            if not free:
                held.append(path.name)
                continue
            try:
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink(missing_ok=True)
            except OSError as err:
                log.warning("Could not delete the old index file %s (%s)", path, err.strerror)
    if held:
        log.info("Kept %d replaced segment(s) that a reader still uses: %s", len(held), ", ".join(sorted(held)))
    return held


@contextlib.contextmanager
def _unless_read(path: Path) -> Iterator[bool]:
    """Whether no reader holds the segment folder `path`; while True, none can start to."""
    documents = path / "documents.jsonl"
    if fcntl is None or not path.name.startswith(SEGMENT_PREFIX) or not path.is_dir():
        yield True
        return
    try:
        fd = os.open(documents, os.O_RDONLY)
    except OSError:  # a segment half deleted or half written: nobody can read it
        yield True
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True  # deleted while locked: a reader that opens it now finds it unlinked
    finally:
        os.close(fd)


def tidy(folder: Path) -> None:
    """`remove_unreferenced` for the current manifest, now that a reader may have let go of
    replaced segments; skipped when another writer holds the lock (its clean-up will do it)."""
    if not exists(folder):
        return
    try:
        with writer_lock(folder, 0):
            remove_unreferenced(folder, read_manifest(folder))
    except IndexStoreError as err:
        log.debug("Not tidied now: %s", err)


@contextlib.contextmanager
def writer_lock(folder: Path, wait_s: float = 0.0) -> Iterator[None]:
    """Be the index's only writer (across processes) while in the block.

    Another writer is waited for, at most `wait_s` seconds (a log line says so at once), then
    `IndexBusy` names its pid and what to do. The lock is the system's (flock on `LOCK`, created
    once and never written, so an unchanged index is not touched): a writer killed by any means
    releases it, and there is never a stale lock to delete by hand."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / LOCK, os.O_RDONLY | os.O_CREAT, 0o644)
    except PermissionError:  # a read-only index (shipped with an app, say): lock the folder itself
        fd = os.open(folder, os.O_RDONLY)
    except OSError as err:
        raise _unwritable(folder, err) from None
    try:
        if fcntl is not None:
            _acquire(fd, folder, wait_s)
        yield
    finally:
        os.close(fd)  # releases the lock


def _acquire(fd: int, folder: Path, wait_s: float) -> None:
    deadline = time.monotonic() + wait_s
    said = False
    pause = 0.05
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        holder = _holder(fd)
        if time.monotonic() >= deadline:
            longer = f", or wait longer with RAG_INDEX_WAIT (now {wait_s:g} s)" if wait_s else ""
            raise IndexBusy(
                f"Another `rag index` (or an upload in `rag serve`) is writing the index in {folder} ({holder}): "
                f"try again when it has finished{longer}."
            )
        if not said:
            log.warning("Waiting for another `rag index` (%s) writing %s to finish (at most %g s)…",
                        holder, folder, wait_s)
            said = True
        time.sleep(pause)
        pause = min(pause * 2, 0.5)


def _holder(fd: int) -> str:
    """"pid N" of the process holding the lock on `fd`'s file, as the system lists it (Linux's
    /proc/locks); "pid unknown" elsewhere."""
    stat = os.fstat(fd)
    file = f"{os.major(stat.st_dev):02x}:{os.minor(stat.st_dev):02x}:{stat.st_ino}"
    try:
        with open("/proc/locks", encoding="ascii", errors="replace") as locks:
            for line in locks:
                fields = line.split()  # "1: FLOCK ADVISORY WRITE 1234 08:01:5678 0 EOF"; waiters show "->"
                if len(fields) >= 6 and fields[1:4] == ["FLOCK", "ADVISORY", "WRITE"] and fields[5] == file:
                    return f"pid {fields[4]}"
    except OSError:
        pass
    return "pid unknown"


class Lease:
    """A reader's hold on one segment: its `documents.jsonl` open, with a shared lock the clean-up
    respects. Documents are read through it (`pread`: threads need no seek), so they stay readable
    even if the folder is deleted by hand. Closed when the last segment view using it is gone."""

    fd = -1

    def __init__(self, path: Path) -> None:
        self.fd = os.open(path, os.O_RDONLY)  # FileNotFoundError: the segment is gone
        try:
            if fcntl is not None:
                try:
                    fcntl.flock(self.fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise SegmentGone(path.parent.name) from None  # a clean-up is deleting it right now
            if os.fstat(self.fd).st_ino != os.stat(path).st_ino:
                raise SegmentGone(path.parent.name)  # deleted (and perhaps re-created) meanwhile
        except BaseException:
            os.close(self.fd)
            self.fd = -1
            raise
        self.size = os.fstat(self.fd).st_size

    def read(self, start: int, end: int) -> bytes:
        return os.pread(self.fd, end - start, start)

    def close(self) -> None:
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)

    def __del__(self) -> None:
        self.close()


class SegmentGone(FileNotFoundError):
    """A segment the manifest named was deleted by a writer's clean-up before it could be opened."""


# -- reading -------------------------------------------------------------------------------------
def exists(folder: Path) -> bool:
    return (folder / MANIFEST).is_file()


def read_manifest(folder: Path) -> dict[str, Any]:
    return read_manifest_stamped(folder)[0]


def _parse_manifest(data: bytes, path: Path) -> dict[str, Any]:
    """The manifest in `data`; IndexStoreError unless it is a JSON object of the expected shape."""
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise IndexStoreError(f"The index manifest {path} is unreadable ({err}). Run `rag index` to rebuild.") from None
    documents = manifest.get("documents", {}) if isinstance(manifest, dict) else None
    segments = manifest.get("segments", []) if isinstance(manifest, dict) else None
    if (
        not isinstance(documents, dict) or not all(isinstance(e, dict) for e in documents.values())
        or not isinstance(segments, list) or not all(isinstance(e, dict) and "name" in e for e in segments)
    ):
        raise IndexStoreError(f"The index manifest {path} is not an index's manifest. Run `rag index` to rebuild.")
    return manifest


class Segment:
    """One segment folder, loaded: chunk positions and vectors (memory-mapped), term counts, and
    its documents read one at a time when asked for, through its `Lease`."""

    def __init__(self, folder: Path, name: str, offset: int, manifest_documents: Mapping[str, Mapping[str, Any]]):
        from scipy import sparse

        self.name = name
        self.path = folder / name
        self.offset = offset  # global row of this segment's first chunk
        self.lease = Lease(self.path / "documents.jsonl")  # first: what follows is then safe from a clean-up
        with np.load(self.path / "chunks.npz", allow_pickle=False) as data:
            self.ids = data["ids"]
            self.doc = data["doc"]
            self.start = data["start"]
            self.end = data["end"]
        self.doc_offsets = np.load(self.path / "documents.offsets.npy", allow_pickle=False)
        self.vectors: np.ndarray = np.load(self.path / "vectors.npy", mmap_mode="r", allow_pickle=False)
        self.terms = sparse.load_npz(self.path / "terms.npz").tocsc()
        self.words: list[str] = json.loads((self.path / "terms.json").read_text("utf-8"))
        self.vocabulary = {t: n for n, t in enumerate(self.words)}
        self.lengths = np.asarray(self.terms.sum(axis=1)).ravel().astype(np.float32)
        self.doc_ids: list[str] = json.loads((self.path / "documents.ids.json").read_text("utf-8"))
        self.position_of = {d: n for n, d in enumerate(self.doc_ids)}
        self.size = len(self.ids)
        if not (len(self.doc) == len(self.start) == len(self.end) == len(self.vectors) == self.terms.shape[0]):
            raise ValueError(f"segment {name} holds {self.size} chunks but {len(self.vectors)} vectors")
        self._set_live(manifest_documents)
        ann = self.path / "vectors.ann"
        self.vector_index = VectorIndex.load(ann if ann.exists() else None, self.vectors)

    def _set_live(self, manifest_documents: Mapping[str, Mapping[str, Any]]) -> None:
        name = self.name
        live_docs = np.array([manifest_documents.get(i, {}).get("segment") == name for i in self.doc_ids], dtype=bool)
        self.live_docs = live_docs
        self.live: np.ndarray = live_docs[self.doc] if self.size else np.zeros(0, dtype=bool)

    def relive(self, offset: int, manifest_documents: Mapping[str, Mapping[str, Any]]) -> Segment:
        """This segment as another manifest sees it (its rows at `offset`, its live documents):
        the data and the lease are shared, nothing is read again."""
        view = copy.copy(self)
        view.offset = offset
        view._set_live(manifest_documents)
        return view

    def read_document(self, position: int) -> Document:
        return self.read_documents([position])[0]

    def read_documents(self, positions: Sequence[int]) -> list[Document]:
        """The documents at these positions, read through the lease (no file opened)."""
        documents = []
        ends = len(self.doc_offsets)
        for position in positions:
            start = int(self.doc_offsets[position])
            end = int(self.doc_offsets[position + 1]) if position + 1 < ends else self.lease.size
            documents.append(Document(**json.loads(self.lease.read(start, end))))
        return documents

    def close(self) -> None:
        """Give up the lease now (every view of this segment shares it: only for a segment not
        handed to anyone else, as a writer's merge does)."""
        self.lease.close()


class Documents(Mapping[str, Document]):
    """The live documents by id, each read from its segment on first use (the last few kept).

    It holds the manifest and the segments, not the index, so that an index nobody uses any more
    is freed (and its leases given up) at once rather than by the garbage collector."""

    def __init__(self, manifest: dict[str, Any], segment_named: Mapping[str, Segment], keep: int = 512) -> None:
        self._manifest = manifest
        self._segments = segment_named
        self._cache: OrderedDict[str, Document] = OrderedDict()
        self._keep = keep

    def __getitem__(self, doc_id: str) -> Document:
        if doc_id in self._cache:
            self._cache.move_to_end(doc_id)
            return self._cache[doc_id]
        entry = self._manifest["documents"][doc_id]  # KeyError for an unknown id, as a dict
        segment = self._segments[entry["segment"]]
        document = segment.read_document(segment.position_of[doc_id])
        if entry.get("title") and entry["title"] != document.title:  # retitled without embedding again
            document = replace(document, title=entry["title"])
        if "added" in entry and (entry.get("published"), entry["added"]) != (document.published, document.added):
            # Dates corrected without embedding again (an older index kept the file's time as published).
            document = replace(document, published=entry.get("published"), added=entry["added"])
        self._cache[doc_id] = document
        if len(self._cache) > self._keep:
            self._cache.popitem(last=False)
        return document

    def __iter__(self) -> Iterator[str]:
        return iter(self._manifest["documents"])

    def __len__(self) -> int:
        return len(self._manifest["documents"])


class Chunks(Sequence[Chunk]):
    """The live chunks in row order (segment by segment), each made on use from its document."""

    def __init__(self, index: StoredIndex) -> None:
        self._index = index

    def __len__(self) -> int:
        return len(self._index.live_rows)

    @overload
    def __getitem__(self, position: int) -> Chunk: ...
    @overload
    def __getitem__(self, position: slice) -> list[Chunk]: ...
    def __getitem__(self, position: int | slice) -> Chunk | list[Chunk]:
        rows = self._index.live_rows
        if isinstance(position, slice):
            return [self._index.chunk_at(int(r)) for r in rows[position]]
        return self._index.chunk_at(int(rows[position]))


@dataclass
class StoredIndex:
    """A loaded index. Rows are global: a segment's rows follow the previous segment's, live or not;
    `live` says which count. `chunks`, `vectors` and `documents` show only the live ones."""

    manifest: dict[str, Any]
    segments: list[Segment]
    folder: Path | None = None
    stamp: tuple[int, ...] = ()  # the manifest file's identity when it was read (see `changed`)

    def __post_init__(self) -> None:
        self.segment_named = {s.name: s for s in self.segments}
        self.documents: Documents = Documents(self.manifest, self.segment_named)

    @property
    def chunks(self) -> Chunks:
        return Chunks(self)  # made on use: the index does not refer to itself (see Documents)

    @cached_property
    def catalog(self) -> dict[str, DocumentEntry]:
        """Each live article's manifest entry, typed (no text is read)."""
        from rag.index import catalog_of

        return catalog_of(self.manifest)

    def close(self) -> None:
        """Give up the leases of every segment now (when no one else shares them; see Segment.close)."""
        for segment in self.segments:
            segment.close()

    @property
    def size(self) -> int:
        """Rows in all segments, live or not."""
        return sum(s.size for s in self.segments)

    @cached_property
    def live(self) -> np.ndarray:
        parts = [s.live for s in self.segments]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=bool)

    @cached_property
    def live_rows(self) -> np.ndarray:
        return np.flatnonzero(self.live)

    @cached_property
    def vectors(self) -> np.ndarray:
        """The live chunks' vectors, stacked (a copy: meant for small indexes and tests)."""
        dimension = int(self.manifest.get("embedder", {}).get("dimension", 0))
        parts = [np.asarray(s.vectors[s.live]) for s in self.segments]
        return np.vstack(parts).astype(np.float32) if parts else np.zeros((0, dimension), np.float32)

    def locate(self, row: int) -> tuple[Segment, int]:
        for segment in self.segments:
            if row < segment.offset + segment.size:
                return segment, row - segment.offset
        raise IndexError(row)

    def chunk_at(self, row: int) -> Chunk:
        segment, local = self.locate(row)
        doc_id = segment.doc_ids[int(segment.doc[local])]
        start, end = int(segment.start[local]), int(segment.end[local])
        if segment.live[local]:
            text = self.documents[doc_id].text[start:end]
        else:  # a replaced version of the document, only in this segment
            text = segment.read_document(int(segment.doc[local])).text[start:end]
        return Chunk(segment.ids[local].decode(), doc_id, text, start, end)

    def vector_at(self, row: int) -> np.ndarray:
        segment, local = self.locate(row)
        return np.asarray(segment.vectors[local], dtype=np.float32)


def load_segments(
    folder: Path, names: Sequence[str], documents: Mapping[str, Mapping[str, Any]]
) -> list[Segment]:
    """Some segments of the index in `folder`, for a writer merging them (close them after)."""
    loaded: list[Segment] = []
    try:
        for name in names:
            loaded.append(Segment(folder, name, 0, documents))
    except (KeyError, OSError, TypeError, ValueError, RuntimeError, EOFError) as err:
        for segment in loaded:
            segment.close()
        raise IndexStoreError(f"The index in {folder} is damaged ({err}). Run `rag index` to repair it.") from None
    return loaded


def _stamp(stat: os.stat_result) -> tuple[int, ...]:
    return (stat.st_ino, stat.st_mtime_ns, stat.st_size)


def read_manifest_stamped(folder: Path) -> tuple[dict[str, Any], tuple[int, ...]]:
    """The manifest and the identity of the file it was read from (each commit is a new file)."""
    path = folder / MANIFEST
    try:
        with path.open("rb") as f:
            stamp = _stamp(os.fstat(f.fileno()))
            data = f.read()
    except FileNotFoundError:
        raise IndexStoreError(f"No index in {folder}. Run `rag index` to build it.") from None
    except OSError as err:
        raise IndexStoreError(f"The index manifest {path} is unreadable ({err}). Run `rag index` to rebuild.") from None
    return _parse_manifest(data, path), stamp


def changed(index: StoredIndex) -> bool:
    """Whether a writer committed another manifest since `index` was loaded (one stat, no read)."""
    if index.folder is None or not index.stamp:
        return False
    try:
        return _stamp(os.stat(index.folder / MANIFEST)) != index.stamp
    except OSError:
        return True


RACES = 5  # a reader retries this often when a writer replaces the manifest while it loads


def load(
    folder: Path, embedder_name: str, dimension: int, reuse: Mapping[str, Segment] | None = None
) -> StoredIndex:
    """The index in `folder` as its manifest names it now. Segments in `reuse` (an earlier
    snapshot's `segment_named`) are used again, not read again: segments never change."""
    reuse = {n: s for n, s in (reuse or {}).items() if s.path == folder / n}
    for attempt in range(RACES):
        manifest, stamp = read_manifest_stamped(folder)
        check_compatible(manifest, embedder_name, dimension, folder)
        try:
            return _open(folder, manifest, stamp, dimension, reuse)
        except SegmentGone as gone:
            if attempt + 1 < RACES and _moved_on(folder, stamp):
                continue  # a writer committed and cleaned up while this read: read its manifest
            raise IndexStoreError(
                f"The index in {folder} is damaged (segment {gone} is missing). Run `rag index` to repair it."
            ) from None
    raise AssertionError("unreachable")


def _moved_on(folder: Path, stamp: tuple[int, ...]) -> bool:
    try:
        return _stamp(os.stat(folder / MANIFEST)) != stamp
    except OSError:
        return False


def _open(
    folder: Path, manifest: dict[str, Any], stamp: tuple[int, ...], dimension: int, reuse: Mapping[str, Segment]
) -> StoredIndex:
    documents = manifest.get("documents", {})
    segments: list[Segment] = []
    offset = 0
    try:
        for entry in manifest.get("segments", []):
            name = entry["name"]
            if name in reuse:
                segment = reuse[name].relive(offset, documents)
            else:
                try:
                    segment = Segment(folder, name, offset, documents)
                except FileNotFoundError as err:
                    raise SegmentGone(name) from err
            if segment.vectors.shape[1:] != (dimension,):
                raise ValueError(f"segment {segment.name} has vectors of shape {segment.vectors.shape}")
            segments.append(segment)
            offset += segment.size
        missing = set(documents) - {d for s in segments for d in s.doc_ids}
        if missing:
            raise ValueError(f"{len(missing)} document(s) are in no segment, e.g. {sorted(missing)[0]}")
    except SegmentGone:
        raise
    except (KeyError, OSError, TypeError, ValueError, RuntimeError, EOFError) as err:
        raise IndexStoreError(f"The index in {folder} is damaged ({err}). Run `rag index` to repair it.") from None
    return StoredIndex(manifest, segments, folder, stamp)
