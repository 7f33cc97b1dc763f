"""The index in Milvus, through `pymilvus.MilvusClient`: a Milvus Lite file or a Milvus cluster.

The same client code serves both: `uri` is a file ending in ".db" (Milvus Lite, the engine
embedded in this process) or "http://host:19530". Three collections, named after a prefix:
- `<prefix>_chunks_<recipe>`: one row per chunk of one version of a document (its content hash
  is part of the key): its text and offsets, the MiniLM vector (inner product = cosine), and
  `terms`, the chunk's `rag.text.terms.terms()` joined by spaces, from which Milvus's BM25 function
  makes a sparse vector; so BM25 sees the same stemmed words and whole numbers as the FAISS
  backend's bm25s. `<recipe>` is a digest of the embedder and the chunking settings: changing
  either builds a new collection beside the old one (a vector field has a fixed dimension);
- `<prefix>_texts`: each document version's text in parts, by content hash, for the citations,
  and its story signature (rag/index/stories.py) in a row of part SIGNATURE_PART;
- `<prefix>_meta`: the manifest (as in the FAISS folder) in parts under a tag, the term counts
  written with it (milvus_terms.py, for the checker's IDF), a `head` row that names the tag in
  use, and while an update runs a `pending` row. Each document's entry also keeps its news
  metadata (published, source, author, url), its file's signature (`stat`, so an update reads
  only changed files: indexing.scan_folder), its story, and `text_hash`, the sha256 of its text
  alone (`hash` covers the metadata too, see loading.document_hash), which is what the stored text
  is checked against.

Crash safety as in the FAISS folder: an update records the content hashes it is about to write
(`pending`), inserts the rows of new document versions, regroups the stories, writes the term
counts and the new manifest under a fresh tag, then switches `head` to it in one upsert, the
commit point; only then is what it replaced deleted, by name and in batches (the replaced rows by
primary key, the texts of hashes no entry names, the rows of pending hashes that did not land):
no expression lists the live documents. Killed at any moment, `head` names a complete manifest
whose rows are all present; searches keep only rows of the document versions it names, so
leftovers are never shown, and the next update deletes them. Reads and writes use Strong
consistency, because a Milvus server otherwise shows deletes late.

Deliberately not here: deciding what changed (indexing.scan_folder and plan), searching (retrieval.py)
and the local engine (rag/index/local/).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import secrets
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag import faults
from rag.errors import IndexStoreError
from rag.index import stories
from rag.index.indexing import (
    IndexReport,
    Prepared,
    Progress,
    doc_entry,
    embed_all,
    finish,
    prepare_planned,
    scan_folder,
)
from rag.index.manifest import FORMAT_VERSION, check_compatible
from rag.index.milvus.terms import EMPTY, TermCounts, terms_key
from rag.ingest.chunking import ChunkingSettings
from rag.ingest.loading import content_hash
from rag.models.embedding import Embedder
from rag.text.terms import terms
from rag.types import Chunk, Document

if TYPE_CHECKING:
    from rag.index import DocumentEntry

log = logging.getLogger(__name__)

PART_CHARS = 16_000  # a VARCHAR holds at most 65,535 bytes: 16,000 characters of UTF-8 always fit
MAX_BYTES = 65_535
STRONG = "Strong"
# BM25 as bm25s computes it by default (Lucene's formula, k1 1.5, b 0.75); see retrieval.py.
BM25_PARAMS = {"bm25_k1": 1.5, "bm25_b": 0.75}
CHUNK_FIELDS = ["pk", "chunk_id", "doc_id", "doc_hash", "start", "end", "text"]
HEAD = "head"
PENDING = "pending"  # meta row: the content hashes an unfinished update may leave rows of
DELETE_BATCH = 500  # hashes or primary keys named in one delete or query expression
SIGNATURE_PART = -1  # a texts row of this part holds the version's story signature (stories.py), not text
CONNECT_TIMEOUT_S = 10.0

_clients: dict[tuple[str, str], Any] = {}


def connect(uri: str, token: str | None = None) -> Any:
    """One MilvusClient per address and process (Milvus Lite runs one engine per file)."""
    key = (uri, token or "")
    if key not in _clients:
        try:
            from pymilvus import MilvusClient
        except ImportError:
            raise IndexStoreError(
                "RAG_MILVUS_URI is set but pymilvus is not installed: pip install 'local-rag[remote]'."
            ) from None
        if uri.endswith(".db"):
            Path(uri).expanduser().parent.mkdir(parents=True, exist_ok=True)
        try:
            _clients[key] = MilvusClient(uri=uri, token=token or "", timeout=CONNECT_TIMEOUT_S)
        except Exception as err:  # pymilvus raises MilvusException, grpc errors or its own ConnectionError
            if uri.endswith(".db"):
                raise IndexStoreError(
                    f"Milvus Lite cannot open {uri} ({err}). It opens a file in one process at a time: "
                    "stop the other one (a running `rag serve`?), or use a Milvus server for several processes."
                ) from None
            raise IndexStoreError(
                f"Milvus at {uri} cannot be reached ({err}). Start it, check RAG_MILVUS_URI "
                "(a file ending in .db, or http://host:19530), or unset it to use the index folder."
            ) from None
    return _clients[key]


def _check_prefix(prefix: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,200}", prefix):
        raise IndexStoreError(
            f"RAG_MILVUS_COLLECTION must be letters, digits and underscores, not starting with a digit: {prefix!r}"
        )
    return prefix


def recipe(embedder: Embedder, chunking: ChunkingSettings) -> str:
    """What the chunks were made with: a new recipe means a new chunks collection.

    >>> len(recipe(type("E", (), {"name": "m", "dimension": 3})(), ChunkingSettings()))
    10
    """
    made_with = {"embedder": [embedder.name, embedder.dimension], "chunking": chunking.as_dict()}
    return hashlib.sha1(json.dumps(made_with, sort_keys=True).encode()).hexdigest()[:10]


def _pk(doc_hash: str, chunk_id: str) -> str:
    return f"{doc_hash[:24]}{chunk_id}"


def quoted(values: list[str]) -> str:
    return json.dumps(sorted(values))  # hex digests and tags only: nothing to escape


@dataclass
class Collections:
    client: Any
    prefix: str
    recipe: str = ""  # of the chunks collection in use; "" until a manifest or an update names it

    @property
    def chunks(self) -> str:
        return f"{self.prefix}_chunks_{self.recipe}"

    def other_chunk_collections(self) -> list[str]:
        pattern = re.compile(re.escape(self.prefix) + r"_chunks_[0-9a-f]{10}")
        return [n for n in self.client.list_collections() if pattern.fullmatch(n) and n != self.chunks]

    @property
    def texts(self) -> str:
        return f"{self.prefix}_texts"

    @property
    def meta(self) -> str:
        return f"{self.prefix}_meta"

    def exist(self) -> bool:
        return all(self.client.has_collection(name) for name in (self.texts, self.meta))

    def create(self, dimension: int) -> None:
        from pymilvus import DataType, Function, FunctionType

        client = self.client
        if not client.has_collection(self.chunks):
            schema = client.create_schema(auto_id=False)
            schema.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=64)
            schema.add_field("chunk_id", DataType.VARCHAR, max_length=64)
            schema.add_field("doc_id", DataType.VARCHAR, max_length=4096)
            schema.add_field("doc_hash", DataType.VARCHAR, max_length=64)
            schema.add_field("start", DataType.INT64)
            schema.add_field("end", DataType.INT64)
            schema.add_field("text", DataType.VARCHAR, max_length=MAX_BYTES)
            # Already analysed by rag.text.terms: Milvus only splits on spaces.
            schema.add_field("terms", DataType.VARCHAR, max_length=MAX_BYTES, enable_analyzer=True,
                             analyzer_params={"tokenizer": "whitespace"})
            schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
            schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
            schema.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                                         input_field_names=["terms"], output_field_names=["sparse"]))
            index = client.prepare_index_params()
            # AUTOINDEX: exact (FLAT) in Milvus Lite, a graph index chosen by a Milvus server.
            index.add_index(field_name="vector", index_type="AUTOINDEX", metric_type="IP")
            index.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                            params=BM25_PARAMS)
            client.create_collection(self.chunks, schema=schema, index_params=index, consistency_level=STRONG)
        for name in (self.texts, self.meta):
            if not client.has_collection(name):
                schema = client.create_schema(auto_id=False)
                schema.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=128)
                schema.add_field("key", DataType.VARCHAR, max_length=64)  # content hash, or manifest tag
                schema.add_field("part", DataType.INT64)
                schema.add_field("text", DataType.VARCHAR, max_length=MAX_BYTES)
                schema.add_field("vector", DataType.FLOAT_VECTOR, dim=2)  # Milvus wants one; unused
                index = client.prepare_index_params()
                index.add_index(field_name="vector", index_type="AUTOINDEX", metric_type="L2")
                client.create_collection(name, schema=schema, index_params=index, consistency_level=STRONG)

    def query(self, name: str, filter: str, fields: list[str]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        iterator = self.client.query_iterator(name, batch_size=1000, filter=filter, output_fields=fields,
                                              consistency_level=STRONG)
        try:
            while batch := iterator.next():
                rows.extend(batch)
        finally:
            iterator.close()
        return rows

    def write_parts(self, name: str, key: str, text: str) -> None:
        parts = [text[i : i + PART_CHARS] for i in range(0, len(text), PART_CHARS)] or [""]
        rows = [{"pk": f"{key}:{n}", "key": key, "part": n, "text": t, "vector": [0.0, 0.0]}
                for n, t in enumerate(parts)]
        for start in range(0, len(rows), 100):
            self.client.upsert(name, rows[start : start + 100])

    def read_parts(self, name: str, key: str) -> str | None:
        rows = self.query(name, f'key == "{key}" and part >= 0', ["part", "text"])
        if not rows:
            return None
        rows.sort(key=lambda r: r["part"])
        if [r["part"] for r in rows] != list(range(len(rows))):
            return None
        return "".join(r["text"] for r in rows)


class _Documents(Mapping[str, Document]):
    """The indexed documents, their text fetched from Milvus when first asked for."""

    def __init__(self, collections: Collections, entries: dict[str, dict[str, Any]]) -> None:
        self._collections = collections
        self._entries = entries
        self._cache: dict[str, Document] = {}

    def __getitem__(self, doc_id: str) -> Document:
        if doc_id not in self._cache:
            entry = self._entries[doc_id]
            text = self._collections.read_parts(self._collections.texts, entry["hash"])
            if text is None or content_hash(text) != entry.get("text_hash", entry["hash"]):
                raise IndexStoreError(
                    f"The text of {doc_id} in Milvus ({self._collections.prefix}) is missing or damaged. "
                    "Run `rag index` to rebuild it."
                )
            self._cache[doc_id] = Document(
                id=doc_id, title=str(entry.get("title", "")), text=text, hash=entry["hash"], **news_of(entry)
            )
        return self._cache[doc_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)


@dataclass
class MilvusIndex:
    """What the rest of the program reads of an index (manifest, documents, chunks), from Milvus."""

    collections: Collections
    manifest: dict[str, Any]
    where: str = ""  # for messages: "Milvus at URI, collections PREFIX_*"
    _chunks: list[Chunk] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.entries: dict[str, dict[str, Any]] = dict(self.manifest.get("documents", {}))
        self.documents: Mapping[str, Document] = _Documents(self.collections, self.entries)

    def live(self, row: dict[str, Any]) -> bool:
        """Is this row part of the committed index (not a leftover of an unfinished update)?"""
        entry = self.entries.get(row["doc_id"])
        return entry is not None and entry.get("hash") == row["doc_hash"]

    @property
    def size(self) -> int:
        return sum(int(e.get("chunks", 0)) for e in self.entries.values())

    @cached_property
    def catalog(self) -> dict[str, DocumentEntry]:
        """Each article's manifest entry, typed (no text is read)."""
        from rag.index import catalog_of

        return catalog_of(self.manifest)

    @property
    def chunks(self) -> list[Chunk]:
        """Every chunk, document by document, read from Milvus on first use (the evaluation's counts
        and the tests; neither start-up nor search needs them: see `term_counts`)."""
        if self._chunks is None:
            rows = self.live_rows(CHUNK_FIELDS)
            order = {doc_id: n for n, doc_id in enumerate(self.entries)}
            rows.sort(key=lambda r: (order[r["doc_id"]], r["start"], r["end"]))
            self._chunks = [row_chunk(r) for r in rows]
        return self._chunks

    def live_rows(self, fields: list[str]) -> list[dict[str, Any]]:
        """Every live chunk row (all rows are read and the leftovers dropped here: an expression
        naming every live version would grow with the index)."""
        wanted = sorted({*fields, "doc_id", "doc_hash"})
        return [r for r in self.collections.query(self.collections.chunks, 'doc_hash != ""', wanted) if self.live(r)]

    @cached_property
    def term_counts(self) -> TermCounts:
        """The chunks' term counts (milvus_terms.py), read once from the table written with the
        manifest; an index written before the table existed has its rows' terms counted instead."""
        key = self.manifest.get("terms")
        text = self.collections.read_parts(self.collections.meta, str(key)) if key else None
        if text is not None:
            counts = TermCounts.from_json(text)
            if counts.chunks == self.size:
                return counts
            log.warning("The term counts in %s do not match its manifest: counting the chunks again", self.where)
        counts = TermCounts()
        for row in self.live_rows(["terms"]):
            counts.add(row["terms"])
        return counts


