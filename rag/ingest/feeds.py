"""Follow news feeds: each RSS 2.0 or Atom entry becomes an article file in the documents folder.

The feeds followed and what is known of each (its address, ETag and Last-Modified, when it was last
refreshed, its last error, the GUIDs and addresses of the entries already saved) are kept in
`<documents>/feeds/feeds.json`, written atomically (a temporary file renamed over it). `refresh`
fetches one feed conditionally (rag/ingest/feed_http.py: a 304 costs a few milliseconds), parses it with
feedparser, and saves each entry not seen before (by GUID, and by address across all feeds), the
newest first and at most the feed's `limit` per refresh, as
`feeds/<feed>/<day>-<title>-<digest>.md`: YAML front matter (title, published, source, author,
url, guid, feed) the loader reads, a "# Title" heading and the text. An entry that holds only a
summary (less than `FULL_TEXT_CHARS` of text) has its page fetched by the `rag add` path
(rag.ingest.fetching.fetch_article); when that fails the summary is kept.

A feed that fails (not found, a web page rather than a feed, malformed, too big, too slow, a
redirect loop) gets a one-line `last_error` and nothing else changes: no article is written or
removed, its ETag and the entries it saved before stay. Adding a feed that fails adds nothing.

Deliberately not here: indexing what was saved (the caller runs the index update, as `rag add`
does) and the HTTP request itself (rag/ingest/feed_http.py).
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
import hashlib
import html
import json
import logging
import re
import tempfile
import threading
import urllib.parse
from collections.abc import Callable, Collection
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from rag.errors import FeedError, FetchError
from rag.ingest import feed_http, fetching, metadata

log = logging.getLogger(__name__)

FOLDER = "feeds"
STATE = "feeds.json"
STATE_VERSION = 1
DEFAULT_LIMIT = 50
FULL_TEXT_CHARS = 600  # an entry with less text than this is a summary: its page is fetched
SEEN_KEPT = 5_000  # per feed, the newest GUIDs and addresses remembered
_lock = threading.Lock()  # one read-modify-write of the state file at a time in this process


@dataclass(frozen=True)
class Feed:
    url: str
    slug: str  # its folder under feeds/
    title: str = ""
    limit: int = DEFAULT_LIMIT  # entries saved per refresh at most
    etag: str | None = None
    last_modified: str | None = None
    last_refresh: str | None = None  # when it was last tried (ISO 8601, UTC)
    last_ok: str | None = None  # when it last answered with a feed (or 304)
    last_error: str | None = None  # the last refresh's failure, None when it worked
    saved: int = 0  # entries saved so far
    seen: tuple[str, ...] = ()  # GUIDs and addresses of the entries saved (or already present)


@dataclass(frozen=True)
class Entry:
    guid: str
    title: str
    url: str | None
    published: str | None
    author: str | None
    source: str | None
    text: str  # the entry's own text (content, else summary), as plain text


@dataclass(frozen=True)
class Refreshed:
    """What one refresh of one feed did."""

    feed: Feed
    saved: tuple[str, ...] = ()  # doc ids of the articles written
    not_modified: bool = False
    error: str | None = None
    notes: tuple[str, ...] = ()  # entries that could not be saved, pages kept as summaries

    @property
    def line(self) -> str:
        """One line for a person: "bbc-news: 3 new articles" or the error."""
        name = self.feed.title or self.feed.url
        if self.error:
            return f"{name}: {self.error}"
        if self.not_modified:
            return f"{name}: not changed since the last refresh"
        return f"{name}: {len(self.saved)} new article{'' if len(self.saved) == 1 else 's'}"


PageFetch = Callable[[str], tuple[str, dict[str, str]]]  # address -> (text, metadata of the page)
Get = Callable[..., feed_http.FeedResponse]


# -- the state file ------------------------------------------------------------------------------
def state_path(documents_dir: Path) -> Path:
    return documents_dir / FOLDER / STATE


def load(documents_dir: Path) -> dict[str, Feed]:
    """The feeds followed, by address; {} when there are none. FeedError when the file is unusable."""
    path = state_path(documents_dir)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as err:
        raise FeedError(f"The feed list {path} cannot be read ({err}). Fix or delete it, then add the feeds "
                        "again.") from None
    known = {f.name for f in dataclasses.fields(Feed)}
    feeds = {}
    for item in data.get("feeds", []) if isinstance(data, dict) else []:
        if isinstance(item, dict) and item.get("url") and item.get("slug"):
            values = {k: v for k, v in item.items() if k in known}
            values["seen"] = tuple(values.get("seen", ()))
            feeds[item["url"]] = Feed(**values)
    return feeds


def save(documents_dir: Path, feeds: dict[str, Feed]) -> None:
    """Write the feed list atomically: a temporary file in the same folder, fsynced, renamed over it."""
    path = state_path(documents_dir)
    data = {"version": STATE_VERSION, "feeds": [dataclasses.asdict(f) for f in feeds.values()]}
    try:
        fetching.write_atomically(path, json.dumps(data, ensure_ascii=False, indent=1), fsync=True)
    except OSError as err:
        raise FeedError(f"The feed list {path} cannot be written ({err.strerror or err}).") from None


def _store(documents_dir: Path, feed: Feed, *, only_if_followed: bool = True) -> None:
    """Save one feed's record, re-reading the list so that a feed added or removed meanwhile stays so."""
    with _lock:
        feeds = load(documents_dir)
        if only_if_followed and feed.url not in feeds:
            return  # removed while it was being refreshed
        feeds[feed.url] = feed
        save(documents_dir, feeds)


