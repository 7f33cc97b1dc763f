"""One settings object for the whole library; CLI flags and RAG_* environment variables feed it.

Every value is checked when the object is made: a bad one is a `SettingsError` naming the setting,
its variable and what it accepts, never a traceback from the first place that uses it.

>>> Settings.from_env({"RAG_K": "6", "RAG_MODEL": "smollm2-135m"}).k
6
>>> Settings.from_env({"RAG_K": "abc"})
Traceback (most recent call last):
rag.errors.SettingsError: RAG_K (k) is 'abc': it takes a whole number from 1 to 50.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, ClassVar

from rag.errors import SettingsError
from rag.ingest.chunking import ChunkingSettings

DEFAULT_MODEL = "qwen2.5-0.5b"
RETRIEVERS = ("hybrid", "dense", "bm25")  # rag.index.local.retrieval.MODES, without importing it here
OPEN_ANSWERS = ("rewrite", "generate", "extract")
ANSWER_FROM = ("passages", "sentences")
EMBEDDER_BACKENDS = ("torch", "onnx", "onnx-int8")  # rag.models.embedding.BACKENDS, without importing it here
# (lowest, highest) of each whole-number setting. A context under 1024 tokens cannot hold the
# instructions, a question and the answer's room; above 32768 no supported model was trained.
RANGES = {
    "context_size": (1024, 32768),
    "threads": (1, 256),
    "k": (1, 50),
    "read_k": (1, 50),
    "open_k": (1, 50),
    "answer_tokens": (16, 4096),
    "open_answer_tokens": (16, 4096),
    "max_question_tokens": (8, 4096),
    "feeds_every": (0, 1440),
    "feed_limit": (1, 1000),
    # Seconds. A model server gets at least one second; an hour is more than any reply should take.
    "llm_timeout": (1, 3600),
    "llm_reply_timeout": (1, 3600),
    # Seconds an index writer waits for another one to finish; 0: give up at once.
    "index_wait": (0, 86_400),
}


def _default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "local-rag" / "models"


@dataclass(frozen=True)
class Settings:
    documents_dir: Path = Path("documents")
    index_dir: Path = Path("index")
    model: str = DEFAULT_MODEL  # a name from rag.models.gguf.KNOWN_MODELS, or a path to a GGUF file
    model_sha256: str | None = None  # optional checksum for a model given by path
    # The model that judges each claim of an answer against its evidence (rag/answers/judging.py): a known
    # name or a GGUF path; "same" has the answering model judge its own replies (weaker, no second
    # model in memory); "none" checks claims by their words only.
    judge_model: str = "qwen2.5-1.5b"
    # The model that answers again, from the best few sentences, when the first reply fails its checks
    # (rag/answers/answering.py): a known name or a GGUF path; the judge's model is shared when they are the
    # same; "same" is the answering model.
    repair_model: str = "qwen2.5-1.5b"
    # What the model reads first for a fact question: "passages" (the best read_k passages, a failed
    # reply repaired from the best sentences) or "sentences" (only the best sentences).
    answer_from: str = "passages"
    model_cache_dir: Path = field(default_factory=_default_cache)
    # llama.cpp's CPU variant (rag/models/llama_build.py): "auto" proves the best one for this CPU works and
    # uses it; a name ("x64", "haswell", "icelake" …) forces that one. x64 runs on any x86-64 CPU.
    llama_cpu: str = "auto"
    context_size: int = 2048
    threads: int = field(default_factory=lambda: max(1, min(os.cpu_count() or 2, 8)))
    k: int = 5  # passages retrieved; the answer checker may cite or quote any of them
    open_k: int = 8  # passages retrieved for an open question answered by extraction (no prompt to fill)
    read_k: int = 3  # of those, how many (the best first) the model reads: each one costs prompt time
    retriever: str = "hybrid"  # "hybrid", "dense" or "bm25"
    # How MiniLM runs (rag/models/embedding.py): "torch", or its ONNX export, "onnx" (same vectors, faster) or
    # "onnx-int8" (faster still, a little further; docs/history/benchmarks.md). Without onnxruntime: torch.
    embedder_backend: str = "onnx"
    answer_tokens: int = 120  # room reserved for the answer to a fact question: one to three sentences
    open_answer_tokens: int = 220  # room for an open question's answer (a summary, the main points …)
    # How open questions are answered (rag/answers/answering.py): "rewrite" has the model say the passages' best
    # sentences again, shorter, each checked against its own; "generate" has it write from the passages,
    # each claim judged; both fall back to those sentences, which "extract" gives at once.
    open_answers: str = "rewrite"
    max_question_tokens: int = 256
    chunking: ChunkingSettings = field(default_factory=ChunkingSettings)
    # Beyond one machine (docs/deployment.md). Unset: the built-in llama.cpp model, the FAISS files.
    llm_url: str | None = None  # an OpenAI-compatible server, e.g. "http://127.0.0.1:8000/v1"
    llm_model: str | None = None  # the model name the server expects; unset: the first it lists
    llm_api_key: str | None = field(default=None, repr=False)
    # Seconds to wait for the server: to connect, for each response, and for the first piece of a reply
    # (keep-alive comments do not count as a piece).
    llm_timeout: int = 120
    llm_reply_timeout: int = 300  # seconds a whole reply may take, first piece to last, however it trickles
    milvus_uri: str | None = None  # a Milvus Lite file ("./milvus.db") or a server ("http://host:19530")
    milvus_token: str | None = field(default=None, repr=False)  # "user:password" or an API key
    milvus_collection: str = "rag"  # prefix of the collections this index uses
    # Feeds (rag/ingest/feeds.py): `rag serve` refreshes them every this many minutes (0: never, only
    # `rag feeds update`); a feed saves at most `feed_limit` new entries per refresh. A feed on
    # this machine or a private network needs its host in `fetch_allow_hosts`, as a page does.
    feeds_every: int = 30
    feed_limit: int = 50
    # How long `rag index`, `rag add` or an upload waits for another process writing the same index
    # (rag/index/local/store.py's writer lock) before giving up with a message naming it.
    index_wait: int = 120
    # Hosts `rag add`, the Articles tab and feeds may fetch from although they are on this machine or a
    # private network (rag/ingest/fetching.py refuses those by default): names or IP addresses as written
    # in the address, e.g. ("news.lan", "10.0.0.5").
    fetch_allow_hosts: tuple[str, ...] = ()

    ENV: ClassVar[dict[str, str]] = {
        "documents_dir": "RAG_DOCUMENTS",
        "index_dir": "RAG_INDEX",
        "model": "RAG_MODEL",
        "model_sha256": "RAG_MODEL_SHA256",
        "judge_model": "RAG_JUDGE_MODEL",
        "repair_model": "RAG_REPAIR_MODEL",
        "answer_from": "RAG_ANSWER_FROM",
        "open_answers": "RAG_OPEN_ANSWERS",
        "model_cache_dir": "RAG_MODEL_CACHE",
        "llama_cpu": "RAG_LLAMA_CPU",
        "context_size": "RAG_CONTEXT_SIZE",
        "threads": "RAG_THREADS",
        "k": "RAG_K",
        "read_k": "RAG_READ_K",
        "retriever": "RAG_RETRIEVER",
        "embedder_backend": "RAG_EMBEDDER_BACKEND",
        "llm_url": "RAG_LLM_URL",
        "llm_model": "RAG_LLM_MODEL",
        "llm_api_key": "RAG_LLM_API_KEY",
        "llm_timeout": "RAG_LLM_TIMEOUT",
        "llm_reply_timeout": "RAG_LLM_REPLY_TIMEOUT",
        "milvus_uri": "RAG_MILVUS_URI",
        "milvus_token": "RAG_MILVUS_TOKEN",
        "milvus_collection": "RAG_MILVUS_COLLECTION",
        "feeds_every": "RAG_FEEDS_EVERY",
        "feed_limit": "RAG_FEED_LIMIT",
        "index_wait": "RAG_INDEX_WAIT",
        "fetch_allow_hosts": "RAG_FETCH_ALLOW_HOSTS",
    }

    def __post_init__(self) -> None:
        for name, (low, high) in RANGES.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise SettingsError(f"{self.named(name)} is {value!r}: it takes a whole number from {low} to {high}.")
        if self.answer_from not in ANSWER_FROM:
            choices = ", ".join(ANSWER_FROM)
            raise SettingsError(f"{self.named('answer_from')} is {self.answer_from!r}: it takes {choices}.")
        if self.open_answers not in OPEN_ANSWERS:
            choices = ", ".join(OPEN_ANSWERS)
            raise SettingsError(f"{self.named('open_answers')} is {self.open_answers!r}: it takes {choices}.")
        if self.retriever not in RETRIEVERS:
            raise SettingsError(f"{self.named('retriever')} is {self.retriever!r}: it takes {', '.join(RETRIEVERS)}.")
        if self.embedder_backend not in EMBEDDER_BACKENDS:
            choices = ", ".join(EMBEDDER_BACKENDS)
            raise SettingsError(f"{self.named('embedder_backend')} is {self.embedder_backend!r}: it takes {choices}.")
        if self.llm_url is not None and not re.fullmatch(r"https?://[^\s/]+(/\S*)?", self.llm_url):
            raise SettingsError(
                f"{self.named('llm_url')} is {self.llm_url!r}: it takes the server's address, "
                "e.g. http://127.0.0.1:8000/v1."
            )
        if self.model_sha256 is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", self.model_sha256):
            sha = self.model_sha256
            raise SettingsError(f"{self.named('model_sha256')} is {sha!r}: it takes 64 hexadecimal digits.")
        if not isinstance(self.fetch_allow_hosts, tuple) or not all(
            isinstance(h, str) and re.fullmatch(r"[\w.:\[\]-]+", h) for h in self.fetch_allow_hosts
        ):
            raise SettingsError(
                f"{self.named('fetch_allow_hosts')} is {self.fetch_allow_hosts!r}: it takes host names or IP "
                "addresses separated by commas, e.g. news.lan,10.0.0.5."
            )
        for name in ("documents_dir", "index_dir", "model_cache_dir"):
            path = getattr(self, name)
            if path.exists() and not path.is_dir():
                raise SettingsError(f"{self.named(name)} is {str(path)!r}, which is a file: it must be a folder.")

    @property
    def feed_hosts(self) -> tuple[str, ...]:
        """The hosts feeds may be fetched from although private: `fetch_allow_hosts`, lower-cased."""
        return tuple(h.lower() for h in self.fetch_allow_hosts)

    @classmethod
    def named(cls, name: str) -> str:
        """How to name a setting in a message: its environment variable and its field."""
        var = cls.ENV.get(name)
        return f"{var} ({name})" if var else name

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then RAG_* variables, then explicit overrides (None means "not given")."""
        environ = os.environ if environ is None else environ
        types = {f.name: f.type for f in fields(cls)}
        values: dict[str, Any] = {}
        for name, var in cls.ENV.items():
            if environ.get(var):
                values[name] = _convert(name, types[name], environ[var])
        values.update({k: v for k, v in overrides.items() if v is not None})
        return replace(cls(), **values)


def _convert(name: str, kind: Any, raw: str) -> Any:
    kind = str(kind)
    if "Path" in kind:
        return Path(raw).expanduser()
    if kind == "int":
        try:
            return int(raw)
        except ValueError:
            low, high = RANGES[name]
            raise SettingsError(
                f"{Settings.named(name)} is {raw!r}: it takes a whole number from {low} to {high}."
            ) from None
    if kind.startswith("tuple"):
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    return raw
