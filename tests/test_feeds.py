"""Feeds (#23), served by a local HTTP server from fixture files: RSS and Atom entries become
articles with their metadata; conditional requests; duplicates by GUID and address; the per-feed
limit; pages fetched for summaries; and each kind of bad feed gets one clear line and changes nothing."""

from __future__ import annotations

import functools
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.errors import FeedError, FetchError
from rag.ingest import feed_http, feeds
from rag.ingest.loading import read_document
from tests.feed_server import FeedServer, feed_server

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"
LOCAL = ("127.0.0.1",)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[FeedServer]:
    folder = tmp_path / "served"
    shutil.copytree(FIXTURES, folder)
    with feed_server(folder, slow_s=2.0, huge_bytes=300_000) as running:
        yield running


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "documents"
    folder.mkdir()
    return folder


def _page(server: FeedServer) -> feeds.PageFetch:
    """Pages fetched through the test seam (rag.ingest.fetching will refuse 127.0.0.1)."""

    def fetch(url: str) -> tuple[str, dict[str, str]]:
        from rag.ingest.loading import html_article

        response = feed_http.http_get(url, allow_hosts=LOCAL)
        text, meta = html_article(response.body.decode("utf-8"), url)
        return text, meta

    return fetch


def test_rss_entries_become_articles_with_their_metadata(server: FeedServer, docs: Path) -> None:
    result = feeds.add(f"{server.base}/rss.xml", docs, allow_hosts=LOCAL)
    assert len(result.saved) == 2 and result.feed.title == "Coast Times & Harbour News"
    harbour = next(d for d in result.saved if "harbour" in d)
    doc = read_document(docs / harbour, harbour)
    assert doc.title == "Harbour reopens, costing £1.8m"
    assert (doc.published, doc.source, doc.author, doc.url) == (
        "2024-12-02T09:30:00+00:00", "Coast Times & Harbour News", "Ann Writer", "https://coast.example/news/harbour-reopens"
    )
    assert doc.text.startswith("# Harbour reopens") and "Repairs cost £1.8m" in doc.text
    assert harbour.startswith(f"feeds/{result.feed.slug}/2024-12-02-harbour-reopens")
    state = json.loads(feeds.state_path(docs).read_text())
    assert state["feeds"][0]["etag"] and state["feeds"][0]["last_error"] is None


def test_atom_entries_become_articles(server: FeedServer, docs: Path) -> None:
    result = feeds.add(f"{server.base}/atom.xml", docs, allow_hosts=LOCAL)
    (doc_id,) = result.saved
    doc = read_document(docs / doc_id, doc_id)
    assert (doc.title, doc.source, doc.author) == ("Rail fares to rise 3.1% in January", "Wire Service", "Wire Staff")
    assert doc.published == "2024-12-03T08:15:00+00:00" and "Brighton and London" in doc.text


def test_a_second_refresh_is_conditional_and_saves_nothing(server: FeedServer, docs: Path) -> None:
    feeds.add(f"{server.base}/rss.xml", docs, allow_hosts=LOCAL)
    feeds.add(f"{server.base}/atom.xml", docs, allow_hosts=LOCAL)
    files = sorted(p for p in docs.rglob("*.md"))
    results = feeds.refresh_all(docs, allow_hosts=LOCAL)
    assert all(r.not_modified and not r.saved for r in results)
    assert server.requests[("/rss.xml", 304)] == 1 and server.requests[("/atom.xml", 304)] == 1
    assert sorted(p for p in docs.rglob("*.md")) == files
    assert all(f.last_ok and f.last_error is None for f in feeds.load(docs).values())


def test_entries_seen_are_skipped_by_guid_and_address_even_without_a_304(server: FeedServer, docs: Path) -> None:
    feeds.add(f"{server.base}/rss.xml", docs, allow_hosts=LOCAL)
    feed = feeds.load(docs)[f"{server.base}/rss.xml"]
    forgetful = feeds.refresh(
        feeds.Feed(feed.url, feed.slug, seen=feed.seen), docs, allow_hosts=LOCAL  # no ETag: a full 200
    )
    assert not forgetful.not_modified and forgetful.saved == ()
    # Another feed carrying the same address: saved once only; its own new entry's page is fetched.
    other = feeds.add(f"{server.base}/summary.xml", docs, allow_hosts=LOCAL, fetch_page=_page(server))
    assert len(other.saved) == 1 and "bridge" in other.saved[0]


