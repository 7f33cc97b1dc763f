"""The model behind an OpenAI-compatible chat-completions server, through the `openai` client.

llama.cpp's `llama-server`, llama-cpp-python's `python -m llama_cpp.server`, vLLM and TGI all
speak this protocol, so one class serves a model on this machine or a pool behind a load balancer.
`OpenAIGenerator` implements the same `Generator` protocol as the in-process `LlamaGenerator`:
greedy decoding (temperature 0, a fixed seed), the reply streamed piece by piece, optional stop
strings, a timeout for every wait and the client's retries with back-off before the first token.
Every reply has limits (`Limits`): its first piece, and each next one, within `timeout_s` however
many keep-alive comments the server sends meanwhile; the whole reply within `reply_timeout_s`;
and no more pieces and characters than `max_tokens` can be, so a server that ignores `max_tokens`
and streams forever cannot hold the one model slot of the web chat.
A server that is down, slow or refuses the request becomes a `ServerError` that says which server
and what to do. Closing the stream early closes the HTTP response, so the server stops generating.

The prompt budget is counted with the server's own tokenizer where it offers one (llama.cpp's
`/tokenize`, vLLM's `/tokenize`, llama-cpp-python's `/extras/tokenize/count`, probed once), and
otherwise with a deliberate over-estimate (`estimate_tokens`), so a prompt never overflows the
server's context window because of a miscount.

Deliberately not here: choosing between this and the built-in model (rag/engines.py), and
starting a server (tests/llm_server.py and scripts/load_test.py do that for the tests).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rag.errors import ModelError
from rag.models.generation import Message

log = logging.getLogger(__name__)

# The first token's alternatives asked for: 20 is the most the OpenAI API allows.
TOP_LOGPROBS = 20
# Over-estimate of a model's token count from the cl100k_base count: tokenizers with small
# vocabularies (Llama 2, SmolLM2) need up to about a fifth more tokens for English text.
ESTIMATE_FACTOR = 1.3


# (name, path under the server root, request body from (text, model)); the first that answers counts.
Tokenizer = tuple[str, str, Callable[[str, str], dict[str, Any]]]
TOKENIZERS: tuple[Tokenizer, ...] = (
    ("llama.cpp /tokenize", "/tokenize", lambda text, model: {"content": text, "add_special": False}),
    ("vLLM /tokenize", "/tokenize", lambda text, model: {"model": model, "prompt": text, "add_special_tokens": False}),
    ("llama-cpp-python /extras/tokenize/count", "/extras/tokenize/count",
     lambda text, model: {"model": model, "input": text}),
)


# Sent with every request: llama.cpp's servers penalise repeats by default (1.1), the in-process
# model does not; 1.0 makes the server decode exactly as `LlamaGenerator` does. vLLM accepts and
# ignores fields it does not know; a server that rejects them needs `extra_body={}`.
GREEDY_EXTRAS: dict[str, Any] = {"repeat_penalty": 1.0}


class ServerError(ModelError):
    """The model server is down, too slow, or refused the request."""


def estimate_tokens(text: str) -> int:
    """A safe (high) token count when the server has no tokenizer endpoint.

    >>> estimate_tokens("")
    0
    >>> estimate_tokens("The meeting ended with signing 14 documents.") >= 9
    True
    """
    if not text:
        return 0
    from rag.ingest.chunking import count_tokens

    return max(math.ceil(ESTIMATE_FACTOR * count_tokens(text)), math.ceil(len(text.encode("utf-8")) / 4))


def yes_share(alternatives: Sequence[tuple[str, float]]) -> float | None:
    """P(yes) / (P(yes) + P(no)) from (token, log-probability) pairs of one position.

    Case and leading-space variants are summed; None when neither word is among them.

    >>> round(yes_share([("Yes", math.log(0.6)), (" yes", math.log(0.1)), ("No", math.log(0.1))]), 3)
    0.875
    >>> yes_share([("Maybe", -0.1)]) is None
    True
    """
    seen: set[str] = set()
    yes = no = 0.0
    for token, logprob in alternatives:
        if token in seen:
            continue
        seen.add(token)
        word = token.strip().lower()
        if word == "yes":
            yes += math.exp(logprob)
        elif word == "no":
            no += math.exp(logprob)
    return yes / (yes + no) if yes + no > 0 else None


class OpenAIGenerator:
    """Chat completions from a server at `base_url` (e.g. "http://127.0.0.1:8000/v1")."""

    def __init__(
        self,
        base_url: str,
        *,
        model: str = "",
        api_key: str | None = None,
        context_size: int = 2048,
        timeout_s: float = 120.0,
        reply_timeout_s: float = 300.0,
        retries: int = 2,
        stop: Sequence[str] = (),
        extra_body: Mapping[str, Any] | None = None,
        name: str = "",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.context_size = context_size
        self.timeout_s = timeout_s
        self.reply_timeout_s = reply_timeout_s
        self.retries = retries
        self.stop = list(stop)
        self.extra_body = dict(GREEDY_EXTRAS if extra_body is None else extra_body)
        self.name = name or model or self.base_url
        self._client: Any = None
        self._tokenizer: Tokenizer | None = None  # the server's endpoint that counts tokens, if any
        self._counts: dict[str, int] = {}
        self._connecting = threading.Lock()  # one client, shared by the threads of a web server

    # -- connection ----------------------------------------------------------------------------
    def warm_up(self) -> None:
        """Connect, check the server answers, learn the served model's name if none was given,
        and find its tokenizer endpoint."""
        with self._connecting:
            if self._client is None:
                self._connect()

    def _connect(self) -> None:
        import openai

        client = openai.OpenAI(
            base_url=self.base_url,
            api_key=self.api_key or "not-needed",  # local servers ignore it; the client insists on one
            timeout=self.timeout_s,
            max_retries=self.retries,
        )
        try:
            served = [m.id for m in client.models.list()]
        except openai.OpenAIError as err:
            raise self._error(err) from None
        if not self.model:
            if not served:
                raise ServerError(f"The model server at {self.base_url} serves no model.")
            self.model = served[0]
            if self.name == self.base_url:
                self.name = self.model
        self._tokenizer = self._find_tokenizer()
        self._client = client
        log.info("Model server %s, model %s, tokens counted by %s", self.base_url, self.model,
                 self._tokenizer[0] if self._tokenizer else "an over-estimate (no tokenizer endpoint)")

    def _error(self, err: Exception) -> ServerError:
        import openai

        where = f"The model server at {self.base_url}"
        if isinstance(err, openai.APITimeoutError):
            return ServerError(
                f"{where} did not answer within {self.timeout_s:g} s (tried {self.retries + 1} times). "
                "It may be overloaded: try again, add servers, or raise RAG_LLM_TIMEOUT."
            )
        if isinstance(err, openai.APIConnectionError):
            return ServerError(
                f"{where} cannot be reached ({err.__cause__ or err}). Start it, check RAG_LLM_URL, "
                "or unset RAG_LLM_URL to use the built-in model."
            )
        if isinstance(err, openai.AuthenticationError | openai.PermissionDeniedError):
            return ServerError(f"{where} refused the API key: set RAG_LLM_API_KEY to a key it accepts.")
        if isinstance(err, openai.NotFoundError):
            return ServerError(f"{where} has no model {self.model!r} or no chat API: check RAG_LLM_MODEL and the URL.")
        if isinstance(err, openai.APIStatusError):
            return ServerError(f"{where} answered with an error (HTTP {err.status_code}): {err.message}")
        return ServerError(f"{where} failed: {err}")

    # -- tokens --------------------------------------------------------------------------------
    def _ask_tokenizer(self, tokenizer: Tokenizer, text: str) -> int | None:
        import httpx

        _, path, body = tokenizer
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        try:
            response = httpx.post(self.base_url.removesuffix("/v1") + path, json=body(text, self.model),
                                  headers=headers, timeout=self.timeout_s)
        except httpx.HTTPError as err:
            raise ServerError(f"The model server at {self.base_url} cannot be reached ({err}).") from None
        if response.status_code != 200:
            return None
        try:
            data = response.json()
        except ValueError:
            return None
        if isinstance(data, dict) and isinstance(data.get("count"), int):
            return int(data["count"])
        if isinstance(data, dict) and isinstance(data.get("tokens"), list):
            return len(data["tokens"])
        return None

    def _find_tokenizer(self) -> Tokenizer | None:
        for tokenizer in TOKENIZERS:
            if self._ask_tokenizer(tokenizer, "Hello world") is not None:
                return tokenizer
        return None

    def count_tokens(self, text: str) -> int:
        self.warm_up()
        if text in self._counts:
            return self._counts[text]
        count = self._ask_tokenizer(self._tokenizer, text) if self._tokenizer else None
        if count is None:
            count = estimate_tokens(text)
        if len(self._counts) > 4096:  # the prompt's fixed parts recur; passages mostly do not
            self._counts.clear()
        self._counts[text] = count
        return count

    # -- generation ----------------------------------------------------------------------------
    def stream(self, messages: list[Message], max_tokens: int) -> Iterator[str]:
        """The reply, piece by piece, within the limits of `Limits.for_reply(max_tokens)`.

        The request and the reading run in a helper thread, so a limit holds even while a read is
        waiting; only pieces of text count as progress, never keep-alive comments. A reply longer
        than `max_tokens` allows (a server that ignores it) is cut where the limit falls, as a
        model stops at its length; a reply too slow is a ServerError.
        """
        self.warm_up()
        limits = Limits.for_reply(max_tokens, self.timeout_s, self.reply_timeout_s)
        reader = _Reader(self, messages, max_tokens)
        reader.start()
        started = time.monotonic()
        pieces = chars = 0
        progress = None  # when the response began, then when the last piece came
        try:
            while True:
                now = time.monotonic()
                wait = started + limits.reply_s - now
                if progress is not None:
                    wait = min(wait, progress + limits.silence_s - now)
                try:
                    kind, value = reader.out.get(timeout=max(wait, 0.0))
                except queue.Empty:
                    raise self._too_slow(limits, started, progress is not None, pieces) from None
                if kind == "begun":
                    progress = time.monotonic()
                elif kind == "piece":
                    text = value[: limits.chars - chars]
                    pieces += 1
                    chars += len(text)
                    progress = time.monotonic()
                    if text:
                        yield text
                    if pieces >= limits.pieces or chars >= limits.chars:
                        log.warning("The model server at %s sent more than %d tokens allow (%d pieces, %d "
                                    "characters): the reply was cut there", self.base_url, max_tokens, pieces, chars)
                        return
                elif kind == "error":
                    raise value
                else:  # "end"
                    return
        finally:
            reader.stop()

    def _too_slow(self, limits: Limits, started: float, begun: bool, pieces: int) -> ServerError:
        where = f"The model server at {self.base_url}"
        if time.monotonic() - started >= limits.reply_s - 0.01:
            return ServerError(
                f"{where} did not finish its reply within {limits.reply_s:g} s ({pieces} pieces came): "
                "it may be overloaded or ignore the length limit. Try again, or raise RAG_LLM_REPLY_TIMEOUT."
            )
        what = "the first piece of its reply" if not pieces else "the next piece of its reply"
        return ServerError(
            f"{where} sent {what} not within {limits.silence_s:g} s"
            f"{' (the response began, but no text: keep-alives, empty or unfinished events)' if begun else ''}: "
            "it may be overloaded. "
            "Try again, or raise RAG_LLM_TIMEOUT."
        )

    def yes_probability(self, messages: list[Message]) -> float | None:
        """P(yes) / (P(yes) + P(no)) for the reply's first token, from the server's log-probabilities.

        None when the server returns none (not every server does; llama-cpp-python's needs
        `--logits_all true`, its default) or neither word is among the top alternatives.
        """
        import openai

        self.warm_up()
        try:
            response = self._client.chat.completions.create(
                model=self.model, messages=messages, max_tokens=1, temperature=0.0, seed=0,
                logprobs=True, top_logprobs=TOP_LOGPROBS, extra_body=self.extra_body,
            )
        except openai.BadRequestError as err:
            log.warning("The model server at %s gives no log-probabilities: %s", self.base_url, err.message)
            return None
        except openai.OpenAIError as err:
            raise self._error(err) from None
        choice = response.choices[0] if response.choices else None
        content = choice.logprobs.content if choice is not None and choice.logprobs is not None else None
        if not content:
            return None
        first = content[0]
        alternatives = [(t.token, t.logprob) for t in first.top_logprobs or []] + [(first.token, first.logprob)]
        return yes_share(alternatives)


@dataclass(frozen=True)
class Limits:
    """How much and how long one reply may take.

    `silence_s`: the longest wait for the first piece of text once the response began, and between
    pieces (keep-alives and empty events do not count); `reply_s`: the whole reply, from the request
    on; `pieces` and `chars`: what `max_tokens` tokens can be at most (a server that ignores it is
    cut there). A token is one piece, and rarely more than a few characters.

    >>> Limits.for_reply(120, 30, 300)
    Limits(silence_s=30, reply_s=300, pieces=136, chars=7680)
    """

    silence_s: float
    reply_s: float
    pieces: int
    chars: int

    @classmethod
    def for_reply(cls, max_tokens: int, silence_s: float, reply_s: float) -> Limits:
        return cls(silence_s, reply_s, max_tokens + PIECES_SLACK, CHARS_PER_TOKEN * max_tokens)


PIECES_SLACK = 16  # pieces beyond max_tokens: a role-only first event, a final empty one, split characters
CHARS_PER_TOKEN = 64  # generous: tokens of code or whitespace are long, but not this long
MAX_LINE_BYTES = 1_000_000  # one server-sent event line; a server that never ends a line is cut here


class _Reader:
    """Sends the request and reads the server-sent events in a helper thread, handing each piece of
    text to `out` as ("begun", None) once the response began, ("piece", text), then ("end", None)
    or ("error", ServerError). `stop` ends it: the connection is shut, so the server stops too."""

    def __init__(self, generator: OpenAIGenerator, messages: list[Message], max_tokens: int) -> None:
        self.generator = generator
        self.messages = messages
        self.max_tokens = max_tokens
        self.out: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._stopped = threading.Event()
        self._socket: Any = None
        self._thread = threading.Thread(target=self._run, name="model-reply", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        sock = self._socket
        if sock is not None:  # wake a read that waits for a server gone quiet
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _run(self) -> None:
        import openai

        g = self.generator
        try:
            with g._client.chat.completions.with_streaming_response.create(
                model=g.model, messages=self.messages, stream=True, temperature=0.0, seed=0,
                max_tokens=self.max_tokens, stop=g.stop or None, extra_body=g.extra_body,
            ) as response:
                stream = response.http_response.extensions.get("network_stream")
                with contextlib.suppress(Exception):
                    self._socket = stream.get_extra_info("socket") if stream is not None else None
                self.out.put(("begun", None))
                for text in _pieces(response.iter_bytes(), self._stopped):
                    self.out.put(("piece", text))
            self.out.put(("end", None))
        except openai.OpenAIError as err:
            self.out.put(("error", g._error(err)))
        except ServerError as err:
            self.out.put(("error", err))
        except Exception as err:  # the transport's own errors (httpx2 in openai 3.x) are not wrapped
            if not self._stopped.is_set():
                self.out.put(("error", ServerError(
                    f"The model server at {g.base_url} stopped in the middle of a reply ({err or type(err).__name__})"
                )))


def _pieces(chunks: Iterator[bytes], stopped: threading.Event) -> Iterator[str]:
    """The text of each server-sent event of a chat completion stream, until `[DONE]` or `stopped`.

    Comment lines (": keep-alive") and events without text are read and dropped.

    >>> list(_pieces(iter([b': ping\\n\\ndata: {"choices":[{"delta":{"content":"Hi"}}]}\\n', b"\\ndata: [DONE]\\n\\n"]),
    ...              threading.Event()))
    ['Hi']
    """
    buffer = b""
    data: list[bytes] = []
    for chunk in chunks:
        if stopped.is_set():
            return
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        if len(buffer) > MAX_LINE_BYTES:
            raise ServerError(f"The model server sent a line of more than {MAX_LINE_BYTES:,} bytes: not a reply.")
        for line in lines:
            line = line.rstrip(b"\r")
            if line.startswith(b"data:"):
                data.append(line[5:].removeprefix(b" "))
            elif not line and data:
                payload = b"\n".join(data)
                data = []
                if payload.strip() == b"[DONE]":
                    return
                text = _event_text(payload)
                if text:
                    yield text
            # other lines: comments (":"), "event:", "id:", "retry:" and blank lines between them


def _event_text(payload: bytes) -> str:
    """The text of one chat completion chunk; a ServerError for an error event."""
    try:
        event = json.loads(payload)
    except ValueError:
        raise ServerError(f"The model server sent an event that is not JSON: {payload[:80]!r}") from None
    if not isinstance(event, dict):
        return ""
    if isinstance(event.get("error"), dict | str):
        error = event["error"]
        message = error.get("message", error) if isinstance(error, dict) else error
        raise ServerError(f"The model server reported an error in the middle of a reply: {str(message)[:200]}")
    choices = event.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return ""
    delta = choices[0].get("delta")
    content = delta.get("content") if isinstance(delta, dict) else None
    return content if isinstance(content, str) else ""
