"""Small, real, deterministic stand-ins for the heavy models (tests only).

`HashEmbedder` turns words into hashed bag-of-words vectors, so texts that share words are close;
`ScriptedGenerator` replies with scripted texts in order (or a function of the prompt) and records
every prompt it was given; as a judge it answers with a scripted probability: one value for every
judgement, a list used in order, or a function of the judge's messages; None, like a backend
without log-probabilities, when it has none.
Both implement the same protocols as the real classes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from rag.models.generation import Message
from rag.types import Chunk, Hit


class HashEmbedder:
    name = "test/hash-embedder"

    def __init__(self, dimension: int = 256, max_words: int = 200) -> None:
        self.dimension = dimension
        self.max_words = max_words
        self.calls: list[list[str]] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                bucket = int(hashlib.md5(word.encode()).hexdigest()[:8], 16) % self.dimension
                out[row, bucket] += 1.0
            norm = np.linalg.norm(out[row])
            out[row] = out[row] / norm if norm else out[row]
        return out

    def fits(self, text: str) -> bool:
        return len(text.split()) <= self.max_words

    @property
    def texts_embedded(self) -> int:
        return sum(len(c) for c in self.calls)


Reply = str | Callable[[list[Message]], str]


class ScriptedGenerator:
    name = "test/scripted"

    def __init__(
        self,
        replies: Sequence[Reply] = (),
        context_size: int = 2048,
        yes: float | Sequence[float | None] | Callable[[list[Message]], float | None] | None = None,
    ) -> None:
        self.replies = list(replies)
        self.context_size = context_size
        self.prompts: list[list[Message]] = []
        self.yes = yes if yes is None or isinstance(yes, float | int) or callable(yes) else list(yes)
        self.judged: list[list[Message]] = []

    def count_tokens(self, text: str) -> int:
        return len(re.findall(r"\w+|[^\w\s]", text))

    def stream(self, messages: list[Message], max_tokens: int) -> Iterator[str]:
        self.prompts.append(messages)
        reply = self.replies.pop(0) if self.replies else "The articles do not say."
        text = reply(messages) if callable(reply) else reply
        yield from re.findall(r"\S+\s*", text)

    def yes_probability(self, messages: list[Message]) -> float | None:
        self.judged.append(messages)
        if callable(self.yes):
            return self.yes(messages)
        if isinstance(self.yes, list):
            return self.yes.pop(0) if self.yes else None
        return self.yes


def paragraph_hits(doc: str, doc_id: str = "visit.txt", title: str = "State visit") -> list[Hit]:
    """Each paragraph of `doc` as a retrieved passage, numbered from 1, with its exact span."""
    hits, offset = [], 0
    for n, paragraph in enumerate(doc.split("\n\n"), start=1):
        start = doc.index(paragraph, offset)
        offset = start + len(paragraph)
        hits.append(Hit(Chunk(f"c{n}", doc_id, paragraph, start, offset), 1.0, n, title))
    return hits
