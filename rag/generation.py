"""Messages in, a stream of text out: the one interface the pipeline needs from an LLM.

`Generator` is a protocol so tests can pass a scripted fake. `LlamaGenerator` is the real one:
a GGUF file run by llama-cpp-python on the CPU, greedy decoding, the model's own chat template.
llama_cpp is imported only when the model is first loaded. One model object is not safe to use
from two threads at once, so generation holds a lock for the whole stream.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": "..."}


class Generator(Protocol):
    name: str
    context_size: int

    def count_tokens(self, text: str) -> int: ...

    def stream(self, messages: list[Message], max_tokens: int) -> Iterator[str]: ...

    def yes_probability(self, messages: list[Message]) -> float | None:
        """P(yes) / (P(yes) + P(no)) over the first token of the reply to `messages` (case and
        leading-space variants summed), or None when the backend cannot tell."""
        ...


class LlamaGenerator:
    def __init__(self, model_path: Path, context_size: int = 2048, threads: int = 2, name: str = "") -> None:
        self.model_path = model_path
        self.context_size = context_size
        self.threads = threads
        self.name = name or model_path.name
        self._llm: Any = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        if self._llm is not None:
            return
        from llama_cpp import Llama

        log.info("Loading %s (context %d, %d threads)", self.model_path, self.context_size, self.threads)
        try:
            self._llm = Llama(
                model_path=str(self.model_path),
                n_ctx=self.context_size,
                n_threads=self.threads,
                n_threads_batch=self.threads,
                flash_attn=True,  # about 10% faster prompt processing on this CPU (scripts/bench.py)
                verbose=False,
            )
        except (ValueError, RuntimeError) as err:
            from rag.errors import ModelError

            raise ModelError(f"llama.cpp could not load {self.model_path}: {err}") from err

    def count_tokens(self, text: str) -> int:
        self.warm_up()
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def stream(self, messages: list[Message], max_tokens: int) -> Iterator[str]:
        self.warm_up()
        with self._lock:
            chunks = self._llm.create_chat_completion(
                messages=messages, stream=True, temperature=0.0, top_k=1, max_tokens=max_tokens, seed=0
            )
            for chunk in chunks:
                text = chunk["choices"][0]["delta"].get("content")
                if text:
                    yield text

    def yes_probability(self, messages: list[Message]) -> float | None:
        return None  # placeholder: the lead's version reads llama.cpp's logits
