"""Honest reasons and limits (issue #21, item 5): HTML the reader cannot take says why, a file
name is limited in bytes as the file system counts, and `rag serve` stopped by SIGTERM deletes the
uploads it still holds, a refused `.meta.json` included."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from rag.index import indexing
from rag.ingest.chunking import ChunkingSettings
from rag.ingest.loading import UnusableFile, read_file
from tests.conftest import ROOT
from tests.fakes import HashEmbedder
from tests.test_ui_app import free_port
from ui.uploads import safe_name, save_upload

PARAGRAPH = "<p>The bridge opened on Monday after years of work by the town council.</p>"


def test_html_nested_too_deeply_says_so(tmp_path: Path) -> None:
    (tmp_path / "deep.html").write_text(
        "<html><body>" + "<div>" * 300 + PARAGRAPH + "</div>" * 300 + "</body></html>", encoding="utf-8"
    )
    with pytest.raises(UnusableFile, match=r"its HTML is nested 30[0-9] levels deep, more than the 250"):
        read_file(tmp_path / "deep.html", "deep.html")


def test_html_with_a_paragraph_too_long_says_so(tmp_path: Path) -> None:
    (tmp_path / "long.html").write_text(
        "<html><body><article><p>" + "word " * 2_200_000 + "</p></article></body></html>", encoding="utf-8"
    )
    with pytest.raises(UnusableFile, match=r"it holds 11,000,000 bytes of text without any markup"):
        read_file(tmp_path / "long.html", "long.html")


def test_the_index_report_gives_the_real_reasons(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "deep.html").write_text("<html><body>" + "<div>" * 260 + PARAGRAPH + "</div>" * 260, encoding="utf-8")
    (docs / "fine.html").write_text("<html><body>" + "<div>" * 20 + PARAGRAPH + "</div>" * 20, encoding="utf-8")
    _, report = indexing.update_index(docs, tmp_path / "index", HashEmbedder(), ChunkingSettings())
    assert report.added == ["fine.html"]
    [skipped] = report.skipped
    assert skipped.path.endswith("deep.html") and "nested" in skipped.reason
    assert "no text could be extracted" not in skipped.reason


def test_a_name_of_100_cjk_characters_is_saved(tmp_path: Path) -> None:
    """100 characters are 300 bytes in UTF-8: "File name too long" before issue #21."""
    sent = "東京" * 50 + ".txt"
    assert len(safe_name(sent).encode("utf-8")) <= 255
    source = tmp_path / "upload.txt"
    source.write_text("The state visit to Tokyo ended with fourteen agreements.", encoding="utf-8")
    folder = tmp_path / "documents"
    saved = save_upload(source, sent, folder)
    assert saved.added and saved.path.exists() and saved.doc_id.startswith("東京東京")
    again = tmp_path / "other.txt"
    again.write_text("Another article with the same long name.", encoding="utf-8")
    second = save_upload(again, sent, folder)
    assert second.added and second.doc_id.endswith("-2.txt"), "the numbered name fits too"


SERVE = textwrap.dedent(
    """
    import sys
    from rag import Assistant, cli
    from tests.fakes import HashEmbedder
    from tests.test_ui_app import ArticleGenerator
    cli._assistant = lambda s: Assistant(s, embedder=HashEmbedder(), generator=ArticleGenerator())
    cli.main(sys.argv[1:])
    """
)


@pytest.mark.server
def test_sigterm_stops_rag_serve_and_deletes_the_uploads_it_holds(settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cache = tmp_path / "gradio-cache"
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GRADIO_TEMP_DIR": str(cache), "RAG_JUDGE_MODEL": "none"}
    command = [sys.executable, "-c", SERVE, "--documents", str(settings.documents_dir), "--index",
               str(settings.index_dir), "serve", "--port", str(port), "--no-browser"]
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and server.poll() is None:
            try:
                if httpx.get(f"{url}config", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        sidecar = tmp_path / "story.txt.meta.json"
        sidecar.write_text('{"source": "Wire 7f3a"}', encoding="utf-8")
        with sidecar.open("rb") as f:
            sent = httpx.post(f"{url}gradio_api/upload", files={"files": ("story.txt.meta.json", f)}, timeout=30)
        assert sent.status_code == 200, sent.text
        [cached] = sent.json()
        data = {"data": [[{"path": cached, "orig_name": "story.txt.meta.json", "meta": {"_type": "gradio.FileData"}}],
                         None, None, None]}
        httpx.post(f"{url}gradio_api/call/upload", json=data, timeout=30)  # refused: not an article type
        time.sleep(1)
        held = [p for p in cache.rglob("*.meta.json")]
        server.send_signal(signal.SIGTERM)
        server.wait(60)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert not [p for p in cache.rglob("*.meta.json")], f"left in gradio's cache after SIGTERM (held: {held})"
