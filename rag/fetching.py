"""Add an article by its address: fetch the page, keep its text and metadata as a Markdown file.

`fetch_article(url, documents_dir)` downloads one web page over http or https with httpx (redirects
followed, at most `MAX_REDIRECTS`; the timeout applies to connecting and to each read; the body is
streamed and abandoned past `max_bytes`), extracts the article text and metadata with trafilatura
(loading.html_article, as for saved HTML files) and writes `web/<host>/<slug>-<digest>.md` in the
documents folder: YAML front matter (title, published, source, author, url, fetched) and the text.
The name comes from the page's final address, so fetching it again replaces the file. Every
failure is a `FetchError` naming the address, what went wrong and what to do.

Deliberately not here: indexing the saved file (the caller brings the index up to date, as `rag
add` does), and pages that need JavaScript or a login.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import os
import re
import tempfile
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag import loading
from rag.errors import FetchError

MAX_REDIRECTS = 5
HTML_TYPES = ("text/html", "application/xhtml+xml")
USER_AGENT = "local-rag/0.1 (a private reader fetching one article)"
MIN_TEXT_CHARS = 40  # less is a cookie wall or an empty shell, not an article


@dataclass(frozen=True)
class FetchedArticle:
    path: Path  # the Markdown file written in the documents folder
    doc_id: str  # its path relative to the folder, as the index names it
    title: str
    published: str | None
    source: str | None
    author: str | None
    url: str  # the article's canonical address (or the final one after redirects)


def fetch_article(
    url: str, documents_dir: Path, *, timeout_s: float = 15.0, max_bytes: int = 5_000_000
) -> FetchedArticle:
    """Fetch the page at `url`, save its article into `documents_dir`; FetchError on any failure."""
    address = check_address(url)
    data, final_url, charset = _download(address, timeout_s, max_bytes)
    try:
        html, _ = loading.decode(data, charset or loading.declared_charset(data))
    except loading.UnusableFile as why:
        raise FetchError(f"{address} could not be read as a web page: {why}.") from None
    raw, meta = loading.html_article(html, url=final_url)
    text = loading.normalise(raw)
    if len(text) < MIN_TEXT_CHARS:
        raise FetchError(
            f"No article text was found at {address}: the page may need JavaScript, a login or a cookie "
            "consent. Save the article from your browser (as HTML or text) into the documents folder instead."
        )
    canonical = meta.get("url") if _is_web(meta.get("url")) else None
    title = meta.get("title") or _title_from(final_url)
    published = meta.get("published")
    article = FetchedArticle(
        path=Path(),
        doc_id="",
        title=title,
        published=published,
        source=meta.get("source"),
        author=meta.get("author"),
        url=canonical or final_url,
    )
    relative = saved_name(final_url)
    path = _write(documents_dir, relative, _markdown(article, text))
    return dataclasses.replace(article, path=path, doc_id=relative.as_posix())


def check_address(url: str) -> str:
    """The address, stripped, if it is an http or https URL with a host; FetchError if not."""
    address = url.strip()
    try:
        parts = urllib.parse.urlsplit(address)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as err:
        raise FetchError(f"{address!r} is not a valid web address ({err}).") from None
    if parts.scheme.lower() not in ("http", "https"):
        scheme = f"a {parts.scheme}: address" if parts.scheme else "not a web address"
        raise FetchError(
            f"{address!r} is {scheme}: only http:// and https:// pages can be added. "
            "Copy the address from the browser's address bar."
        )
    if not parts.hostname:
        raise FetchError(f"{address!r} has no host name: give a whole address such as https://example.com/story.")
    return address


def _download(address: str, timeout_s: float, max_bytes: int) -> tuple[bytes, str, str | None]:
    """The body, the final address after redirects, and the charset the server names."""
    import httpx  # lazy: only `rag add` and the Articles tab fetch

    headers = {"User-Agent": USER_AGENT, "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1"}
    limit_mb = f"{max_bytes / 1_000_000:g} MB"
    try:
        with (
            httpx.Client(
                follow_redirects=True, max_redirects=MAX_REDIRECTS, timeout=timeout_s, headers=headers
            ) as client,
            client.stream("GET", address) as response,
        ):
            final = str(response.url)
            if response.status_code >= 400:
                raise FetchError(
                    f"{address} answered HTTP {response.status_code} {response.reason_phrase}"
                    f"{'' if final == address else f' (at {final})'}: check the address in a browser."
                )
            kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if kind and kind not in HTML_TYPES:
                raise FetchError(
                    f"{address} is not a web page but {kind}: only HTML articles can be added by address. "
                    "Download the file and put it in the documents folder instead."
                )
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise FetchError(
                    f"{address} is {int(declared) / 1_000_000:.1f} MB, more than the {limit_mb} a page may have."
                )
            body = bytearray()
            deadline = time.monotonic() + 4 * timeout_s  # a server dripping bytes must not hold us forever
            for piece in response.iter_bytes():
                body += piece
                if len(body) > max_bytes:
                    raise FetchError(f"{address} is larger than the {limit_mb} a page may have; it was not saved.")
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout("the whole page took too long")
            return bytes(body), final, response.charset_encoding
    except httpx.TimeoutException:
        raise FetchError(
            f"{address} did not answer within {timeout_s:g} seconds: the site may be slow or down; try again later."
        ) from None
    except httpx.TooManyRedirects:
        raise FetchError(
            f"{address} redirects more than {MAX_REDIRECTS} times: open it in a browser and add the address it ends at."
        ) from None
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as err:
        raise FetchError(f"{address!r} is not a valid web address ({err}).") from None
    except httpx.ConnectError as err:
        raise FetchError(
            f"{address} cannot be reached ({_reason(err)}): check the address and your connection."
        ) from None
    except httpx.HTTPError as err:
        raise FetchError(f"Fetching {address} failed ({type(err).__name__}: {err}).") from None


def _reason(err: Exception) -> str:
    text = str(err)
    if "Name or service not known" in text or "nodename nor servname" in text or "getaddrinfo" in text:
        return "no such host"
    if "Connection refused" in text or "[Errno 111]" in text:
        return "the connection was refused"
    return text or type(err).__name__


def _is_web(url: str | None) -> bool:
    return bool(url) and urllib.parse.urlsplit(url or "").scheme.lower() in ("http", "https")


def _title_from(url: str) -> str:
    segment = [s for s in urllib.parse.urlsplit(url).path.split("/") if s]
    words = re.sub(r"[-_.]+", " ", urllib.parse.unquote(segment[-1]) if segment else "").strip()
    return words[:1].upper() + words[1:] or urllib.parse.urlsplit(url).hostname or url


def saved_name(url: str) -> Path:
    """Where the article from `url` is kept, relative to the documents folder: the same address
    always gives the same name, and no address can name a place outside the folder.

    >>> saved_name("https://www.BBC.co.uk/news/world-asia-6789?x=1#top").as_posix()
    'web/www.bbc.co.uk/world-asia-6789-a08805df.md'
    """
    parts = urllib.parse.urlsplit(url)
    host = re.sub(r"[^a-z0-9.-]+", "-", (parts.hostname or "site").lower()).strip(".-") or "site"
    if parts.port:
        host += f"_{parts.port}"
    segments = [s for s in parts.path.split("/") if s]
    stem = urllib.parse.unquote(segments[-1]) if segments else "index"
    stem = re.sub(r"\.(s?html?|php|aspx?)$", "", stem, flags=re.IGNORECASE)
    slug = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")[:80] or "article"
    key = urllib.parse.urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path, parts.query, ""))
    digest = hashlib.sha1(key.encode("utf-8")).hexdigest()[:8]
    return Path("web", host, f"{slug}-{digest}.md")


def _markdown(article: FetchedArticle, text: str) -> str:
    import yaml  # lazy, as in rag.metadata

    front: dict[str, Any] = {
        "title": article.title,
        "published": article.published,
        "source": article.source,
        "author": article.author,
        "url": article.url,
        "fetched": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    block = yaml.safe_dump({k: v for k, v in front.items() if v}, allow_unicode=True, sort_keys=False, width=1000)
    heading = "" if text.startswith(article.title) else f"# {article.title}\n\n"
    return f"---\n{block}---\n{heading}{text}\n"


def _write(documents_dir: Path, relative: Path, content: str) -> Path:
    """Write atomically (a hidden temporary file, then a rename), never outside the folder."""
    root = documents_dir.resolve()
    path = (root / relative).resolve()
    if root not in path.parents:
        raise FetchError(f"Refusing to write {relative} outside the documents folder {root}.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".fetching-", suffix=".md", dir=path.parent)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(content)
        os.replace(temporary, path)
    except OSError as err:
        raise FetchError(f"The article could not be saved as {path} ({err.strerror or err}).") from None
    return path