def test_a_summary_only_entry_has_its_page_fetched(server: FeedServer, docs: Path) -> None:
    result = feeds.add(f"{server.base}/summary.xml", docs, allow_hosts=LOCAL, fetch_page=_page(server))
    bridge = next(d for d in result.saved if "bridge" in d)
    doc = read_document(docs / bridge, bridge)
    assert "eleven months of repairs" in doc.text and doc.source == "Short Summaries"
    assert doc.url == f"{server.base}/story.html"


def test_a_page_that_cannot_be_fetched_keeps_the_summary(server: FeedServer, docs: Path) -> None:
    def failing(url: str) -> tuple[str, dict[str, str]]:
        raise FetchError(f"{url} answered HTTP 404 Not Found: check the address in a browser.")

    result = feeds.add(f"{server.base}/summary.xml", docs, allow_hosts=LOCAL, fetch_page=failing)
    bridge = next(d for d in result.saved if "bridge" in d)
    assert "The bridge is open again." in (docs / bridge).read_text()
    assert any("the summary was kept" in n for n in result.notes)


def test_the_limit_caps_the_entries_saved_per_refresh_newest_first(server: FeedServer, docs: Path) -> None:
    result = feeds.add(f"{server.base}/rss.xml", docs, limit=1, allow_hosts=LOCAL)
    assert len(result.saved) == 1 and "harbour" in result.saved[0], "the newest entry"
    more = feeds.refresh(feeds.replace_etag(feeds.load(docs)[f"{server.base}/rss.xml"]), docs, allow_hosts=LOCAL)
    assert len(more.saved) == 1 and "museum" in more.saved[0]


BAD = {
    "/missing.xml": "answered HTTP 404 Not Found",
    "/page.html": "is a web page, not an RSS or Atom feed",
    "/malformed.xml": "is not a well-formed RSS or Atom feed",
    "/loop": "redirects more than 5 times",
    "/huge.xml": "more than the 0.1 MB a feed may have",
    "/slow.xml": "did not answer within 0.5 seconds",
}


@pytest.mark.parametrize("path", list(BAD))
def test_a_bad_feed_gets_one_clear_line_and_nothing_is_added(server: FeedServer, docs: Path, path: str) -> None:
    get = functools.partial(feed_http.http_get, timeout_s=0.5, max_bytes=100_000)
    with pytest.raises(FeedError) as caught:
        feeds.add(f"{server.base}{path}", docs, get=get, allow_hosts=LOCAL)
    message = str(caught.value)
    assert BAD[path] in message and f"{server.base}{path}" in message and "\n" not in message
    assert feeds.load(docs) == {} and not any(docs.rglob("*.md"))


def test_a_followed_feed_that_breaks_keeps_its_articles_and_state_and_records_the_error(
    server: FeedServer, docs: Path
) -> None:
    feeds.add(f"{server.base}/rss.xml", docs, allow_hosts=LOCAL)
    before = feeds.load(docs)[f"{server.base}/rss.xml"]
    files = sorted(docs.rglob("*.md"))
    (server.folder / "rss.xml").write_text("<html><body>gone</body></html>")
    (result,) = feeds.refresh_all(docs, allow_hosts=LOCAL)
    after = feeds.load(docs)[f"{server.base}/rss.xml"]
    assert result.error and "not an RSS or Atom feed" in result.error and result.line.endswith(result.error)
    assert after.last_error == result.error and (after.etag, after.seen, after.saved) == (
        before.etag, before.seen, before.saved
    )
    assert sorted(docs.rglob("*.md")) == files


def test_private_addresses_are_refused_without_the_allow_list(server: FeedServer, docs: Path) -> None:
    with pytest.raises(FeedError, match=r"a loopback address .* add it to RAG_FETCH_ALLOW_HOSTS"):
        feeds.add(f"{server.base}/rss.xml", docs)
    assert feeds.load(docs) == {}


def test_adding_twice_and_removing(server: FeedServer, docs: Path) -> None:
    url = f"{server.base}/atom.xml"
    feeds.add(url, docs, allow_hosts=LOCAL)
    with pytest.raises(FeedError, match="already followed"):
        feeds.add(url, docs, allow_hosts=LOCAL)
    feeds.remove(url, docs)
    assert feeds.load(docs) == {} and any(docs.rglob("*.md")), "its articles stay"
    with pytest.raises(FeedError, match="is not followed"):
        feeds.remove(url, docs)


def test_the_state_file_is_replaced_atomically(docs: Path) -> None:
    feed = feeds.Feed("https://example.com/rss", "example", seen=("a",))
    feeds.save(docs, {feed.url: feed})
    assert feeds.load(docs) == {feed.url: feed}
    assert [p.name for p in feeds.state_path(docs).parent.iterdir()] == [feeds.STATE], "no temporary file left"
