"""`rag feeds add / list / update / remove` (#23) against a local feed server, with the fake models."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from rag import Settings, cli
from tests.conftest import make_assistant
from tests.feed_server import FeedServer, feed_server

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[FeedServer]:
    folder = tmp_path / "served"
    shutil.copytree(FIXTURES, folder)
    with feed_server(folder) as running:
        yield running


@pytest.fixture
def runner(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setattr(cli, "_assistant", lambda s: make_assistant(s))
    monkeypatch.setenv("RAG_DOCUMENTS", str(settings.documents_dir))
    monkeypatch.setenv("RAG_INDEX", str(settings.index_dir))
    monkeypatch.setenv("RAG_FETCH_ALLOW_HOSTS", "127.0.0.1")
    return CliRunner()


def test_add_list_update_remove(runner: CliRunner, server: FeedServer) -> None:
    url = f"{server.base}/rss.xml"
    added = runner.invoke(cli.main, ["feeds", "add", url, "--limit", "5"])
    assert added.exit_code == 0, added.output
    assert "2 articles saved" in added.output and "4 added" in added.output  # saved, then indexed (with the 2 default)
    listed = json.loads(runner.invoke(cli.main, ["feeds", "list", "--json"]).output)
    assert [(f["url"], f["limit"], f["saved"], f["last_error"]) for f in listed] == [(url, 5, 2, None)]
    assert "seen" not in listed[0]
    again = runner.invoke(cli.main, ["feeds", "update"])
    assert again.exit_code == 0 and "not changed since the last refresh" in again.output
    assert "Index" not in again.output, "nothing new: nothing indexed"
    gone = runner.invoke(cli.main, ["feeds", "remove", url])
    assert gone.exit_code == 0 and "No longer following" in gone.output
    assert "No feeds are followed" in runner.invoke(cli.main, ["feeds", "list"]).output


def test_a_bad_feed_is_one_line_and_status_1(runner: CliRunner, server: FeedServer) -> None:
    bad = runner.invoke(cli.main, ["feeds", "add", f"{server.base}/page.html"])
    assert bad.exit_code == 1 and "is a web page, not an RSS or Atom feed" in bad.output
    assert "Traceback" not in bad.output and len(bad.output.strip().splitlines()) == 1
    runner.invoke(cli.main, ["feeds", "add", f"{server.base}/atom.xml"])
    (server.folder / "atom.xml").unlink()
    failed = runner.invoke(cli.main, ["feeds", "update"])
    assert failed.exit_code == 1 and "answered HTTP 404" in failed.output