NEWS_FIELDS = ("published", "source", "author", "url")


def news_of(entry: Mapping[str, Any]) -> dict[str, str | None]:
    """A manifest entry's news metadata, None for what is unknown (or an index from before #12)."""
    return {key: (str(entry[key]) if entry.get(key) is not None else None) for key in NEWS_FIELDS}


def _entry(doc: Document, chunks: int, indexed_at: str, stat: list[int] | None) -> dict[str, object]:
    entry: dict[str, object] = {**doc_entry(doc, chunks, indexed_at, stat=stat), "text_hash": content_hash(doc.text)}
    entry.update({key: getattr(doc, key) for key in NEWS_FIELDS})
    return entry


def row_chunk(row: dict[str, Any]) -> Chunk:
    return Chunk(row["chunk_id"], row["doc_id"], row["text"], int(row["start"]), int(row["end"]))


# -- reading -----------------------------------------------------------------------------------
def read_head(collections: Collections) -> str | None:
    """The tag of the manifest in use, or None before the first update."""
    heads = collections.client.query(collections.meta, filter=f'pk == "{HEAD}"', output_fields=["text"],
                                     consistency_level=STRONG)
    return str(json.loads(heads[0]["text"])["tag"]) if heads else None


def _read_manifest(collections: Collections) -> dict[str, Any] | None:
    tag = read_head(collections)
    if tag is None:
        return None
    text = collections.read_parts(collections.meta, tag)
    if text is None:
        raise IndexStoreError(f"The index in Milvus ({collections.prefix}) is damaged: its manifest {tag} is "
                              "incomplete. Run `rag index` to rebuild it.")
    manifest = json.loads(text)
    if not isinstance(manifest, dict):
        raise IndexStoreError(f"The index manifest in Milvus ({collections.prefix}) is not a JSON object.")
    return manifest


