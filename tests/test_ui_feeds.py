"""The Articles tab's feeds, served for real and used through gradio_client (#23): follow a feed
served by a local feed server, see it listed with its last refresh, see a bad one's one-line error,
refresh, stop following; its articles are indexed and answered from."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from gradio_client import Client

from rag import Assistant, Settings
from tests.fakes import HashEmbedder
from tests.feed_server import FeedServer, feed_server
from tests.test_ui_app import ArticleGenerator, serving

pytestmark = pytest.mark.server

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[FeedServer]:
    folder = tmp_path / "served"
    shutil.copytree(FIXTURES, folder)
    with feed_server(folder) as running:
        yield running


@pytest.fixture
def url(settings: Settings) -> Iterator[str]:
    local = replace(settings, fetch_allow_hosts=("127.0.0.1",))
    assistant = Assistant(local, embedder=HashEmbedder(), generator=ArticleGenerator({"harbour": "x"}))
    with serving(assistant) as address:
        yield address


def test_follow_list_refresh_and_stop_following_a_feed(url: str, server: FeedServer, settings: Settings) -> None:
    client = Client(url, verbose=False)
    assert "No feeds are followed" in client.predict(api_name="/feeds")

    status, table, _, box = client.predict(f"{server.base}/rss.xml", api_name="/add_feed")
    assert "Following Coast Times &amp; Harbour News: 2 new articles." in status and box == ""
    assert "Index updated: 2 added" in status
    assert "Coast Times &amp; Harbour News" in table and f"{server.base}/rss.xml" in table
    assert "<td class='rag-feed-state'>ok</td>" in table and "never" not in table
    assert client.predict(api_name="/feeds") == table

    status, table, _, _ = client.predict(f"{server.base}/malformed.xml", api_name="/add_feed")
    assert "is not a well-formed RSS or Atom feed" in status and "malformed.xml" not in table

    status, table, _ = client.predict(api_name="/refresh_feeds")
    assert "not changed since the last refresh" in status

    (server.folder / "rss.xml").write_text("<html><body>moved</body></html>")
    status, table, _ = client.predict(api_name="/refresh_feeds")
    assert "not an RSS or Atom feed" in status and "rag-error" in table, "the table shows the feed's last error"

    _, sources, _ = client.predict("When did the harbour reopen?", api_name="/ask")
    assert "harbour" in sources.lower(), "the feed's articles are indexed and searched"

    status, table, _ = client.predict(f"{server.base}/rss.xml", api_name="/remove_feed")
    assert "No longer following" in status and "No feeds are followed" in table
    assert any((settings.documents_dir / "feeds").rglob("*.md")), "its articles stay"
