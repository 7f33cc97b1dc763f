"""Choose the engines from the settings: where the model runs and where the index lives.

Unset `llm_url`: the GGUF model in this process (llama.cpp). Set: an OpenAI-compatible server.
The model name (`settings.model`) still names the answer checker's calibration, so set it to the
model the server runs. The index engine is chosen by `rag.index.open_index` (the index folder, or
Milvus when `milvus_uri` is set); the functions below are shorthands for it.
This module only chooses; each engine lives in its own module and is imported only when chosen.
"""

from __future__ import annotations

from rag import models
from rag.embedding import Embedder
from rag.generation import Generator, LlamaGenerator
from rag.index import Index, IndexReport, Prepared, Progress, Searcher, Snapshot, open_index
from rag.settings import Settings

IndexView = Snapshot  # the name this module gave a snapshot before rag.index

__all__ = [
    "Index", "IndexView", "Searcher", "Snapshot", "index_exists", "load_index", "make_generator", "make_retriever",
    "open_index", "update_index",
]


def make_generator(settings: Settings) -> Generator:
    if settings.llm_url:
        from rag.openai_generator import OpenAIGenerator

        return OpenAIGenerator(
            settings.llm_url,
            model=settings.llm_model or "",
            api_key=settings.llm_api_key,
            context_size=settings.context_size,
            timeout_s=float(settings.llm_timeout),
            reply_timeout_s=float(settings.llm_reply_timeout),
            name=settings.model,
        )
    path = models.resolve(settings.model, settings.model_cache_dir, settings.model_sha256)
    return LlamaGenerator(path, settings.context_size, settings.threads, name=settings.model,
                          cpu=settings.llama_cpu)


# -- the index: shorthands for rag.index.open_index(settings, embedder) ----------------------------
def index_exists(settings: Settings) -> bool:
    return open_index(settings).exists()


def load_index(settings: Settings, embedder: Embedder, previous: Snapshot | None = None) -> Snapshot:
    """The index as it is now; the segments of `previous` (an earlier snapshot) are reused."""
    return open_index(settings, embedder).load(previous)


def update_index(settings: Settings, embedder: Embedder, progress: Progress | None = None,
                 previous: Snapshot | None = None, prepared: Prepared | None = None) -> tuple[Snapshot, IndexReport]:
    """Bring the index up to date with the documents folder (only changed documents are embedded,
    and not those in `prepared`), waiting up to settings.index_wait for another writer; `previous`:
    the snapshot this process serves, whose open segments are reused."""
    return open_index(settings, embedder).update(prepared, progress, previous)


def make_retriever(index: Snapshot, embedder: Embedder, settings: Settings) -> Searcher:
    return open_index(settings, embedder).searcher(index, embedder)
