"""The web app under the drill of issue 14, served for real on 127.0.0.1 with the test fakes.

Host names it was not started for are refused; login guesses are limited; an upload's indexing
does not hold up another session's question; the uploads gradio cached are deleted once handled;
an article uploaded after start can be removed from another session; the limits agree.
"""

from __future__ import annotations

import html
import socket
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import numpy as np
import pytest
from gradio.utils import get_upload_folder
from gradio_client import Client, handle_file

from rag import Assistant, Settings
from tests.conftest import VISIT
from tests.fakes import HashEmbedder
from tests.test_ui_app import NEW_ARTICLE, SIGNED, ArticleGenerator, serving, shown
from ui import library
from ui.app import build_app
from ui.security import ANY_ADDRESS, HostCheck, LoginThrottle, allowed_hosts
from ui.uploads import MAX_UPLOAD_BYTES


def _remove_through_the_api(url: str, doc_id: str, host: str, origin: str | None = None) -> httpx.Response:
    headers = {"Host": host, **({"Origin": origin} if origin else {})}
    return httpx.post(f"{url}gradio_api/call/remove", json={"data": [doc_id]}, headers=headers, timeout=30)


def test_a_request_for_another_host_name_is_refused(settings: Settings) -> None:
    """DNS rebinding: a page on evil.example, re-pointed at 127.0.0.1, sends its own host name."""
    assistant = Assistant(settings, embedder=HashEmbedder(), generator=ArticleGenerator())
    with serving(assistant) as url:
        port = url.rstrip("/").rsplit(":", 1)[1]
        evil = _remove_through_the_api(url, VISIT, f"evil.example:{port}", f"http://evil.example:{port}")
        assert evil.status_code == 403 and "does not answer to that host name" in evil.text
        assert "access-control-allow-origin" not in evil.headers
        preflight = httpx.options(
            f"{url}gradio_api/call/remove",
            headers={"Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}"}
            | {"Access-Control-Request-Method": "POST"},
            timeout=30,
        )
        assert preflight.status_code == 403 and "access-control-allow-origin" not in preflight.headers
        page = httpx.get(url, headers={"Host": f"evil.example:{port}"}, timeout=30)
        assert page.status_code == 403
        # The same request from a page on the real address is not refused by the host check.
        cross = _remove_through_the_api(url, VISIT, f"127.0.0.1:{port}", f"http://evil.example:{port}")
        assert cross.status_code == 403
        for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
            assert httpx.get(url, headers={"Host": host}, timeout=30).status_code == 200
    assert (settings.documents_dir / VISIT).exists(), "nothing was removed"


def test_extra_host_names_can_be_allowed(settings: Settings) -> None:
    assistant = Assistant(settings, embedder=HashEmbedder(), generator=ArticleGenerator())
    with serving(assistant, allow_hosts=["chat.lan"]) as url:
        assert httpx.get(url, headers={"Host": "chat.lan:80"}, timeout=30).status_code == 200
        assert httpx.get(url, headers={"Host": "other.lan"}, timeout=30).status_code == 403


def test_login_guesses_are_limited(settings: Settings) -> None:
    assistant = Assistant(settings, embedder=HashEmbedder(), generator=ArticleGenerator())
    with serving(assistant, auth=("reader", "s3cret")) as url:
        wrong = [httpx.post(f"{url}login", data={"username": "reader", "password": f"guess{n}"}) for n in range(30)]
        assert {r.status_code for r in wrong} == {400}
        right = httpx.post(f"{url}login", data={"username": "reader", "password": "s3cret"})
        assert right.status_code == 400, "after 30 wrong guesses even the right password waits"


def test_the_throttle_lets_the_right_login_in_again_after_the_window() -> None:
    now = [0.0]
    check = LoginThrottle("reader", "s3cret", max_failures=5, window_s=60, clock=lambda: now[0])
    assert check("reader", "s3cret")
    assert not any(check("reader", f"guess{n}") for n in range(30))
    assert not check("reader", "s3cret")
    now[0] = 61.0
    assert check("reader", "s3cret") and not check("Reader", "s3cret") and not check("reader", "\udcff")


class GatedEmbedder(HashEmbedder):
    """Holds any batch that contains `word` until released: an upload that takes long to embed."""

    def __init__(self, word: str) -> None:
        super().__init__()
        self.word = word
        self.entered = threading.Event()
        self.release = threading.Event()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if any(self.word in t for t in texts):
            self.entered.set()
            assert self.release.wait(120), "never released"
        return super().embed(texts)


