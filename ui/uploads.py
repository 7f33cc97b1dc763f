"""Save uploaded articles into the documents folder, and remove them, without trusting any name.

A browser-supplied file name is untrusted. `safe_name` keeps only its last path component, turns
anything but letters, digits, `.`, `_` and `-` into `-`, drops leading dots (the loader skips hidden
files), keeps at most `MAX_STEM` characters and `MAX_STEM_BYTES` bytes of UTF-8 before the suffix
(file systems count bytes), and refuses types the loader cannot read. `save_upload` refuses empty files, files over the
size limit and files the loader cannot use (binary, not UTF-8, a PDF without text), each with a
message saying why. It never writes outside the folder and never overwrites: the same content
already in the folder is reported and not added again; a different file under a taken name is
saved as `name-2.txt`, and the message says so. `remove_document` deletes one indexed article's file.

>>> safe_name("../../etc/passwd.txt")
'passwd.txt'
>>> safe_name("C:\\\\Users\\\\me\\\\Tokyo visit (final).MD")
'Tokyo-visit-final.md'
>>> len(safe_name("東京" * 50 + ".txt").encode("utf-8"))  # 100 characters, 300 bytes: cut to whole characters
202

Deliberately not here: indexing (the caller runs `Assistant.index`) and anything about gradio.
"""

from __future__ import annotations

import hashlib
import logging
import re
import tempfile
import unicodedata
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

from rag.errors import RagError
from rag.ingest.loading import MAX_FILE_BYTES, SUPPORTED_SUFFIXES, UnusableFile, iter_files, read_document

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = MAX_FILE_BYTES  # the loader skips larger files, so refusing them here is clearer
MAX_STEM = 100  # characters of a saved name before its suffix…
# …and bytes: file systems count bytes (at most 255 in a name), and a name of 100 CJK characters is
# 300 bytes in UTF-8. 200 leaves room for "-99", the suffix and a `.meta.json` sidecar's name.
MAX_STEM_BYTES = 200
KINDS = ".txt, .md, .html or .pdf"


class UploadError(RagError):
    """An upload or a removal that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class Saved:
    doc_id: str  # the file's name in the documents folder, which is also its document id
    path: Path
    added: bool  # False when the same content was already in the folder
    message: str


def _shown(name: str) -> str:
    name = " ".join(name.split())
    return name if len(name) <= 80 else name[:79] + "…"


def size_text(n: int) -> str:
    """
    >>> size_text(3 * 1024 * 1024), size_text(20 * 1024 * 1024), size_text(1536)
    ('3 MiB', '20 MiB', '1.5 KiB')
    """
    for unit, scale in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if n >= scale:
            return f"{n / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{n} bytes"


def safe_name(name: str) -> str:
    """A file name that is safe to create in the documents folder, or UploadError."""
    base = re.split(r"[\\/]", unicodedata.normalize("NFKC", name or ""))[-1].strip()
    if not base:
        raise UploadError(f"The upload has no file name: choose a {KINDS} file.")
    stem, dot, suffix = base.rpartition(".")
    if not dot or not suffix:
        raise UploadError(f"“{_shown(base)}” has no file extension: only {KINDS} files can be added.")
    suffix = "." + suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise UploadError(f"“{_shown(base)}” is a {suffix} file: only {KINDS} files can be added.")
    stem = re.sub(r"[^\w.-]+", "-", stem)
    stem = re.sub(r"-{2,}", "-", stem).strip(".-_")[:MAX_STEM]
    stem = stem.encode("utf-8")[:MAX_STEM_BYTES].decode("utf-8", "ignore").rstrip(".-_")  # whole characters
    return (stem or "article") + suffix


def _candidates(name: str) -> Iterator[str]:
    stem, suffix = name.rsplit(".", 1)
    yield name
    for n in range(2, 100):
        yield f"{stem}-{n}.{suffix}"


def _inside(folder: Path, name: str) -> Path:
    path = folder / name
    if path.resolve().parent != folder.resolve():
        raise UploadError(f"“{_shown(name)}” would not be saved inside the documents folder: refused.")
    return path


class FolderContents:
    """Which file in the folder holds given bytes, with each file's digest computed at most once:
    checking a batch of uploads against the folder is then linear, not one folder scan per file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._by_size: dict[int, list[Path]] | None = None
        self._digests: dict[Path, bytes] = {}

    def _sizes(self) -> dict[int, list[Path]]:
        if self._by_size is None:
            self._by_size = {}
            if self.folder.is_dir():
                for path in iter_files(self.folder):
                    self._by_size.setdefault(path.stat().st_size, []).append(path)
        return self._by_size

    def find(self, data: bytes) -> str | None:
        digest = hashlib.sha256(data).digest()
        for path in self._sizes().get(len(data), []):
            if path not in self._digests:
                self._digests[path] = hashlib.sha256(path.read_bytes()).digest()
            if self._digests[path] == digest:
                return path.relative_to(self.folder).as_posix()
        return None

    def add(self, path: Path, data: bytes) -> None:
        self._sizes().setdefault(len(data), []).append(path)
        self._digests[path] = hashlib.sha256(data).digest()