def exists(uri: str, prefix: str, token: str | None = None) -> bool:
    collections = Collections(connect(uri, token), _check_prefix(prefix))
    return collections.exist() and _read_manifest(collections) is not None


def load(uri: str, prefix: str, embedder_name: str, dimension: int, token: str | None = None) -> MilvusIndex:
    return load_from(Collections(connect(uri, token), _check_prefix(prefix)), embedder_name, dimension,
                 f"Milvus at {uri}, collections {prefix}_*")


def load_from(collections: Collections, embedder_name: str, dimension: int, where: str) -> MilvusIndex:
    collections = Collections(collections.client, collections.prefix)
    manifest = _read_manifest(collections) if collections.exist() else None
    if manifest is None:
        raise IndexStoreError(f"No index in {where}. Run `rag index` to build it.")
    check_compatible(manifest, embedder_name, dimension, where)
    collections.recipe = str(manifest.get("recipe", ""))
    if not collections.client.has_collection(collections.chunks):
        raise IndexStoreError(f"The index in {where} is damaged: {collections.chunks} is missing. "
                              "Run `rag index` to rebuild it.")
    return MilvusIndex(collections, manifest, where=where)


# -- writing -----------------------------------------------------------------------------------
def _previous(uri: str, prefix: str, embedder: Embedder, chunking: ChunkingSettings, token: str | None
              ) -> MilvusIndex | None:
    try:
        previous = load(uri, prefix, embedder.name, embedder.dimension, token)
    except IndexStoreError as err:
        if "No index" not in str(err):
            log.warning("Rebuilding the whole index: %s", err)
        return None
    if previous.manifest.get("chunking") != chunking.as_dict():
        log.warning("Chunking settings changed since the last build: rebuilding the whole index.")
        return None
    return previous