# -- following -----------------------------------------------------------------------------------
def add(
    url: str, documents_dir: Path, *, limit: int = DEFAULT_LIMIT, get: Get = feed_http.http_get,
    fetch_page: PageFetch | None = None, allow_hosts: Collection[str] = (),
) -> Refreshed:
    """Follow the feed at `url`: fetch it now and save its entries. FeedError (and nothing added)
    when it cannot be followed."""
    address = fetching.check_address(url) if url.strip() else ""
    if not address:
        raise FeedError("Give the address of an RSS or Atom feed (https://…).")
    if address in load(documents_dir):
        raise FeedError(f"{address} is already followed: `rag feeds update` refreshes it.")
    feed = Feed(url=address, slug=feed_slug(address), limit=limit)
    result = refresh(feed, documents_dir, get=get, fetch_page=fetch_page, allow_hosts=allow_hosts, store=False)
    if result.error:
        raise FeedError(result.error)
    _store(documents_dir, result.feed, only_if_followed=False)
    return result


def remove(url: str, documents_dir: Path) -> Feed:
    """Stop following the feed at `url`; the articles it saved stay in the documents folder."""
    with _lock:
        feeds = load(documents_dir)
        feed = feeds.pop(url.strip(), None)
        if feed is None:
            raise FeedError(f"{url.strip()} is not followed: `rag feeds list` shows the feeds followed.")
        save(documents_dir, feeds)
    return feed


def refresh_all(
    documents_dir: Path, *, get: Get = feed_http.http_get, fetch_page: PageFetch | None = None,
    allow_hosts: Collection[str] = (), only: Collection[str] = (),
) -> list[Refreshed]:
    """Refresh every feed followed (or those in `only`), one after the other."""
    results = []
    for feed in load(documents_dir).values():
        if only and feed.url not in only:
            continue
        results.append(refresh(feed, documents_dir, get=get, fetch_page=fetch_page, allow_hosts=allow_hosts))
    return results


