"""The background refresher of `rag serve` (#23): it saves and indexes what feeds bring, embeds
nothing when nothing is new, never raises, and waits between batches while an answer is given."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag import Settings
from rag.ingest import feeds
from rag.ingest.feed_refresh import Quiet, Refresher
from tests.conftest import make_assistant
from tests.fakes import HashEmbedder
from tests.feed_server import FeedServer, feed_server

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"
LOCAL = ("127.0.0.1",)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[FeedServer]:
    folder = tmp_path / "served"
    shutil.copytree(FIXTURES, folder)
    with feed_server(folder) as running:
        yield running


def test_a_round_indexes_new_entries_and_a_second_embeds_nothing(server: FeedServer, settings: Settings) -> None:
    embedder = HashEmbedder()
    assistant = make_assistant(settings, embedder=embedder)
    assistant.index()
    url = f"{server.base}/rss.xml"
    feeds.save(settings.documents_dir, {url: feeds.Feed(url, feeds.feed_slug(url))})  # followed, not fetched yet
    refresher = Refresher(assistant, 3600, allow_hosts=LOCAL)
    first = refresher.run_once()
    assert first.error == "" and "2 added" in first.indexed
    assert any(d.startswith("feeds/") for d in assistant.stored.manifest["documents"])
    embedded = embedder.texts_embedded
    second = refresher.run_once()
    assert second.saved == 0 and second.indexed == "" and embedder.texts_embedded == embedded


def test_a_round_never_raises(settings: Settings) -> None:
    feeds.state_path(settings.documents_dir).parent.mkdir(parents=True)
    feeds.state_path(settings.documents_dir).write_text("{broken")
    done = Refresher(make_assistant(settings), 3600).run_once()
    assert "cannot be read" in done.error


def test_embedding_waits_while_an_answer_is_given() -> None:
    quiet = Quiet()
    waited = threading.Event()
    with quiet.answering():
        def wait() -> None:
            quiet.wait()
            waited.set()

        thread = threading.Thread(target=wait)
        thread.start()
        time.sleep(0.2)
        assert quiet.busy and not waited.is_set()
    thread.join(2)
    assert waited.is_set() and not quiet.busy