def _rows(doc: Document, chunks: list[Chunk], vectors: np.ndarray) -> list[dict[str, Any]]:
    rows = []
    for chunk, vector in zip(chunks, vectors, strict=True):
        if len(chunk.text.encode("utf-8")) > MAX_BYTES:
            raise IndexStoreError(f"A chunk of {doc.id} is longer than Milvus allows ({MAX_BYTES} bytes).")
        rows.append({
            "pk": _pk(doc.hash, chunk.id), "chunk_id": chunk.id, "doc_id": doc.id, "doc_hash": doc.hash,
            "start": chunk.start, "end": chunk.end, "text": chunk.text,
            "terms": " ".join(terms(chunk.text)) or EMPTY, "vector": [float(x) for x in vector],
        })
    return rows


def prepare(
    documents_dir: Path,
    uri: str,
    prefix: str,
    embedder: Embedder,
    chunking: ChunkingSettings,
    progress: Progress | None = None,
    token: str | None = None,
    batch: int | None = None,
) -> Prepared:
    """Chunk and embed what `update_index` would, against the index in Milvus, without writing:
    as indexing.prepare does for the index folder. Pass the result to `update_index`."""
    previous = _previous(uri, prefix, embedder, chunking, token)
    scan = scan_folder(documents_dir, previous.entries if previous else {})
    to_embed = [scan.documents[i] for i in (*scan.report.added, *scan.report.changed)]
    return prepare_planned(scan.report, to_embed, documents_dir, embedder, chunking, progress, batch)