def refresh(
    feed: Feed, documents_dir: Path, *, get: Get = feed_http.http_get, fetch_page: PageFetch | None = None,
    allow_hosts: Collection[str] = (), store: bool = True, now: dt.datetime | None = None,
) -> Refreshed:
    """Fetch `feed` and save its new entries; the feed's new record is stored (unless `store` is
    False) and returned with what was saved. A failure is `Refreshed.error`, never an exception."""
    stamp = (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
    try:
        response = get(feed.url, etag=feed.etag, last_modified=feed.last_modified, allow_hosts=allow_hosts)
        if response.status == 304:
            done = dataclasses.replace(feed, last_refresh=stamp, last_ok=stamp, last_error=None)
            result = Refreshed(done, not_modified=True)
        else:
            title, entries = parse(response.body, feed.url, response.content_type)
            saved, seen, notes = _save_new(feed, title, entries, documents_dir, fetch_page, allow_hosts)
            done = dataclasses.replace(
                feed, title=title or feed.title, etag=response.etag, last_modified=response.last_modified,
                last_refresh=stamp, last_ok=stamp, last_error=None, saved=feed.saved + len(saved),
                seen=(*feed.seen, *seen)[-SEEN_KEPT:],
            )
            result = Refreshed(done, tuple(saved), notes=tuple(notes))
    except (FetchError, FeedError) as err:
        done = dataclasses.replace(feed, last_refresh=stamp, last_error=str(err))
        result = Refreshed(done, error=str(err))
    if store:
        _store(documents_dir, result.feed)
    return result


def replace_etag(feed: Feed) -> Feed:
    """`feed` without its ETag and Last-Modified: the next refresh downloads it whole."""
    return dataclasses.replace(feed, etag=None, last_modified=None)


# -- parsing -------------------------------------------------------------------------------------
def parse(body: bytes, url: str, content_type: str = "") -> tuple[str, list[Entry]]:
    """The feed's title and its entries; FeedError when the body is not a usable RSS or Atom feed."""
    import feedparser  # lazy: only feeds need it

    if content_type in ("text/html", "application/xhtml+xml") and not _looks_like_xml(body):
        raise FeedError(f"{url} is a web page, not an RSS or Atom feed: look on that page for its feed's "
                        "address (often ending in /feed, /rss or .xml).")
    parsed = feedparser.parse(body, sanitize_html=True, resolve_relative_uris=True, response_headers={
        "content-location": url, "content-type": content_type or "application/xml"})
    # feedparser recovers what it can from a broken feed; an entry with neither title nor address
    # is what is left of a broken one, not news.
    usable = [item for item in parsed.entries if item.get("title") or item.get("link")]
    if not usable and (parsed.bozo or not parsed.version):
        problem = parsed.get("bozo_exception")
        if not _looks_like_xml(body):
            raise FeedError(f"{url} is not an RSS or Atom feed (it is not XML): check the address.")
        why = f" ({str(problem).splitlines()[0]})" if problem else ""
        raise FeedError(f"{url} is not a well-formed RSS or Atom feed{why}: its publisher must fix it; it is "
                        "tried again at the next refresh.")
    feed_title = clean(parsed.feed.get("title", "")) or (urllib.parse.urlsplit(url).hostname or url)
    entries = []
    for item in usable:
        link = item.get("link") or None
        guid = item.get("id") or link or hashlib.sha1(repr(sorted(item.keys())).encode()).hexdigest()
        content = max((c.get("value", "") for c in item.get("content", [])), key=len, default="")
        text = html_text(content) if content else ""
        summary = html_text(item.get("summary", ""))
        source = item.get("source", {}).get("title") if isinstance(item.get("source"), dict) else None
        entries.append(Entry(
            guid=str(guid), title=clean(item.get("title", "")) or "Untitled", url=link,
            published=_date(item.get("published_parsed") or item.get("updated_parsed")),
            author=clean(item.get("author", "")) or None, source=clean(source or "") or feed_title,
            text=text if len(text) >= len(summary) else summary,
        ))
    return feed_title, entries


def _looks_like_xml(body: bytes) -> bool:
    return body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"<" and b"<html" not in body[:512].lower()


def _date(parsed: Any) -> str | None:
    if not parsed:
        return None
    try:
        return dt.datetime.fromtimestamp(calendar.timegm(parsed), tz=dt.UTC).isoformat(timespec="seconds")
    except (TypeError, ValueError, OverflowError):
        return None


def clean(text: str) -> str:
    """A title or name as plain text: tags dropped, entities decoded, one line.

    >>> clean("Profits up &#163;1.8m <b>now</b>")
    'Profits up £1.8m now'
    """
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text or "")).split())


class _Text(HTMLParser):
    BLOCKS = frozenset("p div br li ul ol h1 h2 h3 h4 h5 h6 blockquote tr table section article figure".split())

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("script", "style"):
            self.skip += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.skip = max(0, self.skip - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def html_text(fragment: str) -> str:
    """The text of an HTML fragment, a paragraph per block.

    >>> html_text("<p>One &amp; two.</p><p>Three<br>four</p>")
    'One & two.\\n\\nThree\\n\\nfour'
    """
    parser = _Text()
    parser.feed(fragment or "")
    parser.close()
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", "".join(parser.parts))]
    return "\n\n".join(p for p in paragraphs if p)


# -- saving --------------------------------------------------------------------------------------
def feed_slug(url: str) -> str:
    """The folder of a feed's articles under feeds/: its host and path, and a digest of its address.

    >>> feed_slug("https://feeds.bbci.co.uk/news/business/rss.xml")
    'feeds-bbci-co-uk-news-business-rss-xml-3f776f'
    """
    parts = urllib.parse.urlsplit(url)
    words = re.sub(r"[^a-z0-9]+", "-", f"{parts.hostname or ''}{parts.path}".lower()).strip("-")[:60].strip("-")
    return f"{words or 'feed'}-{hashlib.sha1(url.encode()).hexdigest()[:6]}"


def _key(address: str | None) -> str | None:
    """An entry's address as compared for duplicates: no fragment, host lower-cased."""
    if not address:
        return None
    parts = urllib.parse.urlsplit(address.strip())
    return urllib.parse.urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path, parts.query, ""))


