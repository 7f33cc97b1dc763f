"""Start llama-cpp-python's OpenAI-compatible server on 127.0.0.1 for the tests and the load test.

    with llama_server(model_path) as url:      # "http://127.0.0.1:PORT/v1"
        ...

A free port is picked, the server is started as a child process (`python -m rag.models.server`: the
`llama_cpp.server` of the `llama-cpp-python[server]` extra, on the proven CPU variant), and the
block begins once `/v1/models` answers. On leaving the block, also after a failure, the server is
stopped by its PID (SIGTERM, then SIGKILL).
`--interrupt_requests false`: the server's default cuts a streaming reply short as soon as another
request arrives, which would truncate answers whenever two people ask at once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_command(model: Path, port: int, context_size: int = 2048, threads: int = 2) -> list[str]:
    return [
        sys.executable, "-m", "rag.models.server", "--model", str(model), "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", str(context_size), "--n_threads", str(threads), "--n_threads_batch", str(threads),
        "--interrupt_requests", "false", "--logits_all", "true",  # log-probabilities for yes_probability
        "--flash_attn", "true",  # as LlamaGenerator: the same numbers, so the same greedy answers
    ]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/models", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the server by its PID: SIGTERM, then SIGKILL if it has not exited after 10 s."""
    if process.poll() is not None:
        return
    os.kill(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()


@contextlib.contextmanager
def llama_server(model: Path, *, context_size: int = 2048, threads: int = 2, log_file: Path | None = None,
                 start_timeout_s: float = 300.0) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    output = log_file.open("wb") if log_file else subprocess.DEVNULL
    process = subprocess.Popen(server_command(model, port, context_size, threads), stdout=output,
                               stderr=subprocess.STDOUT)
    log.info("Started llama_cpp.server (PID %d) on %s", process.pid, url)
    try:
        deadline = time.monotonic() + start_timeout_s
        while not _answers(url):
            if process.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited with status {process.returncode} before answering"
                                   + (f"; see {log_file}" if log_file else ""))
            if time.monotonic() > deadline:
                raise RuntimeError(f"llama_cpp.server did not answer on {url} within {start_timeout_s:g} s")
            time.sleep(0.25)
        yield url
    finally:
        stop(process)
        if log_file:
            output.close()  # type: ignore[union-attr]
