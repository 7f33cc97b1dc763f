"""The index folder on disk: a manifest, a FAISS index of chunk vectors, the chunks and documents.

Layout of `index/`:
- `manifest.json`: format version, embedder name and dimension, chunking settings, and per
  document its hash, title, size, chunk count and when it was indexed; it names the data files.
- `vectors-<tag>.faiss`, `chunks-<tag>.jsonl`, `documents-<tag>.jsonl`: the data of one build.

Writes are atomic: a build writes new data files under a fresh tag, then replaces
`manifest.json` in one `os.replace`, then deletes data files no manifest names (a clean-up killed
half-way is finished by the next `rag index`, even one with nothing to update). Killed at any
moment, the folder still holds a complete previous index. Loading checks the manifest against the
embedder in use and refuses a mismatch with a message that says to re-run `rag index`.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import IndexStoreError
from rag.types import Chunk, Document

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
MANIFEST = "manifest.json"


@dataclass
class StoredIndex:
    manifest: dict[str, Any]
    documents: dict[str, Document]
    chunks: list[Chunk]  # row i of `vectors` is chunks[i]
    vectors: np.ndarray

    def faiss_index(self) -> Any:
        import faiss

        index = faiss.IndexFlatIP(self.vectors.shape[1])
        if len(self.vectors):
            index.add(self.vectors)
        return index


def _fsync_write(path: Path, data: bytes) -> None:
    with path.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def save(folder: Path, index: StoredIndex) -> None:
    try:
        _save(folder, index)
    except OSError as err:
        raise IndexStoreError(
            f"Cannot write the index in {folder} ({err.strerror or err}). It must be a folder you can write to: "
            "choose another with --index or RAG_INDEX."
        ) from None


def _save(folder: Path, index: StoredIndex) -> None:
    import faiss

    folder.mkdir(parents=True, exist_ok=True)
    tag = secrets.token_hex(4)
    files = {
        "vectors": f"vectors-{tag}.faiss",
        "chunks": f"chunks-{tag}.jsonl",
        "documents": f"documents-{tag}.jsonl",
    }
    _fsync_write(folder / files["vectors"], faiss.serialize_index(index.faiss_index()).tobytes())
    _fsync_write(folder / files["chunks"], _jsonl(asdict(c) for c in index.chunks))
    _fsync_write(folder / files["documents"], _jsonl(asdict(d) for d in index.documents.values()))
    manifest = {**index.manifest, "format_version": FORMAT_VERSION, "files": files}
    tmp = folder / f".{MANIFEST}.{tag}.tmp"
    _fsync_write(tmp, json.dumps(manifest, indent=2, ensure_ascii=False).encode())
    os.replace(tmp, folder / MANIFEST)  # the commit point
    index.manifest = manifest
    remove_unreferenced(folder, manifest)


def _jsonl(rows: Any) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()


def remove_unreferenced(folder: Path, manifest: dict[str, Any]) -> None:
    """Delete the data files and temporary files `manifest` does not name: what a killed build or a
    killed clean-up left behind. Only a writer of the index calls this."""
    keep = set(manifest.get("files", {}).values())
    for path in folder.iterdir():
        stale_data = path.name.startswith(("vectors-", "chunks-", "documents-")) and path.name not in keep
        if stale_data or path.name.endswith(".tmp"):
            try:
                path.unlink(missing_ok=True)
            except OSError as err:
                log.warning("Could not delete the old index file %s (%s)", path, err.strerror)


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


def load(folder: Path, embedder_name: str, dimension: int) -> StoredIndex:
    import faiss

    manifest = read_manifest(folder)
    check_compatible(manifest, embedder_name, dimension, folder)
    files = manifest.get("files", {})
    try:
        documents = [Document(**row) for row in _read_jsonl(folder / files["documents"])]
        chunks = [Chunk(**row) for row in _read_jsonl(folder / files["chunks"])]
        flat = faiss.deserialize_index(np.frombuffer((folder / files["vectors"]).read_bytes(), dtype=np.uint8))
        vectors = flat.reconstruct_n(0, flat.ntotal) if flat.ntotal else np.zeros((0, dimension), np.float32)
    except (KeyError, OSError, TypeError, ValueError, RuntimeError) as err:
        raise IndexStoreError(f"The index in {folder} is damaged ({err}). Run `rag index` to rebuild it.") from None
    if len(chunks) != len(vectors) or vectors.shape[1] != dimension:
        raise IndexStoreError(
            f"The index in {folder} is inconsistent ({len(chunks)} chunks, {len(vectors)} vectors). "
            "Run `rag index` to rebuild it."
        )
    return StoredIndex(manifest, {d.id: d for d in documents}, chunks, np.asarray(vectors, dtype=np.float32))


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