def update_index(
    documents_dir: Path,
    uri: str,
    prefix: str,
    embedder: Embedder,
    chunking: ChunkingSettings,
    progress: Progress | None = None,
    token: str | None = None,
    prepared: Prepared | None = None,
) -> tuple[MilvusIndex, IndexReport]:
    """Bring the Milvus index up to date with the documents folder, as indexing.update_index does
    for the index folder: only new and edited files are read (indexing.scan_folder), only new and
    edited documents are embedded (those not in `prepared`) and written, and the rows they replace
    are deleted by name after the commit."""
    started = time.perf_counter()
    collections = Collections(connect(uri, token), _check_prefix(prefix))
    previous = _previous(uri, prefix, embedder, chunking, token)
    old_docs = previous.entries if previous else {}
    scan = scan_folder(documents_dir, old_docs)  # only new files and those whose size or time changed
    report = scan.report
    touched = scan.touched(old_docs)
    existed = collections.exist()
    leftover = read_pending(collections) if existed else []
    current = previous is not None and previous.manifest.get("stories") == stories.SETTINGS and (
        previous.manifest.get("terms") is not None)
    if previous and not report.wrote and not touched and current and not leftover:
        return previous, finish(report, started)
    to_embed = [scan.documents[i] for i in (*report.added, *report.changed)]
    collections.recipe = recipe(embedder, chunking)
    collections.create(embedder.dimension)
    # Before any row is written: what this update may leave behind if it is killed, the versions it
    # writes (before the commit) and those it replaces (after the commit, before the clean-up).
    replacing = {str(old_docs[i]["hash"]) for i in (*report.changed, *report.removed)}
    _write_pending(collections, sorted({*leftover, *(d.hash for d in to_embed), *replacing}))

    counts = TermCounts(previous.term_counts.chunks, dict(previous.term_counts.df)) if previous else TermCounts()
    signatures = MilvusSignatures(collections)
    new_chunks, failed = embed_all(to_embed, documents_dir, embedder, chunking, progress, prepared=prepared)
    if progress:
        progress(len(to_embed), len(to_embed), "")
    if failed:  # a document that cannot be chunked is skipped, and the rest are indexed, as with FAISS
        report.skipped.extend(failed)
        lost = {Path(s.path).relative_to(documents_dir).as_posix() for s in failed}
        report.added = [i for i in report.added if i not in lost]
        report.changed = [i for i in report.changed if i not in lost]
        report.removed = sorted({*report.removed, *(lost & set(old_docs))})
    for doc_id, (chunks, vectors) in new_chunks.items():
        doc = scan.documents[doc_id]
        collections.write_parts(collections.texts, doc.hash, doc.text)
        signatures.add(doc.hash, doc.text)
        rows = _rows(doc, chunks, vectors)
        for start in range(0, len(rows), 200):
            collections.client.upsert(collections.chunks, rows[start : start + 200])
        for row in rows:
            counts.add(row["terms"])

    now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    entries = {doc_id: dict(entry) for doc_id, entry in old_docs.items() if doc_id not in report.removed}
    for doc_id in report.unchanged:  # touched or retitled: a new signature or title, the same rows
        entries[doc_id]["stat"] = scan.stats[doc_id]
        if doc_id in scan.documents:
            doc = scan.documents[doc_id]
            entries[doc_id].update(title=doc.title, published=doc.published, added=doc.added)
    for doc_id, (chunks, _) in new_chunks.items():
        entries[doc_id] = _entry(scan.documents[doc_id], len(chunks), now, scan.stats[doc_id])
    replaced = _replaced_rows(collections, _versions(old_docs) - _versions(entries))
    for row in replaced:
        counts.add(row["terms"], -1)
    count = stories.regroup(entries, signatures, lambda ids: _texts(collections, entries, ids))
    log.info("%d stories of more than one article", count)
    signatures.save({str(e["hash"]) for e in entries.values()})

    tag = secrets.token_hex(8)
    manifest = {
        "embedder": {"name": embedder.name, "dimension": embedder.dimension},
        "chunking": chunking.as_dict(),
        "documents": entries,
        "built_at": now,
        "format_version": FORMAT_VERSION,
        "tag": tag,
        "recipe": collections.recipe,
        "stories": stories.SETTINGS,
        "terms": terms_key(tag),
    }
    collections.write_parts(collections.meta, terms_key(tag), counts.to_json())
    collections.write_parts(collections.meta, tag, json.dumps(manifest, ensure_ascii=False))
    _commit(collections, tag)
    live = {str(e["hash"]) for e in entries.values()}
    gone = {*(h for _, h in _versions(old_docs)), *leftover} - live
    _remove_unreferenced(collections, [r["pk"] for r in replaced], sorted(gone), sorted(set(leftover) - live), tag,
                         sweep=previous is None and existed)
    report.chunks_embedded = sum(len(c) for c, _ in new_chunks.values())
    index = MilvusIndex(collections, manifest, where=f"Milvus at {uri}, collections {prefix}_*")
    index.term_counts = counts  # type: ignore[misc]  # the cached_property's value, known already
    return index, finish(report, started)


