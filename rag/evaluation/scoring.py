"""Score one case's `Answer` against the question file, and summarise a run into headline numbers.

`score_case` says for one case whether the answer is right, where the supporting passage was
retrieved, whether each citation supports its sentence and, in words, what went wrong.
`summarise` turns the case results into the headline metrics; `check_floors` compares them with the
`--min-*` thresholds. All pure: the rules themselves live in metrics.py.

Deliberately not here: running the assistant (runner.py) or writing files (report.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from rag.evaluation import metrics
from rag.evaluation.dataset import Case
from rag.evaluation.metrics import Span
from rag.types import OWN_WORDS, Answer, Citation, Timings

# What a reader got, one per case. Answerable: "written" (right and direct, in the model's words),
# "quoted" (right and direct, a quoted span), "long" (holds the answer, but in more than a direct
# answer's words: a pasted passage), "wrong", "refused". Unanswerable: "refused" (right) or "answered".
Outcome = Literal["written", "quoted", "long", "wrong", "refused", "answered", "error"]
RIGHT: frozenset[Outcome] = frozenset({"written", "quoted"})


@dataclass(frozen=True)
class CitationCheck:
    marker: int
    doc_id: str
    start: int
    end: int
    sentence: str  # the answer sentence the marker is attached to ("" if the marker is not in the text)
    supported: bool | None  # None: not judged (the case is unanswerable)
    reason: str = ""  # why it is not supported
    cites_support: bool = False  # its span overlaps a supporting quote


@dataclass(frozen=True)
class CaseResult:
    """The judgement of one case. The answer itself is `reply`, the `Answer` the pipeline made, not
    copied: `answer`, `abstained`, `mode`, `raw`, `timings` … read it."""

    id: str
    kind: str
    question: str
    answerable: bool
    reply: Answer | None = None  # None when the pipeline failed (`error` says why)
    correct: bool = False  # answerable: right and direct (outcome "written" or "quoted"); unanswerable: refused
    outcome: Outcome = "error"
    holds_answer: bool = False  # the old rule: an accepted answer appears somewhere in the reply, however long
    exact: bool = False  # SQuAD exact match of the whole answer (answerable cases)
    words: int = 0  # the answer's length in words
    f1: float | None = None  # answerable cases only
    rank: int | None = None  # position of the first passage holding a supporting quote
    citations: tuple[CitationCheck, ...] = ()
    cites_support: bool | None = None  # correctly answered answerable cases only
    problems: tuple[str, ...] = ()
    error: str = ""

    @property
    def answer(self) -> str:
        return self.reply.text if self.reply else ""

    @property
    def abstained(self) -> bool:
        return bool(self.reply and self.reply.abstained)

    @property
    def mode(self) -> str:
        return self.reply.mode if self.reply else ""

    @property
    def raw(self) -> str:
        """The model's reply before the checker: what a failure began as."""
        return self.reply.raw_text if self.reply else ""

    @property
    def check_notes(self) -> tuple[str, ...]:
        return self.reply.check_notes if self.reply else ()

    @property
    def timings(self) -> Timings | None:
        return self.reply.timings if self.reply else None

    @property
    def searched(self) -> str:
        """The question the pipeline searched for (after follow-up rewriting)."""
        return self.reply.standalone_question if self.reply else ""

    @property
    def passages(self) -> tuple[Span, ...]:
        hits = self.reply.passages if self.reply else ()
        return tuple(Span(h.chunk.doc_id, h.chunk.start, h.chunk.end) for h in hits)


