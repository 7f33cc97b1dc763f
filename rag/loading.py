"""Read the documents folder into `Document`s: .txt, .md, .html/.htm and .pdf, recursively.

Each document gets a stable id (its path relative to the folder, with forward slashes), a title
(first Markdown heading / HTML <title> / a headline-length first line / the file name), normalised
text and a content hash.
A file that cannot be used (unreadable, empty, binary, undecodable, a PDF without a text layer)
is skipped with a warning naming the file and the reason; the rest still load.

Deliberately not here: chunking, and anything about the index.
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from rag.errors import DocumentsError
from rag.types import Document

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf")
MAX_FILE_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


class UnusableFile(Exception):
    """Internal: why one file is skipped."""


def normalise(text: str) -> str:
    """NFC, unified newlines, no trailing spaces, at most one blank line in a row, stripped.

    >>> normalise("A  line \\r\\n\\r\\n\\r\\nNext\\u00a0one\\n")
    'A  line\\n\\nNext one'
    """
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u00a0", " ").replace("\ufeff", "")
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _decode(data: bytes, path: Path) -> str:
    if b"\x00" in data[:8192]:
        raise UnusableFile("it looks binary (it contains NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise UnusableFile(f"it is not valid UTF-8 (byte {err.start}); save it as UTF-8") from None


def _read_html(data: bytes, path: Path) -> tuple[str, str]:
    import trafilatura  # lazy: only needed for HTML files

    html = _decode(data, path)
    text = trafilatura.extract(html, include_comments=False, include_tables=True, favor_recall=True) or ""
    meta = trafilatura.extract_metadata(html)
    title = (meta.title if meta and meta.title else "") or ""
    return text, title


def _read_pdf(data: bytes, path: Path) -> tuple[str, str]:
    import io

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
        metadata = reader.metadata
        title = str(metadata.get("/Title") or "") if metadata else ""
    except (PdfReadError, ValueError, KeyError) as err:
        raise UnusableFile(f"it is not a readable PDF ({err})") from None
    return "\n\n".join(pages), title


def _markdown_title(text: str) -> str:
    match = re.search(r"^#{1,6}\s+(.+)$", text, flags=re.MULTILINE)
    return match.group(1).strip() if match else ""


def _first_line_title(text: str, limit: int = 100) -> str:
    """The first line, when it is short enough to be a headline rather than a paragraph."""
    first = text.split("\n", 1)[0].strip()
    return first if len(first) <= limit else ""


def _name_title(path: Path) -> str:
    """ "tokayev-state-visit-to-japan.txt" -> "Tokayev state visit to japan" """
    words = re.sub(r"[-_.]+", " ", path.stem).strip()
    return words[:1].upper() + words[1:]


def read_document(path: Path, doc_id: str) -> Document:
    """Read one file; raise UnusableFile with the reason if it cannot be used."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise UnusableFile(f"it is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
        data = path.read_bytes()
    except OSError as err:
        raise UnusableFile(f"it cannot be read ({err.strerror})") from None
    if not data.strip():
        raise UnusableFile("it is empty")
    suffix = path.suffix.lower()
    if suffix in (".html", ".htm"):
        raw, title = _read_html(data, path)
    elif suffix == ".pdf":
        raw, title = _read_pdf(data, path)
    else:
        raw = _decode(data, path)
        title = _markdown_title(raw) if suffix in (".md", ".markdown") else ""
    text = normalise(raw)
    if not text:
        raise UnusableFile("no text could be extracted from it")
    title = normalise(title) or _first_line_title(text) or _name_title(path)
    return Document(id=doc_id, title=title, text=text, hash=content_hash(text))


def iter_files(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix.lower() in SUPPORTED_SUFFIXES and not _hidden(path, folder):
            yield path


def _hidden(path: Path, folder: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(folder).parts)


def load_documents(folder: Path) -> tuple[list[Document], list[Skipped]]:
    """Every usable document under `folder`, and the files skipped with their reasons."""
    if not folder.is_dir():
        raise DocumentsError(
            f"The documents folder {folder} does not exist. Create it and put .txt, .md, .html or .pdf "
            "articles in it, or point --documents / RAG_DOCUMENTS at another folder."
        )
    documents: list[Document] = []
    skipped: list[Skipped] = []
    for path in iter_files(folder):
        doc_id = path.relative_to(folder).as_posix()
        try:
            documents.append(read_document(path, doc_id))
        except UnusableFile as why:
            log.warning("Skipping %s: %s", path, why)
            skipped.append(Skipped(str(path), str(why)))
    return documents, skipped