def _versions(entries: Mapping[str, Mapping[str, Any]]) -> set[tuple[str, str]]:
    return {(doc_id, str(e["hash"])) for doc_id, e in entries.items()}


def batches(values: list[str], size: int | None = None) -> Iterator[list[str]]:
    """`values` in lists of at most `size` (DELETE_BATCH): no expression grows with the index.

    >>> list(batches(["a", "b", "c"], 2))
    [['a', 'b'], ['c']]
    """
    size = size or DELETE_BATCH
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _replaced_rows(collections: Collections, versions: set[tuple[str, str]]) -> list[dict[str, Any]]:
    """The chunk rows of these document versions (doc id, content hash): the rows an update replaces
    or removes, read by their hashes in batches (their terms leave the term counts)."""
    rows: list[dict[str, Any]] = []
    for hashes in batches(sorted({h for _, h in versions})):
        fields = ["pk", "doc_id", "doc_hash", "terms"]
        found = collections.query(collections.chunks, f"doc_hash in {quoted(hashes)}", fields)
        rows.extend(r for r in found if (r["doc_id"], r["doc_hash"]) in versions)
    return rows


def _texts(collections: Collections, entries: Mapping[str, Mapping[str, Any]], doc_ids: list[str]) -> dict[str, str]:
    """The stored texts of these documents (for the story signatures Milvus does not hold yet)."""
    texts = {}
    for doc_id in doc_ids:
        text = collections.read_parts(collections.texts, str(entries[doc_id]["hash"]))
        if text is not None:
            texts[doc_id] = text
    return texts


