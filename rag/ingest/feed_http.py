"""Fetch a feed by its address: one conditional GET through rag/ingest/fetching.py's `fetch`.

`http_get(url, etag=..., last_modified=...)` sends If-None-Match / If-Modified-Since, so a feed that
has not changed answers 304 with no body. What `fetch` guarantees holds for feeds too: at most
`fetching.MAX_REDIRECTS` redirects, a connection or read slower than `timeout_s` (and a whole body
slower than four times that) gives up, a body past `max_bytes` is not read, and an address on this
machine or a private network is refused, for the first request and every redirect, at the address
actually connected to, unless its host is in `allow_hosts` (RAG_FETCH_ALLOW_HOSTS; how the tests
reach their local feed server). Every failure is a `FetchError` whose message names the address,
what went wrong and what to do.

Deliberately not here: what the body means (rag/ingest/feeds.py parses it) and saving anything.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from rag.ingest import fetching

MAX_FEED_BYTES = 5_000_000
TIMEOUT_S = 15.0
# Sent as the Accept header; any type is taken (feeds are served as text/xml, text/plain, even
# text/html), and rag/ingest/feeds.py says so when the body is not a feed.
ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1"


@dataclass(frozen=True)
class FeedResponse:
    status: int  # 200, or 304: not modified since the ETag / Last-Modified sent (body empty)
    body: bytes
    url: str  # the final address, after redirects
    etag: str | None = None
    last_modified: str | None = None
    content_type: str = ""  # e.g. "application/rss+xml", without parameters


def http_get(
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    max_bytes: int = MAX_FEED_BYTES,
    timeout_s: float = TIMEOUT_S,
    allow_hosts: Collection[str] = (),
) -> FeedResponse:
    """GET the feed at `url`, conditionally when `etag` or `last_modified` is known; FetchError on
    any failure (an HTTP error status, a private address, too big, too slow, too many redirects)."""
    headers = {"Accept": ACCEPT}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    got = fetching.fetch(url, max_bytes=max_bytes, accept=None, timeout_s=timeout_s, headers=headers,
                         allow_hosts=tuple(allow_hosts), what="a feed")
    if got.not_modified:
        return FeedResponse(304, b"", got.final_url, etag, last_modified, got.content_type)
    return FeedResponse(got.status, got.body, got.final_url, got.headers.get("etag"),
                        got.headers.get("last-modified"), got.content_type)
