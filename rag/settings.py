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
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, ClassVar

from rag.chunking import ChunkingSettings
from rag.errors import SettingsError

DEFAULT_MODEL = "qwen2.5-0.5b"
RETRIEVERS = ("hybrid", "dense", "bm25")
OPEN_ANSWERS = ("rewrite", "generate", "extract")
ANSWER_FROM = ("passages", "sentences")  # rag.retrieval.MODES, without importing it here
EMBEDDER_BACKENDS = ("torch", "onnx", "onnx-int8")  # rag.embedding.BACKENDS, without importing it here
# (lowest, highest) of each whole-number setting. A context under 1024 tokens cannot hold the
# instructions, a question and the answer's room; above 32768 no supported model was trained.
RANGES = {
    "context_size": (1024, 32768),
    "threads": (1, 256),
    "k": (1, 50),
    "read_k": (1, 50),
    "answer_tokens": (16, 4096),
    "max_question_tokens": (8, 4096),
    "feeds_every": (0, 1440),
    "feed_limit": (1, 1000),
}


def _default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "local-rag" / "models"


@dataclass(frozen=True)
class Settings:
    documents_dir: Path = Path("documents")
    index_dir: Path = Path("index")
    model: str = DEFAULT_MODEL  # a name from rag.models.KNOWN_MODELS, or a path to a GGUF file
    model_sha256: str | None = None  # optional checksum for a model given by path
    # The model that judges each claim of an answer against its evidence (rag/judging.py): a known
    # name or a GGUF path; "same" has the answering model judge its own replies (weaker, no second
    # model in memory); "none" checks claims by their words only.
    judge_model: str = "qwen2.5-1.5b"
    # The model that answers again, from the best few sentences, when the first reply fails its checks
    # (rag/answering.py): a known name or a GGUF path; the judge's model is shared when they are the
    # same; "same" is the answering model.
    repair_model: str = "qwen2.5-1.5b"
    # What the model reads first for a fact question: "passages" (the best read_k passages, a failed
    # reply repaired from the best sentences) or "sentences" (only the best sentences).
    answer_from: str = "passages"
    model_cache_dir: Path = field(default_factory=_default_cache)
    # llama.cpp's CPU variant (rag/llama_build.py): "auto" proves the best one for this CPU works and
    # uses it; a name ("x64", "haswell", "icelake" …) forces that one. x64 runs on any x86-64 CPU.
    llama_cpu: str = "auto"
    context_size: int = 2048
    threads: int = field(default_factory=lambda: max(1, min(os.cpu_count() or 2, 8)))
    k: int = 5  # passages retrieved; the answer checker may cite or quote any of them
    open_k: int = 8  # passages retrieved for an open question answered by extraction (no prompt to fill)
    read_k: int = 3  # of those, how many (the best first) the model reads: each one costs prompt time
    retriever: str = "hybrid"  # "hybrid", "dense" or "bm25"
    # How MiniLM runs (rag/embedding.py): "torch", or its ONNX export, "onnx" (same vectors, faster) or
    # "onnx-int8" (faster still, a little further; docs/history/benchmarks.md). Without onnxruntime: torch.
    embedder_backend: str = "onnx"
    answer_tokens: int = 120  # room reserved for the answer to a fact question: one to three sentences
    open_answer_tokens: int = 220  # room for an open question's answer (a summary, the main points …)
    # How open questions are answered (rag/answering.py): "rewrite" has the model say the passages' best
    # sentences again, shorter, each checked against its own; "generate" has it write from the passages,
    # each claim judged; both fall back to those sentences, which "extract" gives at once.
    open_answers: str = "rewrite"
    max_question_tokens: int = 256
    chunking: ChunkingSettings = field(default_factory=ChunkingSettings)
    # Beyond one machine (docs/deployment.md). Unset: the built-in llama.cpp model, the FAISS files.
    llm_url: str | None = None  # an OpenAI-compatible server, e.g. "http://127.0.0.1:8000/v1"
    llm_model: str | None = None  # the model name the server expects; unset: the first it lists
    llm_api_key: str | None = field(default=None, repr=False)
    llm_timeout: int = 120  # seconds to wait for the server, per request and between streamed pieces
    milvus_uri: str | None = None  # a Milvus Lite file ("./milvus.db") or a server ("http://host:19530")
    milvus_token: str | None = field(default=None, repr=False)  # "user:password" or an API key
    milvus_collection: str = "rag"  # prefix of the collections this index uses
    # Feeds (rag/feeds.py): `rag serve` refreshes them every this many minutes (0: never, only
    # `rag feeds update`); a feed saves at most `feed_limit` new entries per refresh; feeds served
    # from these hosts (comma-separated) may be on this machine or a private network.
    feeds_every: int = 30
    feed_limit: int = 50
    feed_allow_hosts: str = ""

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
        "milvus_uri": "RAG_MILVUS_URI",
        "milvus_token": "RAG_MILVUS_TOKEN",
        "milvus_collection": "RAG_MILVUS_COLLECTION",
        "feeds_every": "RAG_FEEDS_EVERY",
        "feed_limit": "RAG_FEED_LIMIT",
        "feed_allow_hosts": "RAG_FEED_ALLOW_HOSTS",
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
        for name in ("documents_dir", "index_dir", "model_cache_dir"):
            path = getattr(self, name)
            if path.exists() and not path.is_dir():
                raise SettingsError(f"{self.named(name)} is {str(path)!r}, which is a file: it must be a folder.")

    @property
    def feed_hosts(self) -> tuple[str, ...]:
        """The hosts of `feed_allow_hosts`, lower-cased."""
        return tuple(h.strip().lower() for h in self.feed_allow_hosts.split(",") if h.strip())

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
    return raw
