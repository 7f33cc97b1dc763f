"""A real `rag serve` on 127.0.0.1 (MiniLM, SmolLM2) over a folder with the drill's bad files.

It starts despite a password-protected PDF, an AES-encrypted one, a 20 KB line (73 s to chunk
before; the 1 MB case is in test_chunking, its embedding takes minutes here) and a link to a file
outside the folder, says which files it skipped and why, and refuses requests for host names it was
not started for (DNS rebinding) while answering its own. Stopped by its PID at the end.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ARTICLES, LECTURE, ROOT, VISIT
from tests.test_chunking import _random_words
from tests.test_loading import _encrypted_pdf
from tests.test_ui_app import free_port

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int, list[str], Path]]:
    root = tmp_path_factory.mktemp("serve")
    docs = root / "documents"
    docs.mkdir()
    for name in (VISIT, LECTURE):
        shutil.copy(ARTICLES / name, docs / name)
    (docs / "locked.pdf").write_bytes(_encrypted_pdf("Secret plans.", "letmein"))
    (docs / "aes.pdf").write_bytes(_encrypted_pdf("The bridge opens in May.", ""))
    (docs / "one-line.txt").write_text(_random_words(3_500), encoding="utf-8")
    (root / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n", encoding="utf-8")
    (docs / "passwd.txt").symlink_to(root / "passwd")
    port = free_port()
    command = [sys.executable, "-m", "rag.cli", "--documents", str(docs), "--index", str(root / "index")]
    command += ["--model", "smollm2-135m", "serve", "--port", str(port), "--no-browser"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAG_MODEL_CACHE": str(root / "models")}
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    started = threading.Event()

    def read() -> None:
        assert server.stdout is not None
        for line in server.stdout:
            lines.append(line)
            if "Chat running on" in line:
                started.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        deadline = time.monotonic() + 900
        while not started.is_set() and server.poll() is None and time.monotonic() < deadline:
            started.wait(1)
        assert started.is_set(), "".join(lines)
        yield f"http://127.0.0.1:{port}/", port, lines, docs
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()


def test_serve_starts_and_says_which_files_it_skipped(served: tuple[str, int, list[str], Path]) -> None:
    _, _, lines, docs = served
    output = "".join(lines)
    assert f"Skipped {docs / 'locked.pdf'}: it is a password-protected PDF" in output
    assert f"Skipped {docs / 'passwd.txt'}: it is a link to" in output and "outside the documents folder" in output
    skipped = [line for line in lines if line.startswith("Skipped")]
    assert len(skipped) == 2 and "4 added" in output  # the articles, aes.pdf and the long line


def test_the_real_server_refuses_a_foreign_host_and_answers_its_own(served: tuple[str, int, list[str], Path]) -> None:
    url, port, _, docs = served
    evil = {"Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}"}
    removal = httpx.post(f"{url}gradio_api/call/remove", json={"data": [VISIT]}, headers=evil, timeout=30)
    assert removal.status_code == 403
    assert httpx.get(url, headers={"Host": f"evil.example:{port}"}, timeout=30).status_code == 403
    assert httpx.get(f"{url}config", timeout=30).status_code == 200
    assert httpx.get(f"{url}config", headers={"Host": f"localhost:{port}"}, timeout=30).status_code == 200
    assert (docs / VISIT).exists()
