"""Read the documents folder into `Document`s: .txt, .md, .html/.htm and .pdf, recursively.

Each document gets a stable id (its path relative to the folder, with forward slashes), a title
(front matter or sidecar title / first Markdown heading / HTML <title> / a headline-length first
line / the file name; HTML entities decoded, so "&#163;1.8m" reads "£1.8m"), normalised text, its
news metadata (published, source, author, url: from a `_folder.meta.json` of its folder, then
trafilatura for HTML or YAML front matter for text and Markdown, then a `<file>.meta.json` sidecar
for any file, which wins) and a hash of the text and the declared metadata (`document_hash`). When
nothing says when it was published, the file's time is kept as `added`, never as `published`.
The headline first line of a plain-text article (short, no full stop, more text after it) is its
title, and is kept in the text as a Markdown heading ("# Headline"): its words are still searched,
and it is never quoted as a sentence of the article.
A file that cannot be used (unreadable, larger than `MAX_FILE_BYTES` or with more text than
`MAX_TEXT_CHARS`, empty, binary, undecodable, a password-protected PDF or one without a text layer,
or one any reader fails on) is skipped with a warning naming the file and the reason; the rest
still load. Text files may be UTF-8, UTF-16 or UTF-32 with a byte order mark, or another encoding
that rag.ingest.charsets detects (a warning says which was used). A link (or a linked folder) that leads
outside the documents folder is skipped too, so that `ln -s /etc/passwd documents/` does not put
the system's files in the chat. Sidecars (`.meta.json`) are not articles themselves.

Deliberately not here: chunking, and anything about the index.
"""

from __future__ import annotations

import codecs
import hashlib
import html as html_module
import json
import logging
import os
import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from rag.errors import DocumentsError
from rag.ingest import charsets, metadata
from rag.types import Document

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf")
MAX_FILE_BYTES = 20 * 1024 * 1024
# About 1,000 pages. Indexing is linear in the text, but MiniLM embeds roughly 3,500 characters a
# second on two cores, so a longer text would hold its upload for ten minutes or more.
MAX_TEXT_CHARS = 2_000_000


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


