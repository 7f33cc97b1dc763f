"""Fetch a feed by its address: one conditional GET, bounded in size, time and redirects.

`http_get(url, etag=..., last_modified=...)` sends If-None-Match / If-Modified-Since, so a feed that
has not changed answers 304 with no body; it follows at most `fetching.MAX_REDIRECTS` redirects,
gives up on a connection or a read slower than `timeout_s` (and on a whole body slower than four
times that), and stops reading past `max_bytes`. Every failure is a `FetchError` whose message names
the address, what went wrong and what to do.

Addresses on this machine or a private network (loopback, 10.x, 192.168.x, link-local …) are
refused, for the first request and for every redirect, unless their host is in `allow_hosts` (how
the tests reach their local feed server, and how `RAG_FEED_ALLOW_HOSTS` lets a user follow a feed
served on their own network). The check resolves the host name before the request; it does not pin
the address it checked (rag.fetching's coming `fetch` does: see the note on `_request`).

Deliberately not here: what the body means (rag/feeds.py parses it) and saving anything.
"""

from __future__ import annotations

import ipaddress
import socket
import time
import urllib.parse
from collections.abc import Collection
from dataclasses import dataclass

from rag.errors import FetchError
from rag.fetching import MAX_REDIRECTS, check_address

MAX_FEED_BYTES = 5_000_000
TIMEOUT_S = 15.0
ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1"
USER_AGENT = "local-rag/0.1 (a private reader following a feed)"


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
    address = check_address(url)
    headers = {"User-Agent": USER_AGENT, "Accept": ACCEPT}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return _request(address, headers, max_bytes, timeout_s, frozenset(h.lower() for h in allow_hosts))


def _request(
    address: str, headers: dict[str, str], max_bytes: int, timeout_s: float, allow_hosts: frozenset[str]
) -> FeedResponse:
    """The one HTTP request of this module. When rag.fetching's public `fetch(url, *, max_bytes,
    accept)` lands (it refuses private addresses and pins the address it checked), this body becomes
    a call to it, with `headers` (If-None-Match, If-Modified-Since) and the test allow-list passed on
    if it takes them; without them, every refresh downloads the whole feed (still correct: entries
    already seen are skipped by GUID and address)."""
    import httpx  # lazy: only feeds and `rag add` fetch

    limit_mb = f"{max_bytes / 1_000_000:g} MB"

    def check(request: httpx.Request) -> None:
        refuse_private(request.url.host, allow_hosts, address)

    try:
        with (
            httpx.Client(
                follow_redirects=True, max_redirects=MAX_REDIRECTS, timeout=timeout_s, headers=headers,
                event_hooks={"request": [check]},
            ) as client,
            client.stream("GET", address) as response,
        ):
            final = str(response.url)
            if response.status_code == 304:
                return FeedResponse(304, b"", final, headers.get("If-None-Match"), headers.get("If-Modified-Since"))
            if response.status_code >= 400:
                raise FetchError(
                    f"{address} answered HTTP {response.status_code} {response.reason_phrase}"
                    f"{'' if final == address else f' (at {final})'}: check the feed's address in a browser."
                )
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise FetchError(f"{address} is {int(declared) / 1_000_000:.1f} MB, more than the {limit_mb} "
                                 "a feed may have.")
            body = bytearray()
            deadline = time.monotonic() + 4 * timeout_s  # a server dripping bytes must not hold a refresh
            for piece in response.iter_bytes():
                body += piece
                if len(body) > max_bytes:
                    raise FetchError(f"{address} is larger than the {limit_mb} a feed may have; it was not read.")
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout("the whole feed took too long")
            kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
            return FeedResponse(200, bytes(body), final, response.headers.get("etag"),
                                response.headers.get("last-modified"), kind)
    except httpx.TimeoutException:
        raise FetchError(
            f"{address} did not answer within {timeout_s:g} seconds: the site may be slow or down; it is tried "
            "again at the next refresh."
        ) from None
    except httpx.TooManyRedirects:
        raise FetchError(
            f"{address} redirects more than {MAX_REDIRECTS} times (a redirect loop?): open it in a browser and "
            "follow the address it ends at."
        ) from None
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as err:
        raise FetchError(f"{address!r} is not a valid web address ({err}).") from None
    except httpx.ConnectError as err:
        raise FetchError(f"{address} cannot be reached ({err or type(err).__name__}): check the address and "
                         "your connection.") from None
    except httpx.HTTPError as err:
        raise FetchError(f"Fetching {address} failed ({type(err).__name__}: {err}).") from None


def refuse_private(host: str, allow_hosts: Collection[str], address: str = "") -> None:
    """FetchError when `host` is, or resolves to, an address on this machine or a private network,
    unless it is in `allow_hosts`.

    >>> refuse_private("127.0.0.1", ())  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    rag.errors.FetchError: 127.0.0.1 is on this machine or a private network (127.0.0.1): ...
    >>> refuse_private("127.0.0.1", ("127.0.0.1",))
    """
    name = host.strip("[]").lower()
    if name in allow_hosts:
        return
    try:
        found = {info[4][0] for info in socket.getaddrinfo(name, None)}
    except (socket.gaierror, UnicodeError):
        return  # the request itself then fails with "cannot be reached"
    for raw in found:
        ip = ipaddress.ip_address(str(raw).split("%")[0])
        if not ip.is_global or ip.is_multicast:
            where = address or urllib.parse.urlunsplit(("", host, "", "", "")).lstrip("/") or host
            raise FetchError(f"{where} is on this machine or a private network ({ip}): only public feeds can be "
                             "followed.")
