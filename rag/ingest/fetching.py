"""Add an article by its address: fetch the page, keep its text and metadata as a Markdown file;
and `fetch`, the one way this program fetches anything from the web.

`fetch(url, max_bytes=…, accept=…)` downloads one address over http or https with httpx and
returns a `Fetched` (its final address, status, content type, charset, headers and body), or
raises a `FetchError` naming the address, what went wrong and what to do. It fetches only public
addresses: every host is resolved when a connection is opened, and the connection is made to the
very address that was checked (no second lookup a DNS rebinding could answer differently). It is
refused, with a `Refused` (one line), when any address the host resolves to is loopback, private,
link-local (169.254.169.254 is the cloud metadata service), multicast, unspecified, reserved or
otherwise not global, in every spelling (`127.1`, `0x7f000001`, `2130706433`, `[::1]`,
`[::ffff:127.0.0.1]`, `0.0.0.0`, names that resolve there): the check is on the resolved address,
not on the text. Every redirect hop (at most `MAX_REDIRECTS`) opens its connection the same way.
Hosts named in `allow_hosts` (RAG_FETCH_ALLOW_HOSTS, for a news server on your own network) may be
private. Credentials in an address (`user:pw@`) are dropped: never sent, stored or shown. Proxy
variables (HTTP_PROXY …) and .netrc are not used: a proxy would resolve and connect where this
cannot check (SSL_CERT_FILE and SSL_CERT_DIR are).
The timeout applies to connecting and to each read, the whole body must come within four times
it, and it is abandoned past `max_bytes`.

Feeds (and anything else that fetches) should call `fetch` too, e.g. for a feed with a
conditional request: `fetch(url, max_bytes=2_000_000, accept=FEED_TYPES, headers={"If-None-Match":
etag}, allow_hosts=settings.fetch_allow_hosts)`; a 304 comes back as `Fetched.not_modified`.

`fetch_article(url, documents_dir)` fetches a page with `fetch`, extracts the article text and
metadata with trafilatura (loading.html_article, as for saved HTML files) and writes
`web/<host>/<slug>-<digest>.md` in the documents folder: YAML front matter (title, published,
source, author, url, fetched) and the text. The name comes from the page's final address, so
fetching it again replaces the file.

Deliberately not here: indexing the saved file (the caller brings the index up to date, as `rag
add` does), pages that need JavaScript or a login, and reading feeds.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import ipaddress
import logging
import os
import re
import socket
import tempfile
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import FetchError
from rag.ingest import loading

log = logging.getLogger(__name__)

MAX_REDIRECTS = 5
HTML_TYPES = ("text/html", "application/xhtml+xml")
ALLOW_SETTING = "RAG_FETCH_ALLOW_HOSTS"
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
    url: str,
    documents_dir: Path,
    *,
    timeout_s: float = 15.0,
    max_bytes: int = 5_000_000,
    allow_hosts: Sequence[str] = (),
) -> FetchedArticle:
    """Fetch the page at `url`, save its article into `documents_dir`; FetchError on any failure.
    `allow_hosts`: hosts that may be on this machine or a private network (Settings.fetch_allow_hosts)."""
    address = check_address(url)
    try:
        page = fetch(address, max_bytes=max_bytes, accept=HTML_TYPES, timeout_s=timeout_s, allow_hosts=allow_hosts)
    except WrongType as err:
        raise FetchError(
            f"{address} is not a web page but {err.content_type}: only HTML articles can be added by address. "
            "Download the file and put it in the documents folder instead."
        ) from None
    data, final_url, charset = page.body, page.final_url, page.charset
    try:
        html, _ = loading.decode(data, charset or loading.declared_charset(data))
    except loading.UnusableFile as why:
        raise FetchError(f"{address} could not be read as a web page: {why}.") from None
    raw, meta = loading.html_article(html, url=final_url)
    text = loading.normalise(raw)
    if not text and (too_much := loading.html_too_much(html)):
        raise FetchError(f"No article text could be read at {address}: {too_much}.")
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
    """The address, stripped and without credentials, if it is an http or https URL with a host;
    FetchError if not.

    >>> check_address("  https://user:secret@News.example:8443/a?b#c ")
    'https://News.example:8443/a?b#c'
    """
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
    return without_credentials(address)


def without_credentials(url: str) -> str:
    """`url` without a `user:password@` part (the rest as written).

    >>> without_credentials("http://user:pw@127.0.0.1:8765/x"), without_credentials("https://a.example/")
    ('http://127.0.0.1:8765/x', 'https://a.example/')
    """
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


# -- fetching only public addresses ------------------------------------------------------------
@dataclass(frozen=True)
class Fetched:
    """What `fetch` got from an address."""

    url: str  # the address asked for, without credentials
    final_url: str  # where the redirects ended
    status: int  # 2xx, or 304 when `headers` made the request conditional
    content_type: str  # lower case, without parameters; "" when the server named none
    charset: str | None  # the charset the server named, if any
    headers: Mapping[str, str]  # the response's headers, names in lower case (etag, last-modified …)
    body: bytes  # b"" for a 304

    @property
    def not_modified(self) -> bool:
        return self.status == 304


class Refused(FetchError):
    """An address this program will not fetch: it is on this machine or a private network."""


class WrongType(FetchError):
    """The address answered with a content type the caller does not accept (`content_type`)."""

    def __init__(self, message: str, content_type: str) -> None:
        super().__init__(message)
        self.content_type = content_type


def not_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why `ip` is not a public address (a phrase), or None when it is one. An IPv4 address
    inside an IPv6 one (mapped, 6to4, Teredo, NAT64) is judged as that IPv4 address.

    >>> for address in ("127.0.0.1", "::ffff:10.0.0.1", "169.254.169.254"):
    ...     print(not_public(ipaddress.ip_address(address)))
    a loopback address (this machine)
    a private network address
    a link-local address (such as the cloud metadata service)
    >>> not_public(ipaddress.ip_address("93.184.216.34")) is None
    True
    """
    if isinstance(ip, ipaddress.IPv6Address):
        inner = ip.ipv4_mapped or (ip.sixtofour if ip.sixtofour else None) or (ip.teredo[1] if ip.teredo else None)
        if inner is None and ip in _NAT64:
            inner = ipaddress.IPv4Address(ip.packed[-4:])
        if inner is not None:
            return not_public(inner)
    if ip.is_unspecified:
        return "the unspecified address (this machine)"
    if ip.is_loopback:
        return "a loopback address (this machine)"
    if ip.is_link_local:
        return "a link-local address (such as the cloud metadata service)"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_private:
        return "a private network address"
    if ip.is_reserved or not ip.is_global:
        return "not a public address"
    return None


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _host_key(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def _resolve(host: str, port: int) -> list[tuple[int, str]]:
    """(family, IP address) of each address `host` resolves to (an IP literal in any spelling the
    system accepts resolves to itself)."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys((family, str(sockaddr[0]).split("%")[0]) for family, _, _, _, sockaddr in found))


def _connect(backend: Any, ip: str, port: int, **options: Any) -> Any:
    """Open the TCP connection to the IP address already checked (no name to resolve again)."""
    return backend.connect_tcp(ip, port, **options)


def _guarded_backend(allow_hosts: Sequence[str]) -> Any:
    """httpcore's network backend, with each connection checked (`not_public`) and made to the
    address that was checked."""
    import httpcore

    allowed = {_host_key(h) for h in allow_hosts}

    class GuardedBackend(httpcore.SyncBackend):  # type: ignore[misc]
        def connect_tcp(self, host: str, port: int, timeout: float | None = None, **options: Any) -> Any:  # type: ignore[override]
            try:
                addresses = _resolve(host, port)
            except (OSError, UnicodeError) as err:
                raise httpcore.ConnectError(f"Name or service not known ({err})") from None
            if _host_key(host) not in allowed:
                for _, ip in addresses:
                    why = not_public(ipaddress.ip_address(ip))
                    if why:
                        raise _Blocked(host, ip, why)
            failure: Exception | None = None
            for _, ip in addresses:
                try:
                    return _connect(super(), ip, port, timeout=timeout, **options)
                except (httpcore.ConnectError, httpcore.ConnectTimeout) as err:
                    failure = err
            raise failure or httpcore.ConnectError("no address to connect to")

    return GuardedBackend()


class _Blocked(Exception):
    """Raised inside the connection, turned into `Refused` by `fetch` (which knows the address)."""

    def __init__(self, host: str, ip: str, why: str) -> None:
        super().__init__(host, ip, why)
        self.host, self.ip, self.why = host, ip, why


def fetch(
    url: str,
    *,
    max_bytes: int,
    accept: Sequence[str] | None = HTML_TYPES,
    timeout_s: float = 15.0,
    headers: Mapping[str, str] | None = None,
    allow_hosts: Sequence[str] = (),
    what: str = "a page",
) -> Fetched:
    """GET `url` (http or https, a public address unless its host is in `allow_hosts`).
    `what` names the thing in messages ("a page", "a feed").

    `accept`: the content types taken (any when None; a response naming none is taken);
    another is a `WrongType`. `headers` are sent as well (e.g. If-None-Match, If-Modified-Since:
    a 304 answer is returned, not raised). Errors: `Refused` for an address not fetched,
    `FetchError` for the rest (HTTP 4xx/5xx, too big, too slow, unreachable …), each one line.
    """
    import httpcore
    import httpx  # lazy: only `rag add`, the Articles tab and feeds fetch

    address = check_address(url)
    sent = {"User-Agent": USER_AGENT, "Accept": ", ".join(accept) if accept else "*/*", **(headers or {})}
    hops: list[str] = []
    limit_mb = f"{max_bytes / 1_000_000:g} MB"
    transport = httpx.HTTPTransport(trust_env=False)
    # httpx offers no way to give a transport its network backend, so its pool is made here. The
    # certificates may come from SSL_CERT_FILE / SSL_CERT_DIR (a company's own authority): that
    # changes what is trusted, not where a connection goes.
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=True), network_backend=_guarded_backend(allow_hosts)
    )
    try:
        with (
            httpx.Client(
                transport=transport, trust_env=False, follow_redirects=True, max_redirects=MAX_REDIRECTS,
                timeout=timeout_s, headers=sent, event_hooks={"request": [lambda r: hops.append(str(r.url))]},
            ) as client,
            client.stream("GET", address) as response,
        ):
            final = without_credentials(str(response.url))
            if response.status_code >= 400:
                raise FetchError(
                    f"{address} answered HTTP {response.status_code} {response.reason_phrase}"
                    f"{'' if final == address else f' (at {final})'}: check the address in a browser."
                )
            kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if response.status_code != 304 and accept and kind and kind not in accept:
                raise WrongType(f"{address} is {kind}, not {' or '.join(accept)}.", kind)
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise FetchError(
                    f"{address} is {int(declared) / 1_000_000:.1f} MB, more than the {limit_mb} {what} may have."
                )
            body = bytearray()
            deadline = time.monotonic() + 4 * timeout_s  # a server dripping bytes must not hold us forever
            for piece in response.iter_bytes():
                body += piece
                if len(body) > max_bytes:
                    raise FetchError(f"{address} is larger than the {limit_mb} {what} may have; it was not saved.")
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout("the whole page took too long")
            return Fetched(
                url=address, final_url=final, status=response.status_code, content_type=kind,
                charset=response.charset_encoding, headers={k.lower(): v for k, v in response.headers.items()},
                body=bytes(body),
            )
    except _Blocked as blocked:
        hop = without_credentials(hops[-1]) if hops else address
        led = "" if _host_key(blocked.host) == _host_key(urllib.parse.urlsplit(address).hostname or "") else (
            f"it redirects to {hop}, and "
        )
        named = blocked.host if blocked.host == blocked.ip else f"{blocked.host} is {blocked.ip}"
        log.warning("Refused to fetch %s: %s%s, %s", address, led, named, blocked.why)
        raise Refused(
            f"{address} was not fetched: {led}{named}, {blocked.why}. Only public addresses are fetched; "
            f"to allow a host on your own network, add it to {ALLOW_SETTING}."
        ) from None
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
    import yaml  # lazy, as in rag.ingest.metadata

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
        write_atomically(path, content)
    except OSError as err:
        raise FetchError(f"The article could not be saved as {path} ({err.strerror or err}).") from None
    return path


def write_atomically(path: Path, text: str, fsync: bool = False) -> None:
    """Write `text` to `path` whole or not at all: a hidden temporary file in the same folder (the
    documents loader skips it), renamed over `path`; `fsync`: flushed to disk first. Raises OSError."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".saving-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            if fsync:
                out.flush()
                os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
