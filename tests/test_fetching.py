"""`fetch_article` and `rag add` against a real HTTP server on 127.0.0.1 serving saved pages.

The server is on this machine, which fetching refuses unless told otherwise (tests/test_fetch_guard.py):
these tests allow 127.0.0.1, as RAG_FETCH_ALLOW_HOSTS=127.0.0.1 does."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from rag import cli
from rag.errors import FetchError
from rag.ingest.fetching import FetchedArticle, fetch_article
from rag.ingest.loading import load_documents, read_document
from rag.settings import Settings
from tests.conftest import make_assistant
from tests.test_loading_news import NEWS_PAGE

LOCAL = ("127.0.0.1",)  # the test site's host, allowed although it is this machine
SLOW_S = 2.0  # the slow page answers after this; the tests' timeout is shorter
HUGE_BYTES = 300_000  # the huge page's size; the tests' limit is smaller


class _Pages(BaseHTTPRequestHandler):
    """Saved pages, a missing one, other content types, a slow, a huge and a redirecting one."""

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path == "/world/tokayev-tokyo":
            self._send(200, "text/html; charset=utf-8", NEWS_PAGE.encode())
        elif path == "/old-address":
            self.send_response(301)
            self.send_header("Location", "/world/tokayev-tokyo")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path == "/loop":
            self.send_response(302)
            self.send_header("Location", "/loop")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path == "/report.pdf":
            self._send(200, "application/pdf", b"%PDF-1.4 a report")
        elif path == "/api.json":
            self._send(200, "application/json", b'{"articles": []}')
        elif path == "/empty-shell":
            self._send(200, "text/html", b"<html><body><div id='app'></div><script>load()</script></body></html>")
        elif path == "/slow":
            time.sleep(SLOW_S)
            self._send(200, "text/html", NEWS_PAGE.encode())
        elif path == "/huge":
            # No Content-Length: the limit must be enforced while streaming, not from a header.
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<html><body>")
            try:
                for _ in range(HUGE_BYTES // 1000):
                    self.wfile.write(b"<p>" + b"x" * 993 + b"</p>")
            except (BrokenPipeError, ConnectionResetError):
                return  # the client stopped reading: as it should
            self.close_connection = True
        else:
            self._send(404, "text/html", b"<html><body>Not found</body></html>")

    def _send(self, status: int, kind: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # quiet test output
        pass


@pytest.fixture
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_article_is_saved_with_front_matter_and_loads_back(site: str, tmp_path: Path) -> None:
    article = fetch_article(f"{site}/world/tokayev-tokyo", tmp_path, timeout_s=5, allow_hosts=LOCAL)
    assert isinstance(article, FetchedArticle)
    assert article.path.parent == tmp_path.resolve() / "web" / f"127.0.0.1_{site.rsplit(':', 1)[1]}"
    assert article.path.name.startswith("tokayev-tokyo-") and article.path.suffix == ".md"
    assert article.doc_id == article.path.relative_to(tmp_path.resolve()).as_posix()
    assert (article.title, article.published, article.source, article.author, article.url) == (
        "Tokayev arrives in Tokyo for state visit",
        "2024-12-18",
        "Daily Planet",
        "Lois Lane",
        "https://dailyplanet.example/world/tokayev-tokyo",
    )
    saved = article.path.read_text(encoding="utf-8")
    front = yaml.safe_load(saved.split("---\n")[1])
    assert front["url"] == "https://dailyplanet.example/world/tokayev-tokyo" and front["source"] == "Daily Planet"
    assert front["fetched"].endswith("+00:00")

    doc = read_document(article.path, article.doc_id)
    assert (doc.title, doc.published, doc.source, doc.author, doc.url) == (
        article.title,
        "2024-12-18",
        "Daily Planet",
        "Lois Lane",
        "https://dailyplanet.example/world/tokayev-tokyo",
    )
    assert "Fourteen agreements on energy" in doc.text and "---" not in doc.text and "Home" not in doc.text


def test_fetching_the_same_address_again_replaces_the_file(site: str, tmp_path: Path) -> None:
    first = fetch_article(f"{site}/world/tokayev-tokyo", tmp_path, timeout_s=5, allow_hosts=LOCAL)
    again = fetch_article(f"{site}/world/tokayev-tokyo", tmp_path, timeout_s=5, allow_hosts=LOCAL)
    assert first.path == again.path
    documents, _ = load_documents(tmp_path)
    assert [d.id for d in documents] == [first.doc_id], "one file, no temporary left behind"


def test_a_redirect_is_followed_and_the_final_address_names_the_file(site: str, tmp_path: Path) -> None:
    direct = fetch_article(f"{site}/world/tokayev-tokyo", tmp_path, timeout_s=5, allow_hosts=LOCAL)
    moved = fetch_article(f"{site}/old-address", tmp_path, timeout_s=5, allow_hosts=LOCAL)
    assert moved.path == direct.path and moved.title == direct.title


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/missing", "answered HTTP 404 Not Found"),
        ("/report.pdf", "is not a web page but application/pdf"),
        ("/api.json", "is not a web page but application/json"),
        ("/empty-shell", "No article text was found"),
        ("/loop", "redirects more than 5 times"),
    ],
)
def test_pages_that_cannot_be_added_say_why(site: str, tmp_path: Path, path: str, message: str) -> None:
    with pytest.raises(FetchError, match=message) as failed:
        fetch_article(f"{site}{path}", tmp_path, timeout_s=5, allow_hosts=LOCAL)
    assert f"{site}{path}" in str(failed.value), "the message names the address"
    assert not any(tmp_path.rglob("*")), "nothing is saved"


def test_a_slow_page_times_out(site: str, tmp_path: Path) -> None:
    with pytest.raises(FetchError, match=r"did not answer within 0\.5 seconds"):
        fetch_article(f"{site}/slow", tmp_path, timeout_s=0.5, allow_hosts=LOCAL)


def test_a_huge_page_is_abandoned_while_streaming(site: str, tmp_path: Path) -> None:
    with pytest.raises(FetchError, match=r"larger than the 0\.1 MB a page may have"):
        fetch_article(f"{site}/huge", tmp_path, timeout_s=5, max_bytes=100_000, allow_hosts=LOCAL)
    assert not any(tmp_path.rglob("*"))


def test_a_closed_port_is_a_connection_refused(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/story"
    with pytest.raises(FetchError, match="cannot be reached") as failed:
        fetch_article(url, tmp_path, timeout_s=5, allow_hosts=LOCAL)
    assert url in str(failed.value)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "not a web address: only http:// and https://"),
        ("ftp://127.0.0.1/story.html", "is a ftp: address: only http:// and https://"),
        ("file:///etc/passwd", "is a file: address"),
        ("http://", "has no host name"),
        ("http://127.0.0.1:notaport/x", "is not a valid web address"),
    ],
)
def test_bad_addresses_are_refused_before_any_request(tmp_path: Path, url: str, message: str) -> None:
    with pytest.raises(FetchError, match=message):
        fetch_article(url, tmp_path, allow_hosts=LOCAL)


@pytest.fixture
def runner(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setattr(cli, "_assistant", lambda s: make_assistant(s))
    monkeypatch.setenv("RAG_DOCUMENTS", str(settings.documents_dir))
    monkeypatch.setenv("RAG_INDEX", str(settings.index_dir))
    monkeypatch.setenv("RAG_FETCH_ALLOW_HOSTS", "127.0.0.1")
    return CliRunner()


def test_rag_add_saves_indexes_and_reports_each_address(runner: CliRunner, site: str, settings: Settings) -> None:
    assert runner.invoke(cli.main, ["index"]).exit_code == 0  # the two default articles
    result = runner.invoke(cli.main, ["add", f"{site}/world/tokayev-tokyo", f"{site}/missing"])
    assert result.exit_code == 1
    assert "Saved https://dailyplanet.example/world/tokayev-tokyo as web/127.0.0.1_" in result.output
    assert "Daily Planet, 2024-12-18, Lois Lane" in result.output
    assert f"Not added: {site}/missing answered HTTP 404" in result.output
    assert "1 of 2 addresses could not be added" in result.output
    assert "1 added, 0 changed, 0 removed, 2 unchanged" in result.output, "the index is brought up to date"

    status = runner.invoke(cli.main, ["index"])
    assert status.exit_code == 0 and "0 added, 0 changed, 0 removed, 3 unchanged" in status.output, status.output


def test_rag_add_with_only_good_addresses_exits_zero(runner: CliRunner, site: str, settings: Settings) -> None:
    result = runner.invoke(cli.main, ["add", f"{site}/world/tokayev-tokyo"])
    assert result.exit_code == 0, result.output
    saved = list((settings.documents_dir / "web").rglob("*.md"))
    assert len(saved) == 1 and read_document(saved[0], "x").source == "Daily Planet"
