"""Messages in, a stream of text out: the one interface the pipeline needs from an LLM; and, for
the answer checker, the probability that the reply to some messages begins with "yes".

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

import numpy as np

log = logging.getLogger(__name__)

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": "..."}


class Generator(Protocol):
    name: str
    context_size: int

    def count_tokens(self, text: str) -> int: ...

    def stream(self, messages: list[Message], max_tokens: int) -> Iterator[str]: ...

    def yes_probability(self, messages: list[Message]) -> float | None:
        """P("yes") / (P("yes") + P("no")) for the first token of the reply; None if it cannot tell."""
        ...


class LlamaGenerator:
    def __init__(
        self,
        model_path: Path,
        context_size: int = 2048,
        threads: int = 2,
        name: str = "",
        *,
        cpu: str = "auto",
    ) -> None:
        self.model_path = model_path
        self.cpu = cpu  # llama.cpp's CPU variant (rag/models/llama_build.py): "auto" or a name such as "x64"
        self.context_size = context_size
        self.threads = threads
        self.name = name or model_path.name
        self._llm: Any = None
        self._lock = threading.Lock()
        self._formatter: Any = None
        self._yes_no: tuple[list[int], list[int]] | None = None

    def warm_up(self) -> None:
        if self._llm is not None:
            return
        from rag.models import llama_build

        # Tried first in a child process (once per build, CPU and model): a native crash there is a
        # message naming the model, the build and what to do, not this process dying mid-question.
        llama_build.prepare(self.model_path, self.cpu, self.threads)
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
        """Read the model's next-token distribution after the chat-formatted messages: the summed
        probability of the "yes" tokens against that of the "no" tokens. The prompt goes through
        llama.cpp's generate(), so a beginning it has already read (the instructions) is reused."""
        self.warm_up()
        with self._lock:
            tokens = self._chat_tokens(messages)
            steps = self._llm.generate(tokens, top_k=1, temp=0.0, reset=True)
            next(steps)  # evaluates the prompt (reusing the cached prefix) and samples one token
            steps.close()
            import llama_cpp

            pointer = llama_cpp.llama_get_logits_ith(self._llm.ctx, -1)
            logits = np.ctypeslib.as_array(pointer, shape=(self._llm.n_vocab(),)).astype(np.float64)
        yes_ids, no_ids = self._answer_tokens()
        top = logits.max()
        yes = float(np.exp(logits[yes_ids] - top).sum())
        no = float(np.exp(logits[no_ids] - top).sum())
        return yes / (yes + no) if yes + no > 0 else None

    def _chat_tokens(self, messages: list[Message]) -> list[int]:
        if self._formatter is None:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            llm = self._llm
            template = llm.metadata.get("tokenizer.chat_template")
            if not template:
                raise RuntimeError(f"{self.model_path} has no chat template")
            eos = llm._model.token_get_text(llm.token_eos())
            bos = llm._model.token_get_text(llm.token_bos()) if llm.token_bos() >= 0 else ""
            self._formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)
        prompt = self._formatter(messages=messages).prompt
        return list(self._llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True))

    def _answer_tokens(self) -> tuple[list[int], list[int]]:
        """The first token of each spelling of "yes" and of "no" ("Yes", " yes", "YES" …)."""
        if self._yes_no is None:
            def first(words: list[str]) -> list[int]:
                ids = {self._llm.tokenize(w.encode(), add_bos=False, special=False)[0] for w in words}
                return sorted(ids)

            spellings = ["{}", " {}", "{}.", "**{}"]
            yes = first([s.format(w) for s in spellings for w in ("yes", "Yes", "YES")])
            no = first([s.format(w) for s in spellings for w in ("no", "No", "NO")])
            self._yes_no = ([i for i in yes if i not in no], [i for i in no if i not in yes])
        return self._yes_no