def score_case(case: Case, answer: Answer | None, error: str = "") -> CaseResult:
    """Everything the report says about one case; `answer` is None when the pipeline failed."""
    if answer is None:
        f1 = 0.0 if case.answerable else None  # counts as wrong, and as a retrieval miss
        return CaseResult(
            case.id, case.kind, case.question, case.answerable, f1=f1, problems=(f"error: {error}",), error=error
        )
    observed = CaseResult(case.id, case.kind, case.question, case.answerable, reply=answer)
    passages = observed.passages
    said = stated(answer)
    observed = replace(observed, words=0 if answer.abstained else metrics.words_in(said))
    if not case.answerable:
        checks = tuple(_check(c, answer, None) for c in answer.citations)
        unanswered = () if answer.abstained else ("answered, although the articles do not say",)
        outcome: Outcome = "refused" if answer.abstained else "answered"
        return replace(observed, correct=answer.abstained, outcome=outcome, citations=checks, problems=unanswered)

    problems: list[str] = []
    holds = not answer.abstained and metrics.answer_matches(said, case.answers, case.all_of)
    direct = metrics.is_direct(said, case.answers, case.all_of)
    outcome = (
        "refused" if answer.abstained
        else "wrong" if not holds
        else "long" if not direct
        else "written" if answer.mode in OWN_WORDS
        else "quoted"
    )
    correct = outcome in RIGHT
    references = [*case.answers, ", ".join(case.all_of)] if case.all_of else list(case.answers)
    f1 = 0.0 if answer.abstained else metrics.token_f1(said, references)
    exact = not answer.abstained and metrics.exact_match(said, references)
    if answer.abstained:
        problems.append("refused, although the articles answer it")
    elif outcome == "long":
        problems.append(f"holds the answer, but in {metrics.words_in(said)} words: not a direct answer")
    elif not holds:
        if any(metrics.contains_phrase(said, a) for a in case.answers):
            missing = metrics.missing_items(said, case.all_of)
            problems.append("missing list item(s): " + ", ".join(repr(m) for m in missing))
        else:
            problems.append("no accepted answer in the reply (expected " + " or ".join(map(repr, case.answers)) + ")")

    rank = metrics.first_hit_rank(passages, case.spans)
    if rank is None:
        problems.append(f"no supporting passage among the {len(passages)} retrieved")

    checks = tuple(_check(c, answer, case) for c in answer.citations)
    for check in checks:
        if check.supported is False:
            problems.append(f"citation [{check.marker}] does not support its sentence: {check.reason}")
    cites_support = any(c.cites_support for c in checks) if correct else None
    if cites_support is False:
        problems.append("no citation points at the supporting passage" if checks else "no citations")
    return replace(
        observed,
        correct=correct,
        outcome=outcome,
        holds_answer=holds,
        exact=exact,
        f1=f1,
        rank=rank,
        citations=checks,
        cites_support=cites_support,
        problems=tuple(problems),
    )


def stated(answer: Answer) -> str:
    """What the answer says, without its markers: its kept claims (a refusal has none: its text)."""
    return " ".join(c.text for c in answer.claims if c.kept) or answer.text


def _check(citation: Citation, answer: Answer, case: Case | None) -> CitationCheck:
    """Judge one citation against every claim that cites it (None: not judged)."""
    c = citation
    sentences = [claim.text for claim in answer.claims if claim.kept and c.marker in claim.markers]
    first = sentences[0] if sentences else ""
    if case is None or answer.abstained:
        return CitationCheck(c.marker, c.doc_id, c.start, c.end, first, None)
    span = Span(c.doc_id, c.start, c.end)
    on_support = any(metrics.overlap(span, quote) > 0 for quote in case.spans)
    if not sentences:
        return CitationCheck(
            c.marker, c.doc_id, c.start, c.end, "", False, "no claim of the answer cites it", on_support
        )
    for sentence in sentences:
        ok, reason = metrics.citation_support(sentence, c.quote, case.answers, case.all_of, case.question)
        if not ok:
            return CitationCheck(c.marker, c.doc_id, c.start, c.end, sentence, False, reason, on_support)
    return CitationCheck(c.marker, c.doc_id, c.start, c.end, first, True, "", on_support)


@dataclass(frozen=True)
class Summary:
    cases: int
    answerable: int
    unanswerable: int
    errors: int
    k: int
    correct: float | None  # all cases: a right and direct answer, or a refusal when the articles do not say
    answer_accuracy: float | None  # answerable cases answered right and directly ("written" or "quoted")
    written: float | None  # answerable cases: right and direct, in the model's own words
    quoted: float | None  # answerable cases: right and direct, by a quoted span
    long: float | None  # answerable cases: the answer is there, but in a pasted passage (not direct)
    own_words: float | None  # of the right and direct answers, the share in the model's own words
    holds_answer: float | None  # answerable cases: an accepted answer appears anywhere (the old rule)
    exact_match: float | None  # answerable cases: SQuAD exact match
    mean_words: float | None  # words per answer that was not a refusal
    mean_f1: float | None
    recall_at_k: float | None
    mrr: float | None
    citation_precision: float | None
    citations_checked: int
    citation_recall: float | None
    refusal_rate: float | None  # unanswerable cases refused
    false_refusal_rate: float | None  # answerable cases refused
    wrong_answer_rate: float | None  # answerable cases answered, but not correctly
    retrieval_p50: float | None
    retrieval_p95: float | None
    first_token_p50: float | None  # the first token of the final answer (text that stays)
    first_token_p95: float | None
    draft_token_p50: float | None  # the first token of the model's draft (shown as a draft while checked)
    total_p50: float | None
    total_p95: float | None
    tokens_per_s: float | None
    by_kind: dict[str, dict[str, float | int | None]] = field(default_factory=dict)


