"""Choose the engines from the settings: where the model runs and where the index lives.

Unset `llm_url`: the GGUF model in this process (llama.cpp). Set: an OpenAI-compatible server.
The model name (`settings.model`) still names the answer checker's calibration, so set it to the
model the server runs. Unset `milvus_uri`: the FAISS files of `index_dir`. Set: Milvus.
This module only chooses; each engine lives in its own module and is imported only when chosen.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from rag import indexing, models, store
from rag.embedding import Embedder
from rag.filters import Filters
from rag.generation import Generator, LlamaGenerator
from rag.indexing import IndexReport, Progress
from rag.retrieval import Retriever
from rag.settings import Settings
from rag.types import Chunk, Document, Hit


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


# -- the index ---------------------------------------------------------------------------------
# Unset `milvus_uri`: the FAISS files in `index_dir` (store.py) and retrieval.Retriever. Set: the
# collections `<milvus_collection>_*` in Milvus (milvus_index.py), a Milvus Lite file or a server.
class IndexView(Protocol):
    """What the program reads of an index, whichever backend holds it."""

    manifest: dict[str, Any]

    @property
    def documents(self) -> Mapping[str, Document]: ...

    @property
    def chunks(self) -> Sequence[Chunk]: ...


class Searcher(Protocol):
    index: Any  # an IndexView
    idf: Callable[[str], float]

    def search(self, query: str, k: int, filters: Filters | None = None) -> list[Hit]: ...


def index_exists(settings: Settings) -> bool:
    if settings.milvus_uri:
        from rag import milvus_index

        return milvus_index.exists(settings.milvus_uri, settings.milvus_collection, settings.milvus_token)
    return store.exists(settings.index_dir)


def load_index(settings: Settings, embedder: Embedder, previous: IndexView | None = None) -> IndexView:
    """The index as it is now; the segments of `previous` (an earlier snapshot) are reused."""
    if settings.milvus_uri:
        from rag import milvus_index

        return milvus_index.load(settings.milvus_uri, settings.milvus_collection, embedder.name, embedder.dimension,
                                 settings.milvus_token)
    return store.load(settings.index_dir, embedder.name, embedder.dimension, reuse=_segments(previous))


def index_changed(index: IndexView) -> bool:
    """Whether another index was committed since `index` was loaded (by a `rag index` in another
    process, say). Milvus serves its current data to every query, so never for Milvus."""
    return isinstance(index, store.StoredIndex) and store.changed(index)


def update_index(settings: Settings, embedder: Embedder, progress: Progress | None = None,
                 previous: IndexView | None = None) -> tuple[IndexView, IndexReport]:
    """Bring the index up to date with the documents folder (only changed documents are embedded),
    waiting up to settings.index_wait for another writer; `previous`: the snapshot this process
    serves, whose open segments are reused."""
    if settings.milvus_uri:
        from rag import milvus_index

        return milvus_index.update_index(settings.documents_dir, settings.milvus_uri, settings.milvus_collection,
                                         embedder, settings.chunking, progress, settings.milvus_token)
    return indexing.update_index(settings.documents_dir, settings.index_dir, embedder, settings.chunking, progress,
                                 wait_s=settings.index_wait, reuse=_segments(previous))


def tidy(settings: Settings) -> None:
    """Delete the replaced segments no reader holds any more, if no writer is busy (then it will)."""
    if not settings.milvus_uri:
        store.tidy(settings.index_dir)


def _segments(index: IndexView | None) -> Mapping[str, store.Segment] | None:
    return index.segment_named if isinstance(index, store.StoredIndex) else None


def make_retriever(index: IndexView, embedder: Embedder, settings: Settings) -> Searcher:
    from rag.milvus_index import MilvusIndex
    from rag.milvus_retrieval import MilvusRetriever

    if isinstance(index, MilvusIndex):
        return MilvusRetriever(index, embedder, settings.retriever)
    assert isinstance(index, store.StoredIndex)
    return Retriever(index, embedder, settings.retriever)