def test_an_upload_being_indexed_does_not_hold_up_another_sessions_question(settings: Settings, tmp_path: Path) -> None:
    embedder = GatedEmbedder("Glacier")
    source = tmp_path / "glacier.txt"
    source.write_text("Glacier report\n\nThe Glacier station measured ice for ten years.", encoding="utf-8")
    with serving(Assistant(settings, embedder=embedder, generator=ArticleGenerator())) as url:
        uploader, asker = Client(url, verbose=False), Client(url, verbose=False)
        asker.predict("warm up", api_name="/ask")
        upload = uploader.submit([handle_file(str(source))], api_name="/upload")
        assert embedder.entered.wait(60)
        try:
            chat, _, _ = asker.submit(SIGNED, api_name="/ask").result(timeout=60)
            assert "14 documents" in shown(chat[-1]) and not upload.done()
        finally:
            embedder.release.set()
        status, table, _, _ = upload.result(timeout=60)
    assert "Added glacier.txt." in html.unescape(status) and "Glacier report" in table


def _cached(content: bytes) -> list[Path]:
    root = Path(get_upload_folder())
    files = (p for p in root.rglob("*") if p.is_file() and p.stat().st_size == len(content))
    return [p for p in files if p.read_bytes() == content]


def test_uploads_are_deleted_from_gradios_cache_once_handled(url: str, tmp_path: Path) -> None:
    good, bad = tmp_path / "smart-city.txt", tmp_path / "scan.txt"
    good.write_text(NEW_ARTICLE + "\n\nCache check 7f3a.", encoding="utf-8")
    bad.write_bytes(b"\x00\x01\x02 binary 7f3a" * 100)
    client = Client(url, verbose=False)
    status, _, _, _ = client.predict([handle_file(str(good)), handle_file(str(bad))], api_name="/upload")
    assert "Added smart-city.txt." in html.unescape(status) and "looks binary" in status
    assert _cached(good.read_bytes()) == [] and _cached(bad.read_bytes()) == []


def test_an_article_uploaded_after_start_can_be_removed_from_another_session(url: str, tmp_path: Path) -> None:
    source = tmp_path / "smart-city.txt"
    source.write_text(NEW_ARTICLE, encoding="utf-8")
    Client(url, verbose=False).predict([handle_file(str(source))], api_name="/upload")
    status, table, _ = Client(url, verbose=False).predict("smart-city.txt", api_name="/remove")
    assert "Removed smart-city.txt." in status and "Smart City" not in table
    refused, _, _ = Client(url, verbose=False).predict("../outside.txt", api_name="/remove")
    assert "is not an indexed article" in html.unescape(refused)


def test_the_size_limit_is_the_same_everywhere(assistant: Assistant) -> None:
    demo = build_app(assistant)
    upload_box = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "rag-upload")
    assert MAX_UPLOAD_BYTES == 20 * 1024 * 1024 and "up to 20 MiB each" in str(getattr(upload_box, "label", ""))
    with serving(assistant) as url:
        config = httpx.get(f"{url}config", timeout=30).json()
    assert config["max_file_size"] == MAX_UPLOAD_BYTES


def test_too_many_files_in_one_upload_are_refused_with_one_notice(
    assistant: Assistant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(library, "MAX_FILES", 3)
    files = []
    for n in range(30):
        path = tmp_path / f"note-{n}.txt"
        path.write_text(f"Note {n} is about bridge {n}.", encoding="utf-8")
        files.append(path)
    status = library.Library(assistant).upload(files)
    assert "30 files were sent: only the first 3 were taken" in status
    saved = sorted(p.name for p in assistant.settings.documents_dir.glob("note-*"))
    assert saved == ["note-0.txt", "note-1.txt", "note-2.txt"]
    assert status.count("class=") <= library.MAX_NOTES + 1


@pytest.fixture
def url(settings: Settings) -> Iterator[str]:
    with serving(Assistant(settings, embedder=HashEmbedder(), generator=ArticleGenerator())) as address:
        yield address


@pytest.fixture
def assistant(settings: Settings) -> Assistant:
    return Assistant(settings, embedder=HashEmbedder(), generator=ArticleGenerator())


def test_uploads_never_handled_are_deleted_when_the_server_stops(assistant: Assistant, tmp_path: Path) -> None:
    orphan = tmp_path / "orphan.txt"
    orphan.write_bytes(b"Uploaded, then the tab was closed before adding it. 91c2")
    with serving(assistant) as url:
        sent = httpx.post(f"{url}gradio_api/upload", files={"files": orphan.open("rb")}, timeout=30)
        assert sent.status_code == 200 and _cached(orphan.read_bytes())
    assert _cached(orphan.read_bytes()) == []


def test_which_host_names_are_accepted_for_each_address() -> None:
    local = allowed_hosts("127.0.0.1")
    assert {"127.0.0.1", "localhost", "::1"} <= local and ANY_ADDRESS not in local
    network = allowed_hosts("0.0.0.0", ["chat.example"])
    assert {"localhost", "chat.example", socket.gethostname().lower(), ANY_ADDRESS} <= network
    assert HostCheck(lambda *a: None, network)._allows("192.168.1.20")  # type: ignore[arg-type]
    assert not HostCheck(lambda *a: None, network)._allows("evil.example")  # type: ignore[arg-type]
    assert not HostCheck(lambda *a: None, local)._allows("192.168.1.20")  # type: ignore[arg-type]