class MilvusSignatures:
    """The story signatures (stories.py) of the document versions in Milvus: one row per version in
    the texts collection (part SIGNATURE_PART), so they go when the version's text goes. Read whole
    at each update that writes; what `add` computes is written by `save`, before the manifest."""

    def __init__(self, collections: Collections) -> None:
        self.collections = collections
        rows = collections.query(collections.texts, f"part == {SIGNATURE_PART}", ["key", "text"])
        self.known: dict[str, np.ndarray] = {
            r["key"]: np.frombuffer(base64.b64decode(r["text"]), dtype=np.uint32) for r in rows}
        self.new: set[str] = set()

    def add(self, doc_hash: str, text: str) -> None:
        if doc_hash not in self.known:
            self.known[doc_hash] = stories.signature(text)
            self.new.add(doc_hash)

    def save(self, keep: Iterable[str]) -> None:
        rows = [{"pk": f"{h}:sig", "key": h, "part": SIGNATURE_PART, "vector": [0.0, 0.0],
                 "text": base64.b64encode(self.known[h].astype(np.uint32).tobytes()).decode()}
                for h in sorted(self.new & set(keep))]
        for start in range(0, len(rows), 100):
            self.collections.client.upsert(self.collections.texts, rows[start : start + 100])
        self.new.clear()


def read_pending(collections: Collections) -> list[str]:
    """The content hashes an update killed before the end of its clean-up may have left rows of
    (written, or replaced and not yet deleted)."""
    text = collections.read_parts(collections.meta, PENDING)
    return [str(h) for h in json.loads(text)] if text else []


def _write_pending(collections: Collections, hashes: list[str]) -> None:
    collections.write_parts(collections.meta, PENDING, json.dumps(hashes))


def _commit(collections: Collections, tag: str) -> None:
    """The commit point: `head` names the new manifest, in one single-row upsert."""
    faults.point("index.commit", where=collections.prefix)
    collections.client.upsert(collections.meta, [{"pk": HEAD, "key": HEAD, "part": 0,
                                                  "text": json.dumps({"tag": tag}), "vector": [0.0, 0.0]}])


def _remove_unreferenced(collections: Collections, replaced: list[str], gone: list[str], stray: list[str],
                         tag: str, sweep: bool = False) -> None:
    """After the commit, in batches of DELETE_BATCH: delete the chunk rows the update replaced (by
    primary key), the texts of the content hashes no entry names any more (`gone`), the chunk rows
    of those an update killed before its clean-up wrote (`stray`), and the other manifests. No
    expression names the live documents, so none grows with the index. `sweep` (a rebuild over
    collections no manifest describes): every row is read and those of no live version deleted."""
    faults.point("index.clean_up")
    client = collections.client
    for name in collections.other_chunk_collections():
        client.drop_collection(name)
    for pks in batches(replaced):
        client.delete(collections.chunks, ids=pks)
    for hashes in batches(stray):
        client.delete(collections.chunks, filter=f"doc_hash in {quoted(hashes)}")
    for hashes in batches(gone):
        client.delete(collections.texts, filter=f"key in {quoted(hashes)}")
    if sweep:
        _sweep(collections, tag)
    # Constant size: the previous manifests, their term counts and the pending row go.
    client.delete(collections.meta, filter=f"key not in {quoted([HEAD, tag, terms_key(tag)])}")


def _sweep(collections: Collections, tag: str) -> None:
    """Delete every row of no version the manifest `tag` names, reading all rows (a rebuild only)."""
    text = collections.read_parts(collections.meta, tag)
    entries = json.loads(text)["documents"] if text else {}
    live = _versions(entries)
    hashes = {h for _, h in live}
    rows = collections.query(collections.chunks, 'doc_hash != ""', ["pk", "doc_id", "doc_hash"])
    for pks in batches([r["pk"] for r in rows if (r["doc_id"], r["doc_hash"]) not in live]):
        collections.client.delete(collections.chunks, ids=pks)
    rows = collections.query(collections.texts, 'key != ""', ["pk", "key"])
    for pks in batches([r["pk"] for r in rows if r["key"] not in hashes]):
        collections.client.delete(collections.texts, ids=pks)
