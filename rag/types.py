"""The small frozen records that flow through the pipeline.

A `Document` is one article; a `Chunk` is an exact slice of it; a `Hit` is a chunk found for a
question; a `Citation` ties an `[n]` marker in an answer to an exact character span of a document;
a `Claim` is one sentence of an answer with what the checker decided about it; an `Answer` carries
its claims, the text rendered from them, its citations, the passages it was built from and how
long it took. Nothing here computes anything beyond trivial derived properties.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

# What a question asks for (rag/answers/shapes.py): one short answer, several sentences, or dated
# events in order (a timeline, or what is new in a window).
Shape = Literal["fact", "open", "timeline"]
# How an answer was made (rag/answers/answering.py), from the most to the least of the model's own words:
# "written" the model's reply, each kept claim checked against its sentence; "repaired" the model's
# second reply, to a short prompt holding only the best sentences, checked the same way; "quoted" a
# short span of a passage sentence; "extracted" an open question answered by the articles' own
# sentences; "refused" "The articles do not say.".
AnswerMode = Literal["written", "repaired", "quoted", "extracted", "refused"]
OWN_WORDS: frozenset[AnswerMode] = frozenset({"written", "repaired"})
HOW_MADE: dict[AnswerMode, str] = {  # one line for a reader
    "written": "Written by the model; each sentence checked against the sentence it cites.",
    "repaired": "The model's first reply did not pass the checks; it answered again from the best sentences, "
                "and that was checked.",
    "quoted": "Quoted from the article: the model's replies did not pass the checks.",
    "extracted": "The articles' own sentences that answer it best.",
    "refused": "Not found in the articles.",
}
# A claim of an answer: "supported" (its sentence says it), "quoted" (the words of a passage, cited),
# "removed" (kept out of the answer; `Claim.reason` says why).
ClaimStatus = Literal["supported", "quoted", "removed"]
# What the pipeline is doing while an answer is on its way (the web chat shows it).
Stage = Literal["rewriting", "searching", "writing", "checking", "repairing", "quoting"]


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
    # The other articles that carry the same story (near-duplicate copies, rag/index/stories.py), by id;
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

    `status` (ClaimStatus) is "supported" (the cited sentences say it), "quoted" (passage words quoted
    verbatim) or "removed" (kept out of the answer; `reason` says why). `markers` are the `Citation.marker`
    numbers of the answer's citations that support it; a removed claim has none. `support` is the
    judge's probability that its evidence says it (None when no judge was asked).
    """

    text: str
    status: ClaimStatus
    markers: tuple[int, ...] = ()
    reason: str = ""
    support: float | None = None

    @property
    def kept(self) -> bool:
        return self.status != "removed"


@dataclass(frozen=True)
class Timings:
    retrieval_s: float = 0.0
    # From the question arriving to the first token of the final answer: text that stays (a kept
    # claim, a repair, a quote or the refusal), not a draft that was still being checked.
    first_token_s: float = 0.0
    total_s: float = 0.0
    prompt_tokens: int = 0
    generated_tokens: int = 0
    check_s: float = 0.0  # from the last reply's last token to the final answer: checking (part of total_s)
    draft_token_s: float = 0.0  # to the first token of the model's draft (0: no draft was written)

    @property
    def generation_s(self) -> float:
        """The model's writing: from its draft's first token to its last reply's last token (a
        repair's prompt included). The final answer's first token comes after checking, so it
        cannot mark the start."""
        if not self.draft_token_s:
            return 0.0
        return max(0.0, self.total_s - self.check_s - self.draft_token_s)

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
    mode: AnswerMode = "written"
    raw_text: str = ""  # the model's reply before checking (its draft)
    repair_text: str = ""  # its second reply, to the repair prompt ("" when it was not asked again)
    evidence_score: float = 0.0  # how well the best passage sentence matches the question, 0..1
    check_notes: tuple[str, ...] = ()  # how the answer was made, and why a reply was not kept
    shape: Shape = "fact"  # "fact" (one short answer), "open" (a summary, main points, a list, why …), "timeline"

    @property
    def removed(self) -> tuple[str, ...]:
        """Sentences of the model's reply that the checker kept out of the answer."""
        return tuple(c.text for c in self.claims if not c.kept)


@dataclass(frozen=True)
class Delta:
    """A piece of the final answer's text, as it streams: text that stays (a checked claim, a repair,
    a quote or the refusal), never taken back."""

    text: str


@dataclass(frozen=True)
class Draft:
    """A piece of the model's reply while it is written, before it is checked: not the answer. It
    may be kept (then it comes again as a `Delta`), repaired or struck. `restart`: a new reply
    begins (the model answers again); the draft so far was not kept."""

    text: str
    restart: bool = False


@dataclass(frozen=True)
class Status:
    """What the pipeline is doing now, for a reader waiting on an answer."""

    stage: Stage