def document_hash(text: str, metadata: Mapping[str, str | None]) -> str:
    """What the index's change detection compares: the text and the metadata the article declares.

    With no declared metadata it is `content_hash(text)`, so indexes of plain files stay valid;
    otherwise the sha256 of the text, a NUL and the metadata as canonical JSON (sorted keys, None
    values left out). The file-time fallback for `published` is not declared metadata and is not
    hashed: copying or touching a folder must not re-embed the archive.

    >>> document_hash("Text", {}) == content_hash("Text"), document_hash("Text", {"url": None}) == content_hash("Text")
    (True, True)
    >>> document_hash("Text", {"source": "BBC News"}) == content_hash("Text")
    False
    """
    declared = {key: value for key, value in metadata.items() if value is not None}
    if not declared:
        return content_hash(text)
    canonical = json.dumps(declared, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8") + b"\x00" + canonical.encode("utf-8")).hexdigest()


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16: its mark starts with UTF-16 LE's
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def decode(data: bytes, declared: str | None = None) -> tuple[str, str | None]:
    """The text of a file and, when it was not UTF-8, a note saying how it was read; UnusableFile
    when it is binary or no encoding reads it. `declared` is an encoding the file or server names."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding), None
            except UnicodeDecodeError as err:
                raise UnusableFile(f"it is not valid {encoding.upper()} (byte {err.start})") from None
    if b"\x00" in data[:8192]:
        raise UnusableFile("it looks binary (it contains NUL bytes); a UTF-16 text file needs its byte order mark")
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as err:
        text, how = charsets.detect(data, declared)
        if text is None:
            raise UnusableFile(f"it is not valid UTF-8 (byte {err.start}) and {how}; save it as UTF-8") from None
        return text, f"not UTF-8: read as {how}"


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


def declared_charset(html: bytes) -> str | None:
    """The encoding an HTML page names in a <meta> tag near its top, if any."""
    match = _META_CHARSET.search(html[:4096])
    return match.group(1).decode("ascii") if match else None


def html_article(html: str, url: str | None = None) -> tuple[str, dict[str, str]]:
    """The article text of an HTML page and its metadata (title, published, source, author, url),
    as trafilatura finds them. The date comes from the markup only (meta tags, <time>, JSON-LD,
    the URL): trafilatura's extensive search also guesses from the running text, where a
    copyright year would pass for the publication date. `url` is where the page came from, used
    when it names no canonical address."""
    import trafilatura  # lazy: only needed for HTML
    from trafilatura.settings import set_date_params

    text = trafilatura.extract(html, url=url, include_comments=False, include_tables=True, favor_recall=True) or ""
    meta = trafilatura.extract_metadata(html, default_url=url, date_config=set_date_params(extensive=False))
    found = {
        "title": meta.title,
        "published": meta.date,
        "source": meta.sitename or meta.hostname,
        "author": meta.author,
        "url": meta.url,
    }
    return text, {key: value.strip() for key, value in found.items() if isinstance(value, str) and value.strip()}


# libxml2, which reads HTML for trafilatura, gives up on elements nested deeper than about 255 levels
# (trafilatura's own wrapping takes a few) and on a text node over 10,000,000 bytes: the page then
# has no text, and "no text could be extracted" would not say why.
HTML_MAX_DEPTH = 250
HTML_MAX_TEXT_RUN = 10_000_000
_TAG = re.compile(r"<(/?)([A-Za-z][\w:-]*)[^>]*?(/?)>")
_VOID = frozenset(
    "area base br col embed hr img input link meta param source track wbr basefont bgsound frame keygen".split()
)


def html_too_much(html: str) -> str | None:
    """Why the HTML reader finds no text in `html`, when it is one of its limits: elements nested
    too deeply, or a run of text without markup too long; None otherwise. (Counted roughly: a tag
    left open counts as nested.)

    >>> html_too_much("<div>" * 300 + "Text" + "</div>" * 300)
    'its HTML is nested 300 levels deep, more than the 250 the HTML reader handles; save the article as text instead'
    >>> html_too_much("<p>Text</p>") is None
    True
    """
    depth = deepest = longest = last = 0

    def run(start: int, end: int) -> int:  # in bytes, as libxml2 counts; only long runs are encoded
        return end - start if end - start <= HTML_MAX_TEXT_RUN // 4 else len(html[start:end].encode("utf-8"))

    for tag in _TAG.finditer(html):
        longest = max(longest, run(last, tag.start()))
        last = tag.end()
        closing, name, self_closing = tag.group(1), tag.group(2).lower(), tag.group(3)
        if name in _VOID or self_closing:
            continue
        depth = max(depth - 1, 0) if closing else depth + 1
        deepest = max(deepest, depth)
    longest = max(longest, run(last, len(html)))
    if deepest > HTML_MAX_DEPTH:
        return (
            f"its HTML is nested {deepest:,} levels deep, more than the {HTML_MAX_DEPTH} the HTML reader handles; "
            "save the article as text instead"
        )
    if longest > HTML_MAX_TEXT_RUN:
        return (
            f"it holds {longest:,} bytes of text without any markup, more than the {HTML_MAX_TEXT_RUN:,} the HTML "
            "reader takes in one piece; split it into paragraphs or save it as text"
        )
    return None


def _read_pdf(data: bytes, path: Path) -> tuple[str, str]:
    import io

    from pypdf import PasswordType, PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        # An encrypted PDF with an empty user password opens without one, as in any PDF viewer.
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise UnusableFile("it is a password-protected PDF; save a copy without the password and add that")
        pages = [page.extract_text() or "" for page in reader.pages]
        info = reader.metadata
        title = str(info.get("/Title") or "") if info else ""
    except FileNotDecryptedError:
        raise UnusableFile("it is a password-protected PDF; save a copy without the password and add that") from None
    except DependencyError as err:  # e.g. AES without the `cryptography` package
        raise UnusableFile(f"this installation cannot decrypt it ({err})") from None
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError) as err:
        raise UnusableFile(f"it is not a readable PDF ({type(err).__name__}: {err})") from None
    return "\n\n".join(pages), title


def _markdown_title(text: str) -> str:
    match = re.search(r"^#{1,6}\s+(.+)$", text, flags=re.MULTILINE)
    return match.group(1).strip() if match else ""


HEADLINE_CHARS = 100
HEADLINE_WORDS = 20


def headline(text: str) -> str:
    """The first line of a plain text when it is a headline, else "": at most HEADLINE_CHARS
    characters and HEADLINE_WORDS words, no full stop, comma, colon or semicolon at its end, not
    already a Markdown heading, and followed by more text.

    >>> headline("Brown shrugs off economy fears\\n\\nGordon Brown has said..."), headline("It rained.\\nMore.")
    ('Brown shrugs off economy fears', '')
    """
    first, newline, rest = text.partition("\n")
    first = first.strip()
    if not newline or not rest.strip() or not first or first.startswith("#"):
        return ""
    if len(first) > HEADLINE_CHARS or len(first.split()) > HEADLINE_WORDS or first[-1] in ".,:;":
        return ""
    return first if any(c.isalpha() for c in first) else ""


def clean_title(title: str) -> str:
    """A title as a reader should see it: HTML entities decoded, whitespace made single spaces.

    >>> clean_title("Profits up &#163;1.8m &amp; rising"), clean_title("AT&amp;T&nbsp; deal")
    ('Profits up £1.8m & rising', 'AT&T deal')
    """
    return " ".join(html_module.unescape(title).split())


def _first_line_title(text: str, limit: int = 100) -> str:
    """The first line, when it is short enough to be a headline rather than a paragraph."""
    first = text.split("\n", 1)[0].strip()
    return first if len(first) <= limit else ""


def _name_title(path: Path) -> str:
    """ "tokayev-state-visit-to-japan.txt" -> "Tokayev state visit to japan" """
    words = re.sub(r"[-_.]+", " ", path.stem).strip()
    return words[:1].upper() + words[1:]


def read_file(path: Path, doc_id: str) -> tuple[Document, str | None]:
    """Read one file: the document, and a note on how it was read (an encoding that was not UTF-8,
    a sidecar or date that could not be used), or None. Raise UnusableFile with the reason if the
    file cannot be used at all.

    Metadata, later sources winning: the file's time as `published` when nothing else is known;
    what the file says (trafilatura for HTML, front matter for text and Markdown); the sidecar
    `<file>.meta.json`. A front matter block is removed from the text before it is normalised, so
    every offset points into the article text alone. `Document.hash` covers the text and the
    metadata the file or sidecar declares (`document_hash`), so editing only a sidecar still
    counts as a change.
    """
    notes: list[str] = []
    root = path
    for _ in Path(doc_id).parts:
        root = root.parent
    folder, problems = metadata.folder_metadata(path, root)
    notes += problems
    try:
        sidecar = metadata.read_sidecar(path)
    except metadata.MetadataProblem as why:
        notes.append(str(why))
        sidecar = {}
    encoding = metadata.as_text(sidecar.get("encoding"), "encoding", notes) if "encoding" in sidecar else None
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
    found: dict[str, str] = {}
    title = ""
    if suffix in (".html", ".htm"):
        html, how = decode(data, encoding or declared_charset(data))
        raw, found = html_article(html)
        if not raw.strip() and (too_much := html_too_much(html)):
            raise UnusableFile(too_much)
    elif suffix == ".pdf":
        raw, title = _read_pdf(data, path)
        how = None
    else:
        raw, how = decode(data, encoding)
        try:
            front, raw = metadata.split_front_matter(raw)
        except metadata.MetadataProblem as why:
            notes.append(f"{why}; it was indexed as text")
            front = {}
        found, problems = metadata.fields(front)
        notes += problems
        if suffix in (".md", ".markdown"):
            title = _markdown_title(raw)
    if how:
        notes.insert(0, how)
    declared, problems = metadata.fields(sidecar)
    notes += [f"in {metadata.sidecar_path(path).name}: {p}" for p in problems]
    known = {**folder, **found, **declared}
    text = normalise(raw)
    if not text:
        raise UnusableFile("no text could be extracted from it")
    if len(text) > MAX_TEXT_CHARS:
        raise UnusableFile(
            f"its text is {len(text):,} characters, more than the {MAX_TEXT_CHARS:,} an article may have; "
            "split it into smaller files"
        )
    title = normalise(known.pop("title", "") or title)
    if suffix == ".txt" and (first := headline(text)):
        text = "# " + text  # the headline: a heading, searched but never cited as a sentence
        title = title or first
    title = clean_title(title or _first_line_title(text) or _name_title(path)) or _name_title(path)
    news = {key: known.get(key) for key in ("published", "source", "author", "url")}
    digest = document_hash(text, news)
    # The file's time says when the file was copied here, not when the news appeared: kept apart.
    added = metadata.file_time(path) if news["published"] is None else None
    document = Document(id=doc_id, title=title, text=text, hash=digest, **news, added=added)
    return document, "; ".join(notes) or None


def read_document(path: Path, doc_id: str) -> Document:
    """Read one file, logging how it was read when that needs saying; raise UnusableFile with the
    reason if it cannot be used."""
    document, note = read_file(path, doc_id)
    if note:
        log.warning("Reading %s: %s", path, note)
    return document


def iter_files(folder: Path) -> Iterator[Path]:
    """The supported, non-hidden files under `folder`, links that stay inside it included."""
    yield from list_folder(folder)[0]


def list_folder(folder: Path, sidecars: set[Path] | None = None) -> tuple[list[Path], list[Skipped]]:
    """In one pass over `folder`: its supported, non-hidden files (links that stay inside it
    included), and the links skipped because they lead outside it (or nowhere).

    Linked folders are not entered. The walk reads each directory once (os.scandir) and resolves
    only links: an archive of 10,000 files is listed in a fraction of a second. `sidecars`, when
    given, receives the paths of the `.meta.json` files seen on the way."""
    files: list[Path] = []
    skipped: list[Skipped] = []
    _walk(folder, folder, files, skipped, sidecars if sidecars is not None else set())
    return sorted(files), sorted(skipped, key=lambda s: Path(s.path))


def _walk(directory: Path, folder: Path, files: list[Path], skipped: list[Skipped], sidecars: set[Path]) -> None:
    try:
        with os.scandir(directory) as listing:
            entries = sorted(listing, key=lambda e: e.name)
    except OSError as err:
        log.warning("Cannot list %s (%s)", directory, err.strerror)
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = directory / entry.name
        if entry.name.endswith(".meta.json"):
            sidecars.add(path)
        supported = path.suffix.lower() in SUPPORTED_SUFFIXES
        try:
            if entry.is_symlink():
                if not supported and not entry.is_dir():
                    continue
                target = _outside(path, folder)
                if target is not None:
                    skipped.append(Skipped(str(path), f"it is a link to {target}, outside the documents folder"))
                elif supported and entry.is_file():
                    files.append(path)
            elif entry.is_dir(follow_symlinks=False):
                _walk(path, folder, files, skipped, sidecars)
            elif supported and entry.is_file(follow_symlinks=False):
                files.append(path)
        except OSError as err:
            log.warning("Skipping %s (%s)", path, err.strerror)


def _outside(path: Path, folder: Path) -> str | None:
    """Where `path` really is, when a link takes it out of `folder`; None when it stays inside."""
    try:
        real = path.resolve(strict=True)
        root = folder.resolve(strict=True)
    except (OSError, RuntimeError):  # a broken link or a loop of links
        return "an unresolvable link"
    return None if root in real.parents else str(real)


def links_outside(folder: Path) -> list[Skipped]:
    return list_folder(folder)[1]


def require_folder(folder: Path) -> None:
    """Raise DocumentsError, saying what to do, when the documents folder does not exist."""
    if not folder.is_dir():
        raise DocumentsError(
            f"The documents folder {folder} does not exist. Create it and put .txt, .md, .html or .pdf "
            "articles in it, or point --documents / RAG_DOCUMENTS at another folder."
        )


def load_documents(folder: Path) -> tuple[list[Document], list[Skipped]]:
    """Every usable document under `folder`, and the files skipped with their reasons."""
    require_folder(folder)
    documents: list[Document] = []
    skipped = links_outside(folder)
    for why in skipped:
        log.warning("Skipping %s: %s", why.path, why.reason)
    for path in iter_files(folder):
        doc_id = path.relative_to(folder).as_posix()
        try:
            documents.append(read_document(path, doc_id))
        except UnusableFile as why:
            log.warning("Skipping %s: %s", path, why)
            skipped.append(Skipped(str(path), str(why)))
        except Exception as err:  # a reader failing in a way nobody foresaw must not stop the other files
            log.exception("Skipping %s: reading it failed", path)
            skipped.append(Skipped(str(path), f"reading it failed ({type(err).__name__}: {err})"))
    return documents, skipped

