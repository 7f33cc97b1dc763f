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
  - `terms.npz` and `terms.json`: how often each term (`rag.terms.terms`) occurs in each chunk, a
    sparse matrix over the segment's own vocabulary, for BM25 (rag/bm25.py);
  - `vectors.ann`: an approximate (HNSW) search index, only in segments above
    `vector_index.APPROXIMATE_ABOVE` chunks.

A chunk is live when the manifest says its document is in its segment: editing an article writes
it into a new segment and the old rows simply stop counting; removing it drops its manifest entry.
So a change to one article writes one small segment and the manifest, not the archive.
`rag/indexing.py` merges small segments (and ones mostly dead) into bigger ones now and then.

Writes are atomic: a segment is written in a hidden temporary folder and renamed into place; the
manifest is replaced in one `os.replace` (the commit point); then segments no manifest names are
deleted (a clean-up killed half-way is finished by the next writer). Killed at any moment, the
folder still holds a complete previous index. Loading checks the manifest against the embedder in
use and refuses a mismatch with a message that says to re-run `rag index`.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
from collections import Counter, OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any, overload

import numpy as np

from rag import vector_index
from rag.errors import IndexStoreError
from rag.terms import terms
from rag.types import Chunk, Document
from rag.vector_index import VectorIndex

log = logging.getLogger(__name__)

FORMAT_VERSION = 2
MANIFEST = "manifest.json"
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
    """Make `manifest` the index (one atomic rename), then delete what it no longer names."""
    manifest = {**manifest, "format_version": FORMAT_VERSION}
    tag = secrets.token_hex(4)
    tmp = folder / f".{MANIFEST}.{tag}.tmp"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _fsync_write(tmp, json.dumps(manifest, indent=1, ensure_ascii=False).encode())
        os.replace(tmp, folder / MANIFEST)  # the commit point
        _fsync_dir(folder)
    except OSError as err:
        raise IndexStoreError(
            f"Cannot write the index in {folder} ({err.strerror or err}). It must be a folder you can write to "
            "with free space: choose another with --index or RAG_INDEX."
        ) from None
    remove_unreferenced(folder, manifest)
    return manifest


def remove_unreferenced(folder: Path, manifest: dict[str, Any]) -> None:
    """Delete the segments and temporary files `manifest` does not name: what a killed build or a
    killed clean-up left behind, and the segments a merge replaced. Only a writer calls this."""
    keep = {s["name"] for s in manifest.get("segments", [])}
    for path in folder.iterdir():
        stale_segment = path.name.startswith(SEGMENT_PREFIX) and path.name not in keep
        # Files of the format before segments (version 1), once a version 2 manifest replaced it.
        old_format = path.name.startswith(("vectors-", "chunks-", "documents-"))
        if stale_segment or old_format or path.name.endswith(".tmp"):
            try:
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink(missing_ok=True)
            except OSError as err:
                log.warning("Could not delete the old index file %s (%s)", path, err.strerror)


# -- reading -------------------------------------------------------------------------------------
def exists(folder: Path) -> bool:
    return (folder / MANIFEST).is_file()


def read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexStoreError(f"No index in {folder}. Run `rag index` to build it.") from None
    except (OSError, ValueError) as err:
        raise IndexStoreError(f"The index manifest {path} is unreadable ({err}). Run `rag index` to rebuild.") from None
    if not isinstance(manifest, dict):
        raise IndexStoreError(f"The index manifest {path} is not a JSON object. Run `rag index` to rebuild.")
    return manifest


def check_compatible(manifest: dict[str, Any], embedder_name: str, dimension: int, folder: Path) -> None:
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise IndexStoreError(
            f"The index in {folder} has format version {version}, this program reads version "
            f"{FORMAT_VERSION}. Run `rag index` to rebuild it."
        )
    built_with = manifest.get("embedder", {})
    if built_with.get("name") != embedder_name or built_with.get("dimension") != dimension:
        raise IndexStoreError(
            f"The index in {folder} was built with embedder {built_with.get('name')!r} "
            f"({built_with.get('dimension')} dimensions), not {embedder_name!r} ({dimension}). "
            "Run `rag index` to rebuild it."
        )


