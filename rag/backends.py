"""Choose the engines from the settings: where the model runs and where the index lives.

Unset `llm_url`: the GGUF model in this process (llama.cpp). Set: an OpenAI-compatible server.
The model name (`settings.model`) still names the answer checker's calibration, so set it to the
model the server runs. This module only chooses; each engine lives in its own module.
"""

from __future__ import annotations

from rag import models
from rag.generation import Generator, LlamaGenerator
from rag.settings import Settings


def make_generator(settings: Settings) -> Generator:
    if settings.llm_url:
        from rag.openai_generator import OpenAIGenerator

        return OpenAIGenerator(
            settings.llm_url,
            model=settings.llm_model or "",
            api_key=settings.llm_api_key,
            context_size=settings.context_size,
            timeout_s=float(settings.llm_timeout),
            name=settings.model,
        )
    path = models.resolve(settings.model, settings.model_cache_dir, settings.model_sha256)
    return LlamaGenerator(path, settings.context_size, settings.threads, name=settings.model)
