"""Fetching refuses this machine and private networks in every spelling (issue #21, item 2).

A real HTTP server on 127.0.0.1 plays an internal service with a secret page. `rag add`, the
Articles tab's address field and `fetch` itself must not reach it: by any spelling of a loopback
address, through a redirect from an allowed address, or by a name whose lookup changes between the
check and the connection; credentials in an address are never sent or stored. Only an explicitly
allowed host (RAG_FETCH_ALLOW_HOSTS) may be private.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from rag import cli
from rag.errors import FetchError
from rag.ingest import fetching
from rag.ingest.fetching import Refused, fetch, fetch_article
from rag.settings import Settings
from tests.conftest import make_assistant
from tests.test_loading_news import NEWS_PAGE
from ui.library import Library

SECRET = "The internal root password is hunter2."


class _Internal(BaseHTTPRequestHandler):
    """An internal service: a secret page, a news page, and /go, which redirects to localhost."""

    seen: list[tuple[str, str | None]]  # (path, Authorization header) of every request

    def do_GET(self) -> None:
        self.seen.append((self.path, self.headers.get("Authorization")))
        if self.path == "/go":
            port = self.server.server_address[1]  # type: ignore[index]
            self.send_response(302)
            self.send_header("Location", f"http://localhost:{port}/secret")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        page = NEWS_PAGE if self.path == "/news" else f"<html><body><article><p>{SECRET} " * 5 + "</p></article>"
        body = page.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def internal() -> Iterator[tuple[int, list[tuple[str, str | None]]]]:
    seen: list[tuple[str, str | None]] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (_Internal,), {"seen": seen}))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1]), seen
    finally:
        server.shutdown()
        server.server_close()


SPELLINGS = [
    "http://127.0.0.1:{port}/secret",
    "http://localhost:{port}/secret",
    "http://[::1]:{port}/secret",
    "http://0x7f000001:{port}/secret",
    "http://2130706433:{port}/secret",
    "http://017700000001:{port}/secret",
    "http://127.1:{port}/secret",
    "http://0.0.0.0:{port}/secret",
    "http://[::ffff:127.0.0.1]:{port}/secret",
    "http://user:pw@127.0.0.1:{port}/secret",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",
    "http://[fe80::1]/",
    "http://224.0.0.1/",
    "http://[64:ff9b::7f00:1]/",
]


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_every_spelling_of_this_machine_or_a_private_network_is_refused(
    internal: tuple[int, list[tuple[str, str | None]]], tmp_path: Path, spelling: str
) -> None:
    port, seen = internal
    url = spelling.format(port=port)
    with pytest.raises(Refused) as refused:
        fetch_article(url, tmp_path, timeout_s=5)
    message = str(refused.value)
    assert "was not fetched" in message and "RAG_FETCH_ALLOW_HOSTS" in message and "\n" not in message
    assert "user:pw" not in message
    assert seen == [], "no request reached the internal service"
    assert not any(tmp_path.rglob("*")), "nothing is saved"


def test_the_refusal_says_what_the_address_is(internal: tuple[int, list], tmp_path: Path) -> None:
    port, _ = internal
    with pytest.raises(Refused, match=r"0x7f000001 is 127\.0\.0\.1, a loopback address \(this machine\)"):
        fetch_article(f"http://0x7f000001:{port}/secret", tmp_path)
    with pytest.raises(Refused, match=r"169\.254\.169\.254, a link-local address \(such as the cloud metadata"):
        fetch_article("http://169.254.169.254/latest/meta-data/", tmp_path)


def test_a_redirect_from_an_allowed_host_to_this_machine_is_refused(internal: tuple[int, list], tmp_path: Path) -> None:
    port, seen = internal
    with pytest.raises(Refused, match=rf"it redirects to http://localhost:{port}/secret, and localhost is"):
        fetch_article(f"http://127.0.0.1:{port}/go", tmp_path, allow_hosts=("127.0.0.1",))
    assert [path for path, _ in seen] == ["/go"], "the hop to localhost was never requested"


def test_credentials_are_never_sent_stored_or_shown(internal: tuple[int, list], tmp_path: Path) -> None:
    port, seen = internal
    article = fetch_article(f"http://user:pw@127.0.0.1:{port}/news", tmp_path, allow_hosts=("127.0.0.1",))
    assert seen == [("/news", None)], "no Authorization header was sent"
    saved = article.path.read_text(encoding="utf-8")
    assert "user:pw" not in saved and "user:pw" not in article.url and "user" not in article.doc_id


def test_the_address_checked_is_the_address_connected_to(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """DNS rebinding: a name that resolves to a public address for the check and to 127.0.0.1 next."""
    import httpcore

    public: list[tuple[int, str]] = [(socket.AF_INET, "93.184.216.34")]
    loopback: list[tuple[int, str]] = [(socket.AF_INET, "127.0.0.1")]
    answers = iter([public, loopback])
    lookups: list[str] = []
    connected: list[str] = []

    def resolve(host: str, port: int) -> list[tuple[int, str]]:
        lookups.append(host)
        return next(answers)

    def connect(backend: object, ip: str, port: int, **options: object) -> object:
        connected.append(ip)
        raise httpcore.ConnectError("Connection refused")

    monkeypatch.setattr(fetching, "_resolve", resolve)
    monkeypatch.setattr(fetching, "_connect", connect)
    with pytest.raises(FetchError, match="cannot be reached"):
        fetch_article("http://rebind.example/story", tmp_path, timeout_s=5)
    assert lookups == ["rebind.example"] and connected == ["93.184.216.34"]


def test_a_name_with_any_private_address_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    mixed = [(socket.AF_INET, "93.184.216.34"), (socket.AF_INET, "10.1.2.3")]
    monkeypatch.setattr(fetching, "_resolve", lambda host, port: mixed)
    with pytest.raises(Refused, match=r"mixed\.example is 10\.1\.2\.3, a private network address"):
        fetch_article("http://mixed.example/story", tmp_path)


def test_fetch_returns_what_a_feed_reader_needs(internal: tuple[int, list], tmp_path: Path) -> None:
    port, _ = internal
    page = fetch(f"http://127.0.0.1:{port}/news", max_bytes=100_000, allow_hosts=("127.0.0.1",),
                 headers={"If-None-Match": '"v1"'})
    assert page.status == 200 and not page.not_modified and page.content_type == "text/html"
    assert page.charset == "utf-8" and page.headers["content-type"].startswith("text/html")
    assert b"Tokayev" in page.body and page.final_url == page.url == f"http://127.0.0.1:{port}/news"
    with pytest.raises(fetching.WrongType, match="is text/html, not application/rss"):
        fetch(f"http://127.0.0.1:{port}/news", max_bytes=100_000, accept=("application/rss+xml",),
              allow_hosts=("127.0.0.1",))
    with pytest.raises(Refused):
        fetch(f"http://127.0.0.1:{port}/news", max_bytes=100_000)


def test_rag_add_refuses_this_machine_unless_allowed(
    internal: tuple[int, list], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    port, seen = internal
    monkeypatch.setattr(cli, "_assistant", lambda s: make_assistant(s))
    env = {"RAG_DOCUMENTS": str(settings.documents_dir), "RAG_INDEX": str(settings.index_dir)}
    refused = CliRunner().invoke(cli.main, ["add", f"http://127.1:{port}/secret"], env=env)
    assert refused.exit_code == 1 and "Not added: http://127.1:" in refused.output
    assert "was not fetched" in refused.output
    assert seen == []
    allowed = CliRunner().invoke(
        cli.main, ["add", f"http://127.0.0.1:{port}/news"], env={**env, "RAG_FETCH_ALLOW_HOSTS": "127.0.0.1"}
    )
    assert allowed.exit_code == 0, allowed.output
    assert [path for path, _ in seen] == ["/news"]


def test_the_articles_tab_refuses_internal_addresses_and_answers_nothing_from_them(
    internal: tuple[int, list], settings: Settings
) -> None:
    port, seen = internal
    assistant = make_assistant(settings)
    status, retry = Library(assistant).add_addresses(
        f"http://127.0.0.1:{port}/secret\nhttp://[::ffff:127.0.0.1]:{port}/secret\nhttp://169.254.169.254/"
    )
    assert "0 of 3 addresses added, 3 could not be fetched" in status and status.count("was not fetched") == 3
    assert seen == [] and not (settings.documents_dir / "web").exists()
    assert len(retry.splitlines()) == 3
    assert all("hunter2" not in hit.chunk.text for hit in assistant.retriever().search("root password", 5))
