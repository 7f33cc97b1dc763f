"""The small frozen records that flow through the pipeline.

A `Document` is one article; a `Chunk` is an exact slice of it; a `Hit` is a chunk found for a
question; a `Citation` ties an `[n]` marker in an answer to an exact character span of a document;
a `Claim` is one sentence of an answer with what the checker decided about it; an `Answer` carries
its claims, the text rendered from them, its citations, the passages it was built from and how
long it took. Nothing here computes anything beyond trivial derived properties.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Document:
    id: str  # path relative to the documents folder, e.g. "tokayev-state-visit-to-japan.txt"
    title: str
    text: str  # normalised text; every offset in the system points into this string
    hash: str  # sha256 of `text`
    # The article as news; None when unknown. `published` is an ISO 8601 date or date-time
    # ("2024-05-01" or "2024-05-01T09:30:00+00:00"), `source` the outlet or site ("BBC News").
    published: str | None = None
    source: str | None = None
    author: str | None = None
    url: str | None = None
    # When nothing says when it was published: the file's modification time (ISO 8601), kept apart
    # from `published` because it is when the file was added or copied, not when the news appeared.
    added: str | None = None


@dataclass(frozen=True)
class Chunk:
    id: str
    doc_id: str
    text: str
    start: int
    end: int  # invariant: document.text[start:end] == text


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float  # higher is better; the meaning depends on the retriever that produced it
    rank: int  # 1-based position in the result list
    title: str = ""
    dense: float = 0.0  # cosine similarity of question and chunk
    lexical: float = 0.0  # BM25 score of the chunk for the question
    published: str | None = None  # the article's, as in Document
    source: str | None = None
    url: str | None = None
    # The other articles that carry the same story (near-duplicate copies, rag/stories.py), by id;
    # retrieval returns one passage per story and names the other copies here.
    also_in: tuple[str, ...] = ()


@dataclass(frozen=True)
class Citation:
    marker: int  # the n of "[n]" in the answer text, 1-based
    doc_id: str
    title: str
    start: int
    end: int
    quote: str  # document.text[start:end]
    chunk_id: str = ""
    published: str | None = None  # the cited article's, as in Document (None when unknown)
    source: str | None = None
    url: str | None = None
    also_in: tuple[str, ...] = ()  # the other articles carrying the same story, as in Hit


@dataclass(frozen=True)
class Claim:
    """One sentence of an answer and the checker's decision about it.

    `status` is "supported" (the cited sentences say it), "quoted" (a passage sentence quoted
    verbatim in place of a reply that failed) or "removed" (kept out of the answer; `reason` says
    why: "unsupported", "contradicted", "off the question" …). `markers` are the `Citation.marker`
    numbers of the answer's citations that support it; a removed claim has none. `support` is the
    judge's probability that its evidence says it (None when no judge was asked).
    """

    text: str
    status: str
    markers: tuple[int, ...] = ()
    reason: str = ""
    support: float | None = None

    @property
    def kept(self) -> bool:
        return self.status != "removed"


@dataclass(frozen=True)
class Timings:
    retrieval_s: float = 0.0
    first_token_s: float = 0.0  # from the question arriving to the first generated token
    total_s: float = 0.0
    prompt_tokens: int = 0
    generated_tokens: int = 0
    check_s: float = 0.0  # checking the reply against the passages, after the last token (part of total_s)

    @property
    def generation_s(self) -> float:
        return max(0.0, self.total_s - self.first_token_s - self.check_s)

    @property
    def tokens_per_s(self) -> float:
        return self.generated_tokens / self.generation_s if self.generation_s > 0 else 0.0


@dataclass(frozen=True)
class Answer:
    question: str
    text: str  # rendered from the kept claims, with inline [n] markers that match `citations`
    citations: tuple[Citation, ...] = ()
    passages: tuple[Hit, ...] = ()
    abstained: bool = False
    timings: Timings = field(default_factory=Timings)
    claims: tuple[Claim, ...] = ()  # every sentence of the reply, kept or removed, in order
    standalone_question: str = ""  # the question actually searched for (after follow-up rewriting)
    warnings: tuple[str, ...] = ()
    model: str = ""
    mode: str = "generated"  # "generated", "quoted" (a passage quoted instead of a failed reply), "refused"
    raw_text: str = ""  # the model's reply before checking
    evidence_score: float = 0.0  # how well the best passage sentence matches the question, 0..1
    check_notes: tuple[str, ...] = ()  # why the checker quoted or refused instead of keeping the reply
    shape: str = "fact"  # "fact" (one short answer) or "open" (a summary, main points, a list, why …)

    @property
    def removed(self) -> tuple[str, ...]:
        """Sentences of the model's reply that the checker kept out of the answer."""
        return tuple(c.text for c in self.claims if not c.kept)


@dataclass(frozen=True)
class Delta:
    """A piece of generated text, as it streams."""

    text: str