def check_usable(data: bytes, name: str) -> None:
    """UploadError unless the loader can read an article from `data` saved as `name`."""
    with tempfile.TemporaryDirectory(prefix="rag-upload-") as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        try:
            read_document(path, name)
        except UnusableFile as why:
            raise UploadError(f"“{_shown(name)}” cannot be used: {why}.") from None
        except Exception as err:  # a reader failing in a way nobody foresaw refuses this file only
            log.exception("Reading the upload %r failed", name)
            raise UploadError(f"“{_shown(name)}” cannot be used: reading it failed ({type(err).__name__}).") from None


def save_upload(
    source: Path,
    name: str,
    folder: Path,
    max_bytes: int = MAX_UPLOAD_BYTES,
    contents: FolderContents | None = None,
) -> Saved:
    """Copy the uploaded file `source`, sent under `name`, into `folder`; UploadError if refused.

    Pass the same `contents` for every file of one upload, so the folder is read only once.
    """
    target = safe_name(name)
    shown = _shown(re.split(r"[\\/]", name)[-1])
    size = source.stat().st_size
    if size == 0:
        raise UploadError(f"“{shown}” is empty: nothing to add.")
    if size > max_bytes:
        raise UploadError(f"“{shown}” is {size_text(size)}: articles can be at most {size_text(max_bytes)}.")
    data = source.read_bytes()
    check_usable(data, target)
    folder.mkdir(parents=True, exist_ok=True)
    contents = contents or FolderContents(folder)
    existing = contents.find(data)
    if existing is not None:
        return Saved(existing, folder / existing, False, f"“{shown}” is already in the library as {existing}.")
    for candidate in _candidates(target):
        path = _inside(folder, candidate)
        try:
            with path.open("xb") as out:  # "x": never replace a file, even one that appeared just now
                out.write(data)
        except FileExistsError:
            continue
        log.info("Saved upload %r as %s", name, path)
        contents.add(path, data)
        if candidate != target:
            message = (
                f"A different file named {target} is already in the library, so “{shown}” was saved as {candidate}."
            )
        elif candidate != shown:
            message = f"Added “{shown}” as {candidate}."
        else:
            message = f"Added {candidate}."
        return Saved(candidate, path, True, message)
    raise UploadError(f"Too many files are named like {target}: rename “{shown}” and upload it again.")


def remove_document(folder: Path, doc_id: str, indexed: Collection[str]) -> Path:
    """Delete the file of the indexed article `doc_id`; UploadError if it is unknown or outside."""
    if doc_id not in indexed:
        raise UploadError(f"“{_shown(doc_id)}” is not an indexed article: refresh the list and choose again.")
    path = folder / doc_id
    root = folder.resolve()
    if root not in path.resolve().parents:
        raise UploadError(f"“{_shown(doc_id)}” is not inside the documents folder: refused.")
    try:
        path.unlink()
    except FileNotFoundError:
        log.info("%s was already gone; the index will forget it", path)
    except OSError as err:
        raise UploadError(f"{doc_id} could not be deleted ({err.strerror}).") from None
    return path