class Segment:
    """One segment folder, loaded: chunk positions and vectors (memory-mapped), term counts, and
    its documents read one at a time when asked for."""

    def __init__(self, folder: Path, name: str, offset: int, manifest_documents: Mapping[str, Mapping[str, Any]]):
        from scipy import sparse

        self.name = name
        self.path = folder / name
        self.offset = offset  # global row of this segment's first chunk
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
        live_docs = np.array([manifest_documents.get(i, {}).get("segment") == name for i in self.doc_ids], dtype=bool)
        self.live_docs = live_docs
        self.live: np.ndarray = live_docs[self.doc] if self.size else np.zeros(0, dtype=bool)
        ann = self.path / "vectors.ann"
        self.vector_index = VectorIndex.load(ann if ann.exists() else None, self.vectors)

    def read_document(self, position: int) -> Document:
        return self.read_documents([position])[0]

    def read_documents(self, positions: Sequence[int]) -> list[Document]:
        """The documents at these positions, read through one open file."""
        with (self.path / "documents.jsonl").open("rb") as f:
            documents = []
            for position in positions:
                f.seek(int(self.doc_offsets[position]))
                documents.append(Document(**json.loads(f.readline())))
        return documents


class Documents(Mapping[str, Document]):
    """The live documents by id, each read from its segment on first use (the last few kept)."""

    def __init__(self, index: StoredIndex, keep: int = 512) -> None:
        self._index = index
        self._cache: OrderedDict[str, Document] = OrderedDict()
        self._keep = keep

    def __getitem__(self, doc_id: str) -> Document:
        if doc_id in self._cache:
            self._cache.move_to_end(doc_id)
            return self._cache[doc_id]
        entry = self._index.manifest["documents"][doc_id]  # KeyError for an unknown id, as a dict
        segment = self._index.segment_named[entry["segment"]]
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
        return iter(self._index.manifest["documents"])

    def __len__(self) -> int:
        return len(self._index.manifest["documents"])


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

    def __post_init__(self) -> None:
        self.segment_named = {s.name: s for s in self.segments}
        self.documents: Documents = Documents(self)
        self.chunks: Chunks = Chunks(self)

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


def load_segments(folder: Path, names: Sequence[str], documents: Mapping[str, Mapping[str, Any]]) -> list[Segment]:
    """Some segments of the index in `folder`, for a writer merging them."""
    try:
        return [Segment(folder, name, 0, documents) for name in names]
    except (KeyError, OSError, TypeError, ValueError, RuntimeError, EOFError) as err:
        raise IndexStoreError(f"The index in {folder} is damaged ({err}). Run `rag index` to rebuild it.") from None


def load(folder: Path, embedder_name: str, dimension: int) -> StoredIndex:
    manifest = read_manifest(folder)
    check_compatible(manifest, embedder_name, dimension, folder)
    documents = manifest.get("documents", {})
    segments = []
    offset = 0
    try:
        for entry in manifest.get("segments", []):
            segment = Segment(folder, entry["name"], offset, documents)
            if segment.vectors.shape[1:] != (dimension,):
                raise ValueError(f"segment {segment.name} has vectors of shape {segment.vectors.shape}")
            segments.append(segment)
            offset += segment.size
        missing = set(documents) - {d for s in segments for d in s.doc_ids}
        if missing:
            raise ValueError(f"{len(missing)} document(s) are in no segment, e.g. {sorted(missing)[0]}")
    except (KeyError, OSError, TypeError, ValueError, RuntimeError, EOFError) as err:
        raise IndexStoreError(f"The index in {folder} is damaged ({err}). Run `rag index` to rebuild it.") from None
    return StoredIndex(manifest, segments, folder)
