"""Check a model's reply claim by claim: find each claim's evidence, have the judge weigh it, and
decide whether the reply answers the question.

Every sentence of a reply is a claim (rag/answers/replies.py), with the passages its `[n]` markers cite;
the 0.5B model often writes none, so the evidence is found either way (rag/answers/evidence.py): the
passage sentence, or short run of sentences, that holds most of the claim's words, whose passage
holds the claim's numbers and names as written. The judge (rag/answers/judging.py) then reads that evidence
with the claim, and the question for a fact question, and gives P(yes). A claim is kept at
`Policy.keep` or above and cited to its evidence; a claim below it is removed. Without a judge (a
model server without log-probabilities, `RAG_JUDGE_MODEL=none`), a claim is kept when most of its
content words are in one sentence (`Policy.min_coverage`) and it is not negated where the sentence
is not, and the check says the judge was skipped.

A fact reply answers its question when one kept claim holds the kind of answer the wording asks for
(a year for "in what year", a count of the thing for "how many": rag/answers/shapes.py). An open
reply answers when any claim is kept.

Deliberately not here: asking the model (judging.py, answering.py), what to do when the reply
fails (answering.py), how kept claims are written out (composing.py).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from rag.answers import evidence as ev
from rag.answers.evidence import Evidence
from rag.answers.markers import parse_markers
from rag.answers.replies import claims, looks_like_refusal
from rag.answers.shapes import expected_type, holds_answer_type
from rag.text.terms import fold, numbers, terms
from rag.types import Hit, Shape


@dataclass(frozen=True)
class Policy:
    """The thresholds of the checker. Chosen with scripts/calibrate.py on one half of xquad-dev and
    of the in-house set, and reported on the other half (docs/checking.md)."""

    keep: float = 0.6  # the judge's P(yes) at which a claim is kept
    # A fact claim must rest on a sentence that matches the question (its question score, rag/answers/evidence.py):
    # at least `relevant`, and at most `margin` below the passage sentence that matches it best. A
    # claim true of its sentence but about something else ("He warned that conflicts are rising" for
    # "On what can security not be based?") is off the question.
    relevant: float = 0.3
    margin: float = 0.1
    quote: float = 0.6  # P(yes) that the best sentence answers the question, to quote it as the last resort
    candidate: float = 0.3  # share of a claim's content terms a sentence needs to be judged as its evidence
    min_coverage: float = 0.6  # without a judge: share of a claim's content terms one sentence must hold
    extract: float = 0.2  # question score the best passage sentence needs for a repair or a quote to be tried
    repair_refusals: bool = True  # ask again when the model said the passages do not hold the answer
    summary: float = 0.15  # question score a passage sentence needs to be extracted for an open question


# A model's replies (and judgements) differ from another's, so a known model may have a policy of its
# own, chosen the same way (scripts/calibrate.py --model NAME); other models get the default.
CALIBRATED: dict[str, Policy] = {}


def policy_for(model: str) -> Policy:
    return CALIBRATED.get(model, Policy())


# (evidence, claim, question or None) -> P(the evidence says the claim [and it answers the question]),
# None: this judge cannot tell (rag/answers/judging.py: Judge).
JudgeFn = Callable[[str, str, str | None], float | None]

CheckStatus = Literal["supported", "reassigned", "unsupported", "contradicted", "off-question", "empty"]


@dataclass(frozen=True)
class ClaimCheck:
    sentence: str
    cited: tuple[int, ...]  # passages the reply cited for it
    status: CheckStatus
    evidence: Evidence | None = None  # set when the claim is kept
    support: float | None = None  # the judge's P(yes) for the best evidence tried
    tried: Evidence | None = None  # the best evidence tried, kept or not

    @property
    def kept(self) -> bool:
        return self.evidence is not None


@dataclass(frozen=True)
class ReplyCheck:
    reply: str  # the model's reply as written
    checks: tuple[ClaimCheck, ...]
    answers: bool  # the kept claims answer the question
    refusal: bool  # the reply says the passages do not hold the answer
    why: str = ""  # why it does not answer, in words
    judged: bool = True  # False: the judge gave no probabilities, claims were checked by words

    @property
    def kept(self) -> tuple[ClaimCheck, ...]:
        return tuple(c for c in self.checks if c.kept)


@dataclass(frozen=True)
class Relevance:
    """How well each passage sentence matches the question (rag/answers/evidence.py: question_scores)."""

    units: tuple[Evidence, ...]
    scores: tuple[float, ...]

    @property
    def best(self) -> float:
        return max(self.scores, default=0.0)

    def of(self, evidence: Evidence) -> float:
        """The score of the best sentence inside an evidence span."""
        inside = [s for u, s in zip(self.units, self.scores, strict=True)
                  if u.passage == evidence.passage and evidence.start <= u.start and u.end <= evidence.end]
        return max(inside, default=0.0)


def check_reply(
    question: str,
    reply: str,
    passages: Sequence[Hit],
    shape: Shape,
    policy: Policy,
    judge: JudgeFn | None,
    relevance: Relevance | None = None,
) -> ReplyCheck:
    """Check every claim of `reply` against `passages`; a fact claim is judged as an answer to `question`,
    and must rest on a sentence that matches the question (`relevance` of the same passages)."""
    reply = reply.strip()
    if not reply or not passages or looks_like_refusal(reply):
        return ReplyCheck(reply, (), False, True, "the model found no answer in the passages" if reply else "no reply")
    units = ev.sentences(passages)
    text, _ = parse_markers(reply, len(passages))
    asked = question if shape == "fact" else None  # a fact claim must answer its question, not just be true
    checks = tuple(check_claim(s, cited, passages, units, policy, judge, asked) for s, cited in claims(text))
    judged = judge is None or not any(c.support is None and c.status not in ("empty", "unsupported") for c in checks)
    kept = [c for c in checks if c.kept]
    if not kept:
        return ReplyCheck(reply, checks, False, False, "no claim of the reply is supported by the passages", judged)
    if shape == "open":
        return ReplyCheck(reply, checks, True, False, "", judged)
    if relevance is not None:
        floor = max(policy.relevant, relevance.best - policy.margin)
        checks = tuple(
            ClaimCheck(c.sentence, c.cited, "off-question", None, c.support, c.evidence)
            if c.evidence is not None and relevance.of(c.evidence) < floor else c
            for c in checks
        )
        kept = [c for c in checks if c.kept]
        if not kept:
            return ReplyCheck(reply, checks, False, False, "the sentences the reply rests on are not the ones that "
                              "match the question", judged)
    in_question = set(terms(question)) | numbers(question)
    if not any((set(terms(c.sentence)) | numbers(c.sentence)) - in_question for c in kept):
        off = tuple(
            ClaimCheck(c.sentence, c.cited, "off-question", None, c.support, c.evidence) if c.kept else c
            for c in checks
        )
        return ReplyCheck(reply, off, False, False, "the reply only says the question again", judged)
    wanted = expected_type(question)
    if not holds_answer_type(" ".join(c.sentence for c in kept), wanted, question):
        off = tuple(
            ClaimCheck(c.sentence, c.cited, "off-question", None, c.support, c.evidence) if c.kept else c
            for c in checks
        )
        return ReplyCheck(reply, off, False, False, f"the reply does not state the {wanted} the question asks for",
                          judged)
    return ReplyCheck(reply, tuple(_focused(c, units, question) for c in checks), True, False, "", judged)


def _focused(check: ClaimCheck, units: Sequence[Evidence], question: str) -> ClaimCheck:
    """A kept claim judged on a run of sentences is cited to the sentences of the run that hold what
    it adds to the question: "The first director of the Riverton Museum was Margaret Holloway" was
    judged on "The Riverton Museum opened in 1899. Its first director was Margaret Holloway." (the
    first sentence says what "Its" is) and cites the second."""
    run = check.evidence
    if run is None:
        return check
    inside = [u for u in units if u.passage == run.passage and run.start <= u.start and u.end <= run.end]
    if len(inside) < 2:
        return check
    cited = ev.narrow(ev.claim_terms(check.sentence).needed, run.passage, inside, set(terms(question)))
    return ClaimCheck(check.sentence, check.cited, check.status, cited, check.support, check.tried)


def check_claim(
    sentence: str,
    cited: tuple[int, ...],
    passages: Sequence[Hit],
    units: Sequence[Evidence],
    policy: Policy,
    judge: JudgeFn | None,
    question: str | None = None,
) -> ClaimCheck:
    claim = ev.claim_terms(sentence)
    if not claim.content:
        return ClaimCheck(sentence, cited, "empty")
    if scripts(sentence) - scripts(" ".join(hit.chunk.text for hit in passages)):
        # A small model sometimes slips into another language mid-sentence ("The President
        # подчеркнул …"); no passage says that, whatever the judge makes of it.
        return ClaimCheck(sentence, cited, "unsupported")
    ranked = ev.candidates(claim, cited, passages, units)
    if judge is None:
        return _by_words(sentence, cited, ranked, claim.needed, units, policy.min_coverage)
    # The judge is asked about the best candidate, and about the best cited one if that is another.
    usable = [c for c in ranked if c.coverage >= policy.candidate]
    tried = usable[:1] + [c for c in usable[1:] if c.cited][:1]
    best: tuple[float, Evidence] | None = None
    for candidate in tried:
        evidence = ev.narrow(claim.needed, candidate.passage, units)
        probability = judge(evidence.text, sentence, question)
        if probability is None:  # this generator cannot judge: fall back to the words
            return _by_words(sentence, cited, ranked, claim.needed, units, policy.min_coverage)
        if best is None or probability > best[0]:
            best = (probability, evidence)
    if best is None:
        return ClaimCheck(sentence, cited, "unsupported")
    probability, evidence = best
    if probability < policy.keep:
        return ClaimCheck(sentence, cited, "unsupported", None, probability, evidence)
    status: CheckStatus = "supported" if evidence.passage in cited else "reassigned"
    return ClaimCheck(sentence, cited, status, evidence, probability, evidence)


def _by_words(
    sentence: str,
    cited: tuple[int, ...],
    ranked: Sequence[ev.Candidate],
    needed: set[str],
    units: Sequence[Evidence],
    min_coverage: float,
) -> ClaimCheck:
    """Kept when most of the claim's content terms are in one sentence of a passage, and the claim
    is negated only where its evidence is."""
    enough = [c for c in ranked if c.coverage >= min_coverage]
    if not enough:
        return ClaimCheck(sentence, cited, "unsupported")
    top = enough[0].coverage
    chosen = next((c.passage for c in enough if c.cited and c.coverage >= top - 1e-9), enough[0].passage)
    evidence = ev.narrow(needed, chosen, units)
    if negated(sentence) != negated(evidence.text):
        return ClaimCheck(sentence, cited, "contradicted", None, None, evidence)
    return ClaimCheck(sentence, cited, "supported" if chosen in cited else "reassigned", evidence, None, evidence)


def scripts(text: str) -> set[str]:
    """The writing systems of a text's letters: {'LATIN'}, {'LATIN', 'CYRILLIC'} …

    >>> sorted(scripts("The President подчеркнул it")), sorted(scripts("Café, 14 documents"))
    (['CYRILLIC', 'LATIN'], ['LATIN'])
    """
    return {unicodedata.name(ch, "?").split()[0] for ch in text if ch.isalpha()}


_NEGATION = r"\b(?:not|never|cannot|no longer|neither|nor)\b|n't\b"


def negated(text: str) -> bool:
    import re

    return bool(re.search(_NEGATION, fold(text)))
