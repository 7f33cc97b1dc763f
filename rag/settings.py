"""One settings object for the whole library; CLI flags and RAG_* environment variables feed it.

>>> Settings.from_env({"RAG_K": "6", "RAG_MODEL": "smollm2-135m"}).k
6
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, ClassVar

from rag.chunking import ChunkingSettings

DEFAULT_MODEL = "qwen2.5-0.5b"


def _default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "local-rag" / "models"


@dataclass(frozen=True)
class Settings:
    documents_dir: Path = Path("documents")
    index_dir: Path = Path("index")
    model: str = DEFAULT_MODEL  # a name from rag.models.KNOWN_MODELS, or a path to a GGUF file
    model_sha256: str | None = None  # optional checksum for a model given by path
    model_cache_dir: Path = field(default_factory=_default_cache)
    context_size: int = 2048
    threads: int = field(default_factory=lambda: max(1, min(os.cpu_count() or 2, 8)))
    k: int = 5  # passages retrieved; the answer checker may cite or quote any of them
    read_k: int = 5  # of those, how many (the best first) the model reads: each one costs prompt time
    retriever: str = "hybrid"  # "hybrid", "dense" or "bm25"
    answer_tokens: int = 120  # room reserved for the answer: one to three sentences
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

    ENV: ClassVar[dict[str, str]] = {
        "documents_dir": "RAG_DOCUMENTS",
        "index_dir": "RAG_INDEX",
        "model": "RAG_MODEL",
        "model_sha256": "RAG_MODEL_SHA256",
        "model_cache_dir": "RAG_MODEL_CACHE",
        "context_size": "RAG_CONTEXT_SIZE",
        "threads": "RAG_THREADS",
        "k": "RAG_K",
        "read_k": "RAG_READ_K",
        "retriever": "RAG_RETRIEVER",
        "llm_url": "RAG_LLM_URL",
        "llm_model": "RAG_LLM_MODEL",
        "llm_api_key": "RAG_LLM_API_KEY",
        "llm_timeout": "RAG_LLM_TIMEOUT",
        "milvus_uri": "RAG_MILVUS_URI",
        "milvus_token": "RAG_MILVUS_TOKEN",
        "milvus_collection": "RAG_MILVUS_COLLECTION",
    }

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then RAG_* variables, then explicit overrides (None means "not given")."""
        environ = os.environ if environ is None else environ
        types = {f.name: f.type for f in fields(cls)}
        values: dict[str, Any] = {}
        for name, var in cls.ENV.items():
            if environ.get(var):
                values[name] = _convert(types[name], environ[var])
        values.update({k: v for k, v in overrides.items() if v is not None})
        return replace(cls(), **values)


def _convert(kind: Any, raw: str) -> Any:
    kind = str(kind)
    if "Path" in kind:
        return Path(raw).expanduser()
    if kind == "int":
        return int(raw)
    return raw
