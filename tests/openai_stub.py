"""A tiny OpenAI-compatible chat server on 127.0.0.1 for the unit tests of `OpenAIGenerator`.

It speaks the real protocol (JSON, server-sent events) so the real `openai` client is exercised,
but answers from a script: the reply text, the first token's log-probabilities (or none), whether
it has a `/tokenize` endpoint, how long it waits before answering, and how many requests fail
first. It records every request body it was sent. A script can also misbehave as a server that
never ends its reply (`endless`): pieces of text forever, ignoring `max_tokens`; only SSE
keep-alive comments; or one byte at a time; each every `interval_s`, until the client hangs up
(`hung_up` is then set). The real server is tested in tests/test_llm_server.py.
"""

from __future__ import annotations

import json
import re
import select
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Script:
    reply: str = "Fourteen documents were signed [1]."
    logprobs: list[tuple[str, float]] | None = None  # the first token's alternatives, or no logprobs at all
    tokenize: bool = True  # offer llama.cpp's /tokenize (one token per word and punctuation mark)
    delay_s: float = 0.0  # wait before answering a chat request
    fail_first: int = 0  # answer this many chat requests with HTTP 503 first
    requests: list[dict[str, Any]] = field(default_factory=list)
    endless: str = ""  # "", "pieces", "keepalive" or "trickle": how the reply never ends
    interval_s: float = 0.0  # between two pieces, keep-alives or bytes of an endless reply
    hung_up: threading.Event = field(default_factory=threading.Event)  # the client closed an endless reply
    began_at: float = 0.0  # time.monotonic() when the last endless reply began…
    hung_up_at: float = 0.0  # …and when its client hung up


class _Handler(BaseHTTPRequestHandler):
    script: Script

    def log_message(self, format: str, *args: Any) -> None:  # keep the test output clean
        pass

    def _json(self, status: int, data: Any) -> None:
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/v1/models":
            self._json(200, {"object": "list", "data": [{"id": "stub-model", "object": "model", "created": 0,
                                                         "owned_by": "test"}]})
        else:
            self._json(404, {"error": {"message": "not found"}})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        script = self.script
        if self.path == "/tokenize" and script.tokenize and "content" in body:
            self._json(200, {"tokens": list(range(len(re.findall(r"\w+|[^\w\s]", body["content"]))))})
            return
        if self.path != "/v1/chat/completions":
            self._json(404, {"error": {"message": "not found"}})
            return
        script.requests.append(body)
        if script.fail_first > 0:
            script.fail_first -= 1
            self._json(503, {"error": {"message": "busy"}})
            return
        time.sleep(script.delay_s)
        if body.get("stream") and script.endless:
            self._endless(script)
        elif body.get("stream"):
            self._stream(re.findall(r"\S+\s*", script.reply))
        else:
            self._complete(body)

    def _stream(self, pieces: list[str]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for n, piece in enumerate([*pieces, None]):
            delta = {"content": piece} if piece is not None else {}
            chunk: dict[str, Any] = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "stub-model",
                     "choices": [{"index": 0, "delta": delta, "finish_reason": None if piece else "stop"}]}
            if n == 0:
                chunk["choices"][0]["delta"]["role"] = "assistant"
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")

    def _endless(self, script: Script) -> None:
        script.began_at = time.monotonic()
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        event = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "stub-model",
                 "choices": [{"index": 0, "delta": {"content": "more "}, "finish_reason": None}]}
        piece = f"data: {json.dumps(event)}\n\n".encode()
        try:
            while True:
                if script.endless == "pieces":
                    self.wfile.write(piece)
                elif script.endless == "keepalive":
                    self.wfile.write(b": keep-alive\n\n")
                else:
                    for byte in piece:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        self._pause(script.interval_s)
                self.wfile.flush()
                self._pause(script.interval_s or 0.001)
        except OSError:  # the client hung up: as it should
            script.hung_up_at = time.monotonic()
            script.hung_up.set()

    def _pause(self, seconds: float) -> None:
        """Wait, but notice at once (within 50 ms) when the client closes the connection."""
        end = time.monotonic() + seconds
        while True:
            readable, _, _ = select.select([self.connection], [], [], max(0.0, min(0.05, end - time.monotonic())))
            if readable and not self.connection.recv(1, socket.MSG_PEEK):
                raise ConnectionResetError("the client closed the connection")
            if time.monotonic() >= end:
                return

    def _complete(self, body: dict[str, Any]) -> None:
        alternatives = self.script.logprobs
        first = alternatives[0][0] if alternatives else self.script.reply.split()[0]
        choice: dict[str, Any] = {"index": 0, "finish_reason": "length",
                                  "message": {"role": "assistant", "content": first}, "logprobs": None}
        if body.get("logprobs") and alternatives:
            top = [{"token": t, "logprob": lp, "bytes": list(t.encode())} for t, lp in alternatives]
            choice["logprobs"] = {"content": [{**top[0], "top_logprobs": top[: body.get("top_logprobs", 0)]}]}
        self._json(200, {"id": "c", "object": "chat.completion", "created": 0, "model": "stub-model",
                         "choices": [choice]})


@contextmanager
def stub_server(script: Script) -> Iterator[str]:
    """Serve `script` on a free port of 127.0.0.1; yields the base URL ("http://127.0.0.1:P/v1")."""
    handler = type("Handler", (_Handler,), {"script": script})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True  # a handler still sleeping for a timed-out client does not hold up the test
    server.block_on_close = False
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
