"""Build the engines the settings name: the embedder, the models (answering, judging, repairing)
and the index. The one place that turns `Settings` into running parts; `Assistant` (pipeline.py),
the CLI and the scripts build through it, so a setting means the same everywhere.

- The embedder: MiniLM on the backend `embedder_backend` names (rag/models/embedding.py).
- The answering model: unset `llm_url`, the GGUF model `model` in this process (llama.cpp); set,
  an OpenAI-compatible server (the model name still names the checker's calibration, so set it to
  the model the server runs).
- The judging model (`judge_model`): "none" checks claims by their words only; "same" or the
  answering model's name shares the answering model; another name loads that GGUF model with a
  small context (judgements are short prompts, which leaves memory for the answering model).
- The repairing model (`repair_model`): "none" repairs nothing; "same" or the answering model's
  name is the answering model; the judge's name shares the judge's model; another name loads it.
- The index: the index folder, or Milvus when `milvus_uri` is set (rag.index.open_index).

Each engine's module is imported only when it is chosen (an OpenAI server needs no llama.cpp).
"""

from __future__ import annotations

from rag.index import Index, open_index
from rag.models import gguf
from rag.models.embedding import Embedder, MiniLMEmbedder
from rag.models.generation import Generator, LlamaGenerator
from rag.settings import Settings

__all__ = ["JUDGE_CONTEXT", "make_embedder", "make_generator", "make_index", "make_judge_model", "make_model",
           "make_repairer"]

JUDGE_CONTEXT = 1024  # tokens: the instructions and one claim with its evidence, or a repair prompt


def make_embedder(settings: Settings, batch_size: int = 32) -> Embedder:
    """The embedder the settings name (loaded at its first use, not here)."""
    return MiniLMEmbedder.from_settings(settings, batch_size)


def make_model(settings: Settings, name: str, context: int, sha256: str | None = None) -> LlamaGenerator:
    """The GGUF model `name` (a known model or a file) in this process, its file checked first."""
    path = gguf.resolve(name, settings.model_cache_dir, sha256)
    return LlamaGenerator(path, context, settings.threads, name=name, cpu=settings.llama_cpu)


def make_generator(settings: Settings) -> Generator:
    """The answering model: a model server when `llm_url` is set, else the GGUF model `model`."""
    if settings.llm_url:
        from rag.models.openai_generator import OpenAIGenerator

        return OpenAIGenerator(
            settings.llm_url,
            model=settings.llm_model or "",
            api_key=settings.llm_api_key,
            context_size=settings.context_size,
            timeout_s=float(settings.llm_timeout),
            reply_timeout_s=float(settings.llm_reply_timeout),
            name=settings.model,
        )
    return make_model(settings, settings.model, settings.context_size, settings.model_sha256)


def shares_answering_model(settings: Settings, name: str) -> bool:
    """Whether the judge or repair setting `name` means the answering model itself."""
    return name in ("same", settings.model)


def make_judge_model(settings: Settings, answering: Generator) -> Generator | None:
    """The model that judges claims: None for "none", `answering` when it is shared, else its own."""
    if settings.judge_model == "none":
        return None
    if shares_answering_model(settings, settings.judge_model):
        return answering
    return make_model(settings, settings.judge_model, JUDGE_CONTEXT)


def make_repairer(settings: Settings, answering: Generator, judge: Generator | None) -> Generator | None:
    """The model that answers a repair prompt: None for "none", the answering or the judge's model
    when the setting names one of them, else its own (with the answering model's context)."""
    if settings.repair_model == "none":
        return None
    if shares_answering_model(settings, settings.repair_model):
        return answering
    if settings.repair_model == settings.judge_model and judge is not None:
        return judge
    return make_model(settings, settings.repair_model, settings.context_size)


def make_index(settings: Settings, embedder: Embedder | None = None) -> Index:
    """The index engine: the index folder, or Milvus when `milvus_uri` is set."""
    return open_index(settings, embedder)