def summarise(results: Sequence[CaseResult], k: int) -> Summary:
    answerable = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]
    ranks = [r.rank for r in answerable]
    judged = [c.supported for r in answerable if not r.abstained for c in r.citations if c.supported is not None]
    timed = [r.timings for r in results if r.timings is not None]
    gen_time = sum(t.generation_s for t in timed)
    right = [r for r in answerable if r.correct]
    answered = [r for r in results if r.timings is not None and not r.abstained]
    by_kind: dict[str, dict[str, float | int | None]] = {}
    for kind in sorted({r.kind for r in results}):
        group = [r for r in results if r.kind == kind]
        by_kind[kind] = {"cases": len(group), "correct": metrics.share(r.correct for r in group)}
    return Summary(
        cases=len(results),
        answerable=len(answerable),
        unanswerable=len(unanswerable),
        errors=sum(1 for r in results if r.error),
        k=k,
        correct=metrics.share(r.correct for r in results),
        answer_accuracy=metrics.share(r.correct for r in answerable),
        written=metrics.share(r.outcome == "written" for r in answerable),
        quoted=metrics.share(r.outcome == "quoted" for r in answerable),
        long=metrics.share(r.outcome == "long" for r in answerable),
        own_words=metrics.share(r.outcome == "written" for r in right),
        holds_answer=metrics.share(r.holds_answer for r in answerable),
        exact_match=metrics.share(r.exact for r in answerable),
        mean_words=_mean([r.words for r in answered]),
        mean_f1=_mean([r.f1 for r in answerable if r.f1 is not None] if answerable else []),
        recall_at_k=metrics.recall_at_k(ranks, k),
        mrr=metrics.mean_reciprocal_rank(ranks, k),
        citation_precision=metrics.share(bool(s) for s in judged),
        citations_checked=len(judged),
        citation_recall=metrics.share(r.cites_support is True for r in answerable if r.correct),
        refusal_rate=metrics.share(r.abstained for r in unanswerable),
        false_refusal_rate=metrics.share(r.abstained for r in answerable),
        wrong_answer_rate=metrics.share(not r.abstained and not r.correct for r in answerable),
        retrieval_p50=metrics.percentile([t.retrieval_s for t in timed], 50),
        retrieval_p95=metrics.percentile([t.retrieval_s for t in timed], 95),
        first_token_p50=metrics.percentile([t.first_token_s for t in timed], 50),
        first_token_p95=metrics.percentile([t.first_token_s for t in timed], 95),
        draft_token_p50=metrics.percentile([t.draft_token_s for t in timed if t.draft_token_s], 50),
        total_p50=metrics.percentile([t.total_s for t in timed], 50),
        total_p95=metrics.percentile([t.total_s for t in timed], 95),
        tokens_per_s=sum(t.generated_tokens for t in timed) / gen_time if gen_time > 0 else None,
        by_kind=by_kind,
    )


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


# --min-* option name -> (Summary attribute, what it measures)
FLOORS: dict[str, tuple[str, str]] = {
    "correct": ("correct", "correct answers (refusals count on unanswerable cases)"),
    "refusal": ("refusal_rate", "refusals on unanswerable cases"),
    "recall": ("recall_at_k", "retrieval recall@k"),
    "citation_precision": ("citation_precision", "citation precision"),
}


def check_floors(summary: Summary, floors: Mapping[str, float | None]) -> list[str]:
    """One line per floor that the run falls below (a metric that could not be measured fails too)."""
    failures: list[str] = []
    for name, floor in floors.items():
        if floor is None:
            continue
        attribute, label = FLOORS[name]
        value = getattr(summary, attribute)
        option = "--min-" + name.replace("_", "-")
        if value is None:
            failures.append(f"{option} {floor:.2f}: {label} could not be measured (no cases or citations for it)")
        elif value < floor:
            failures.append(f"{option} {floor:.2f}: {label} is {value:.2f}")
    return failures
