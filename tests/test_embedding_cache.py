"""Remembered vectors: the same vectors as the embedder, each text embedded once."""

from __future__ import annotations

import numpy as np

from rag.models.embedding import RememberedVectors
from tests.fakes import HashEmbedder


class CountingEmbedder(HashEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.embedded: list[str] = []

    def embed(self, texts):  # type: ignore[no-untyped-def]
        self.embedded.extend(texts)
        return super().embed(texts)


def test_each_text_is_embedded_once_and_vectors_match_the_embedder() -> None:
    inner = CountingEmbedder()
    remembered = RememberedVectors(inner)
    first = remembered.embed(["a question", "a sentence", "a sentence"])
    second = remembered.embed(["another question", "a sentence"])
    assert inner.embedded == ["a question", "a sentence", "another question"]
    assert np.allclose(first, HashEmbedder().embed(["a question", "a sentence", "a sentence"]))
    assert np.allclose(second[1], first[1])


def test_the_oldest_texts_are_forgotten_beyond_the_limit() -> None:
    inner = CountingEmbedder()
    remembered = RememberedVectors(inner, limit=2)
    remembered.embed(["one", "two"])
    remembered.embed(["three"])
    remembered.embed(["two", "one"])
    assert inner.embedded == ["one", "two", "three", "one"]
    many = remembered.embed(["w", "x", "y", "z"])  # more new texts than the limit
    assert many.shape == (4, HashEmbedder().dimension)