def _save_new(
    feed: Feed, title: str, entries: list[Entry], documents_dir: Path, fetch_page: PageFetch | None,
    allow_hosts: Collection[str],
) -> tuple[list[str], list[str], list[str]]:
    """Write the entries not seen before: (doc ids written, GUIDs and addresses now seen, notes)."""
    seen_here = set(feed.seen)
    seen_anywhere = {s for f in load(documents_dir).values() for s in f.seen if "://" in s}
    fresh = [e for e in entries if e.guid not in seen_here and _key(e.url) not in seen_here | seen_anywhere]
    fresh.sort(key=lambda e: e.published or "", reverse=True)  # newest first; undated keep feed order
    written: list[str] = []
    seen: list[str] = []
    notes: list[str] = []
    for entry in fresh[: feed.limit]:
        text, found = entry.text, dict[str, str]()
        if len(text) < FULL_TEXT_CHARS and entry.url:
            try:
                text, found = (fetch_page or fetch_with_rag_add)(entry.url)
            except (FetchError, FeedError) as err:
                notes.append(f"{entry.url}: the page could not be fetched, the summary was kept ({err})")
                text = entry.text
        if not text.strip():
            notes.append(f"{entry.url or entry.guid}: no text, not saved")
            continue
        relative = _article_name(feed, entry)
        path = documents_dir / relative
        if not path.exists():
            _write(path, _markdown(feed, title, entry, text, found))
            written.append(relative.as_posix())
        seen += [entry.guid, *([k] if (k := _key(entry.url)) else [])]
    return written, seen, notes


def fetch_with_rag_add(url: str) -> tuple[str, dict[str, str]]:
    """A page's article text and metadata, fetched as `rag add` fetches it (rag.ingest.fetching, into a
    temporary folder: the entry is saved with the feed's metadata under feeds/, not under web/)."""
    with tempfile.TemporaryDirectory(prefix="rag-feed-page-") as folder:
        article = fetching.fetch_article(url, Path(folder))
        front, body = metadata.split_front_matter(article.path.read_text(encoding="utf-8"))
    text = re.sub(r"\A# [^\n]*\n+", "", body.strip())  # the heading rag.ingest.fetching adds: the entry has its own
    found = {k: str(v) for k, v in front.items() if k in ("published", "author") and v}
    return text, found


def _article_name(feed: Feed, entry: Entry) -> Path:
    day = (entry.published or "")[:10] or "undated"
    words = re.sub(r"[^a-z0-9]+", "-", entry.title.lower()).strip("-")[:60].strip("-") or "entry"
    return Path(FOLDER, feed.slug, f"{day}-{words}-{hashlib.sha1(entry.guid.encode()).hexdigest()[:8]}.md")


def _markdown(feed: Feed, feed_title: str, entry: Entry, text: str, page: dict[str, str]) -> str:
    import yaml  # lazy, as in rag.ingest.metadata

    front = {
        "title": entry.title,
        "published": entry.published or page.get("published"),
        "source": entry.source or feed_title,
        "author": entry.author or page.get("author"),
        "url": entry.url,
        "guid": entry.guid,
        "feed": feed.url,
    }
    block = yaml.safe_dump({k: v for k, v in front.items() if v}, allow_unicode=True, sort_keys=False, width=1000)
    return f"---\n{block}---\n# {entry.title}\n\n{text.strip()}\n"


def _write(path: Path, content: str) -> None:
    try:
        fetching.write_atomically(path, content)
    except OSError as err:
        raise FeedError(f"The article {path} could not be saved ({err.strerror or err}).") from None

