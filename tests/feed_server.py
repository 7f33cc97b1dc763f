"""A feed server on 127.0.0.1 for tests and scripts/bench_feeds.py: files from a folder, with the
misbehaviours feeds have in the wild.

`GET /<file>` serves the file ("{base}" in it replaced by the server's address) with an ETag (its
digest) and a Last-Modified; If-None-Match or If-Modified-Since that match get 304. `/missing.xml`
(or any absent file) is 404, `/loop` redirects to itself, `/slow.xml` waits `slow_s` before
answering, `/huge.xml` is `huge_bytes` of XML. `requests` counts what was asked, by path and status.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

LAST_MODIFIED = "Tue, 03 Dec 2024 12:00:00 GMT"
TYPES = {".xml": "application/rss+xml", ".atom": "application/atom+xml", ".html": "text/html; charset=utf-8"}


class FeedServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, folder: Path, slow_s: float = 3.0, huge_bytes: int = 200_000) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.folder = folder
        self.slow_s = slow_s
        self.huge_bytes = huge_bytes
        self.requests: Counter[tuple[str, int]] = Counter()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: FeedServer

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.server.requests[(self.path, status)] += 1
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path == "/loop":
            self._send(302, headers={"Location": "/loop"})
            return
        if path == "/slow.xml":
            time.sleep(self.server.slow_s)
        if path == "/huge.xml":
            item = b"<item><title>x</title><description>" + b"y" * 1000 + b"</description></item>"
            body = b'<?xml version="1.0"?><rss version="2.0"><channel><title>Huge</title>'
            body += item * (self.server.huge_bytes // len(item) + 1) + b"</channel></rss>"
            self._send(200, body, {"Content-Type": "application/rss+xml"})
            return
        file = self.server.folder / path.lstrip("/")
        if path == "/slow.xml":
            file = self.server.folder / "rss.xml"
        if not file.is_file() or self.server.folder.resolve() not in file.resolve().parents:
            self._send(404, b"not found", {"Content-Type": "text/plain"})
            return
        body = file.read_bytes().replace(b"{base}", self.server.base.encode())
        etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
        # As HTTP says: If-None-Match, when sent, decides alone; If-Modified-Since only without it.
        match = self.headers.get("If-None-Match")
        if match == etag or (match is None and self.headers.get("If-Modified-Since") == LAST_MODIFIED):
            self._send(304, headers={"ETag": etag})
            return
        kind = TYPES.get(file.suffix, "application/octet-stream")
        self._send(200, body, {"Content-Type": kind, "ETag": etag, "Last-Modified": LAST_MODIFIED})


@contextmanager
def feed_server(folder: Path, slow_s: float = 3.0, huge_bytes: int = 200_000) -> Iterator[FeedServer]:
    """Serve `folder` on 127.0.0.1 (a free port) until the block ends."""
    server = FeedServer(folder, slow_s, huge_bytes)
    thread = threading.Thread(target=server.serve_forever, name="feed-server", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
