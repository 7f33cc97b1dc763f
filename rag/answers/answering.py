"""Make an answer from the retrieved passages: the model writes, each claim is checked, a doubtful
reply is repaired, a short quote is the last resort, and a refusal is honest.

For a fact question (one short answer):
1. **Written.** The answering model reads the best passages and replies; the reply streams out as a
   `Draft` (provisional: the web chat shows it as a draft being checked). Each claim is checked
   against the sentence it rests on (rag/answers/checking.py); when one kept claim answers the question,
   the kept claims are the answer, in the model's own words.
2. **Repaired.** Otherwise the model is asked once more, with a short prompt holding only the
   passage sentences that match the question best (`Policy.extract`), and its new reply is checked
   the same way.
3. **Quoted.** Otherwise, when the judge finds that the best of those sentences answers the
   question (`Policy.quote`), the shortest part of it that does (a clause, not two sentences) is
   quoted, cited.
4. **Refused.** Otherwise "The articles do not say.", with the reasons in `Outcome.notes`.

For an open question (a summary, the main points, events, a list, a comparison, why …), the
passage sentences that match the question best are chosen (rag/answers/extracting.py), and the model says
them again, shorter and in its own words (`open_answers="rewrite"`, the default); each of its
sentences is checked as a statement against the sentence it came from (not as an answer to the
question), and the ones that pass are the answer. When none does, the chosen sentences themselves
are the answer (extracted), each cited; it is refused only when no sentence matches at all.
`open_answers="generate"` has the model write from whole passages instead, and `"extract"` skips
the model.

What streams out: `Status` (what is being done), `Draft` pieces (the model's reply while it is
written: not the answer), then the final text as `Delta` pieces, which is never taken back, and
the `Outcome` last. Times are taken at the first draft piece and the first final piece.

Deliberately not here: retrieving, the conversation, or building the `Answer` (pipeline.py).
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Generator as Generator_
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

from rag.answers import evidence as ev
from rag.answers.checking import Policy, Relevance, ReplyCheck, check_reply
from rag.answers.composing import compose, compose_with_quotes, dated_list, quote, removed
from rag.answers.evidence import Evidence
from rag.answers.extracting import summary_sentences
from rag.answers.judging import Judging
from rag.answers.markers import strip_markers
from rag.answers.prompting import build_prompt, build_repair_prompt, build_rewrite_prompt, cut_question
from rag.answers.replies import REFUSAL
from rag.answers.shapes import asks_for_breadth, expected_type, holds_answer_type
from rag.answers.timelines import Window, dated_events
from rag.models.generation import Generator, Message
from rag.text.terms import terms
from rag.types import AnswerMode, Chunk, Citation, Claim, Delta, Draft, Hit, Status

TIMELINE_MOST = 8  # events a timeline lists at most
OPEN_WORDS = 120  # an open answer's length, when the model's sentences are filled in with quotes


@dataclass(frozen=True)
class Outcome:
    """What the answer is: made once here, carried as it is into `Answer`."""

    text: str
    citations: tuple[Citation, ...]
    claims: tuple[Claim, ...]  # every claim written, kept or removed, and quoted ones
    mode: AnswerMode
    notes: tuple[str, ...] = ()  # how it was made, and why a reply was not kept
    draft: str = ""  # the model's reply
    repair: str = ""  # its second reply, to the repair prompt ("" when there was none)
    prompt_tokens: int = 0
    evidence_score: float = 0.0  # how well the best passage sentence matches the question, 0..1
    first_draft: float = 0.0  # perf_counter() at the first draft piece (0: none)
    first_final: float = 0.0  # perf_counter() at the first piece of the final text
    replied: float = 0.0  # perf_counter() when the last reply was written
    warnings: tuple[str, ...] = ()
    passages: tuple[Hit, ...] = ()  # the prompt's passages, then the rest: citations point into these

    @property
    def abstained(self) -> bool:
        return self.mode == "refused"


Event = Status | Draft | Delta | Outcome


@dataclass
class Answering:
    """The models and settings an answer is made with."""

    generator: Generator  # writes the reply
    judge: Judging | None  # weighs each claim; None: by words only
    embed: ev.Embed
    idf: ev.Idf
    policy: Policy
    answer_tokens: int = 120
    open_answer_tokens: int = 220
    max_question_tokens: int = 256
    read_k: int = 5
    repair_sentences: int = 4  # the best sentences a repair prompt shows
    # What the model reads first for a fact question: the best few passages ("passages"; a reply
    # that fails is repaired from the best sentences), or only those sentences ("sentences").
    answer_from: str = "passages"
    repairer: Generator | None = None  # answers the repair prompt; None: the generator
    repair: bool = True  # False: a reply that fails is not asked again (RAG_REPAIR_MODEL=none)
    # Open questions: "rewrite" (the best sentences said again by the model, each checked against its
    # own), "generate" (the model writes from the passages, each claim checked), or "extract".
    open_answers: str = "rewrite"
    open_read_k: int = 8  # passages the model reads for an open question

    def fact(self, question: str, hits: Sequence[Hit], turns: Sequence[Message] = ()) -> Iterator[Event]:
        if self.answer_from == "sentences":
            yield from self._from_sentences(question, hits)
            return
        prompt = build_prompt(question, hits[: self.read_k], self.generator.count_tokens,
                              self.generator.context_size, self.answer_tokens, self.max_question_tokens, turns, "fact")
        # The model reads the best few passages; the checker may cite the rest too. They follow the
        # prompt's passages, so the model's [n] markers keep their meaning.
        passages = [*prompt.passages, *(h for h in hits if h not in prompt.passages)]
        question = prompt.question
        run = _Run(passages=tuple(passages), prompt_tokens=prompt.tokens, warnings=prompt.warnings)
        yield Status("writing")
        run.draft = yield from self._reply(self.generator, prompt.messages, run)
        yield Status("checking")
        units = ev.sentences(passages)
        relevance = Relevance(tuple(units), tuple(float(x) for x in ev.question_scores(question, units, self.embed,
                                                                                        self.idf)))
        check = check_reply(question, run.draft, passages, "fact", self.policy, self.judge, relevance)
        best = ev.best_sentences(question, passages, self.embed, self.idf, self.repair_sentences)
        scores = [float(x) for x in ev.question_scores(question, best, self.embed, self.idf)]
        run.evidence_score = max(scores, default=0.0)
        if check.answers:
            yield from self._finish(run, "written", *compose(check.checks, passages), _judged(check))
            return
        run.notes.append(f"The reply was not kept: {check.why}.")
        run.struck.extend(removed(c) for c in check.checks if c.status != "empty")

        if run.evidence_score < self.policy.extract:
            run.notes.append("No passage sentence matches the question well enough to answer from.")
            yield from self._finish(run, "refused", REFUSAL, (), ())
            return
        if check.refusal and not self.policy.repair_refusals:
            yield from self._finish(run, "refused", REFUSAL, (), ())
            return
        if not self.repair:
            yield from self._quote_or_refuse(question, run, best, scores)
            return
        yield Status("repairing")
        messages = build_repair_prompt(question, [_as_hit(u, passages) for u in best])
        yield Draft("", restart=True)
        run.repair = yield from self._reply(self.repairer or self.generator, messages, run)
        yield Status("checking")
        # Its [n] point at the sentences it was shown, not at the passages: the evidence is found by words.
        second = check_reply(question, strip_markers(run.repair), passages, "fact", self.policy, self.judge, relevance)
        if second.answers:
            run.notes.append("Repaired: asked again with only the sentences that match the question best, the "
                             "model gave this answer, and it passed the checks.")
            yield from self._finish(run, "repaired", *compose(second.checks, passages), _judged(second))
            return
        run.notes.append(f"The second reply was not kept either: {second.why}.")
        run.struck.extend(removed(c) for c in second.checks if c.status != "empty")
        yield from self._quote_or_refuse(question, run, best, scores)

    def _from_sentences(self, question: str, hits: Sequence[Hit]) -> Iterator[Event]:
        """The model reads only the passage sentences that match the question best, and answers from
        them; a reply that fails its checks is followed by the quote, or the refusal."""
        question, warnings = cut_question(question, self.generator.count_tokens, self.max_question_tokens)
        passages = list(hits)
        run = _Run(passages=tuple(passages), warnings=warnings)
        units = ev.sentences(passages)
        relevance = Relevance(tuple(units), tuple(float(x) for x in ev.question_scores(question, units, self.embed,
                                                                                        self.idf)))
        best = ev.best_sentences(question, passages, self.embed, self.idf, self.repair_sentences)
        scores = [float(x) for x in ev.question_scores(question, best, self.embed, self.idf)]
        run.evidence_score = max(scores, default=0.0)
        if run.evidence_score < self.policy.extract:
            run.notes.append("No passage sentence matches the question well enough to answer from.")
            yield from self._finish(run, "refused", REFUSAL, (), ())
            return
        messages = build_repair_prompt(question, [_as_hit(u, passages) for u in best])
        run.prompt_tokens = sum(self.generator.count_tokens(m["content"]) for m in messages)
        yield Status("writing")
        run.draft = yield from self._reply(self.generator, messages, run)
        yield Status("checking")
        # Its [n] point at the sentences it was shown, not at the passages: the evidence is found by words.
        check = check_reply(question, strip_markers(run.draft), passages, "fact", self.policy, self.judge, relevance)
        if check.answers:
            yield from self._finish(run, "written", *compose(check.checks, passages), _judged(check))
            return
        run.notes.append(f"The reply was not kept: {check.why}.")
        run.struck.extend(removed(c) for c in check.checks if c.status != "empty")
        yield from self._quote_or_refuse(question, run, best, scores)

    def _quote_or_refuse(self, question: str, run: _Run, best: Sequence[Evidence], scores: Sequence[float]
                         ) -> Iterator[Event]:
        passages = run.passages
        yield Status("quoting")
        span = self._quotable(question, [u for u, score in zip(best, scores, strict=True)
                                         if score >= self.policy.extract])
        if span is None:
            run.notes.append("No passage sentence was found to answer the question.")
            yield from self._finish(run, "refused", REFUSAL, (), ())
            return
        run.notes.append("Quoted: the judge found that this sentence answers the question.")
        yield from self._finish(run, "quoted", *quote([span], passages, lead="The articles say: "))

    def timeline(self, question: str, hits: Sequence[Hit], window: Window | None = None) -> Iterator[Event]:
        """Events in date order, each a passage sentence with its date (rag/answers/timelines.py), cited.
        With a `window` (a "what's new" question), `hits` come from the articles published in it,
        and the answer says the window, or that nothing came in."""
        passages = list(hits)
        run = _Run(passages=tuple(passages))
        if window is not None:
            run.notes.append(f"What's new: only the articles {window.describe()}.")
        chosen = summary_sentences(question, passages, self.embed, self.idf, self.policy.summary, TIMELINE_MOST)
        if not chosen:
            if window is not None:
                text = (f"Nothing new came in: no article {window.describe()} is about this. (An article "
                        "without a publication date is not counted: give it one in its front matter or a "
                        "sidecar, docs/news.md.)")
            else:
                text = REFUSAL
                run.notes.append("No passage sentence matches the question.")
            yield from self._finish(run, "refused", text, (), ())
            return
        events = dated_events(chosen, passages)
        run.notes.append("A timeline: the sentences that match the question, each once, in date order; a date is "
                         "the one the sentence names (resolved against its article's publication date), else the "
                         "last one named before it, else the article's.")
        lines = [(when.label, unit) for when, unit in events]  # "" for a sentence no date is known for
        yield from self._finish(run, "extracted", *dated_list(lines, passages))

    def open(self, question: str, hits: Sequence[Hit], turns: Sequence[Message] = ()) -> Iterator[Event]:
        passages: list[Hit] = list(hits)
        run = _Run(passages=tuple(passages))
        chosen = summary_sentences(question, passages, self.embed, self.idf, self.policy.summary)
        if self.open_answers == "rewrite" and chosen:
            # The model says the chosen sentences again, shorter and in its own words; each of its
            # sentences is checked against the sentence it came from.
            # Its [n] point at the sentences it was shown, which come first; the answer's passages stay the
            # retrieved ones (a citation's span is found in them).
            shown = [_as_hit(u, passages) for u in chosen]
            checked = [*shown, *passages]
            yield Status("writing")
            run.draft = yield from self._reply(self.generator, build_rewrite_prompt(question, shown), run,
                                               self.open_answer_tokens)
            yield Status("checking")
            check = check_reply(question, run.draft, checked, "open", self.policy, self.judge)
            if check.answers:
                # A chosen sentence the model left out, or said wrongly, is quoted in its place, when
                # the question asks for several points (one view is answered by the model's words).
                missing = _unsaid(chosen, check, checked, len(shown)) if asks_for_breadth(question) else []
                fits = _within_words(missing, OPEN_WORDS - sum(len(c.sentence.split()) for c in check.kept))
                if missing:
                    run.notes.append(f"{len(chosen) - len(missing)} of the {len(chosen)} sentences that answer best "
                                     f"are said in the model's words; {len(fits)} of the others quoted.")
                yield from self._finish(run, "written", *compose_with_quotes(check.checks, fits, checked),
                                        _judged(check))
                return
            run.notes.append(f"The reply was not kept: {check.why}.")
            run.struck.extend(removed(c) for c in check.checks if c.status != "empty")
        elif self.open_answers == "generate":
            prompt = build_prompt(question, hits[: self.open_read_k], self.generator.count_tokens,
                                  self.generator.context_size, self.open_answer_tokens, self.max_question_tokens,
                                  turns, "open")
            passages = [*prompt.passages, *(h for h in hits if h not in prompt.passages)]
            question = prompt.question
            run = _Run(passages=tuple(passages), prompt_tokens=prompt.tokens, warnings=prompt.warnings)
            yield Status("writing")
            run.draft = yield from self._reply(self.generator, prompt.messages, run, self.open_answer_tokens)
            yield Status("checking")
            check = check_reply(question, run.draft, passages, "open", self.policy, self.judge)
            if check.answers:
                yield from self._finish(run, "written", *compose(check.checks, passages), _judged(check))
                return
            run.notes.append(f"The reply was not kept: {check.why}.")
            run.struck.extend(removed(c) for c in check.checks if c.status != "empty")
            chosen = summary_sentences(question, passages, self.embed, self.idf, self.policy.summary)
        if not chosen:
            run.notes.append("No passage sentence matches the question.")
            yield from self._finish(run, "refused", REFUSAL, (), ())
            return
        run.notes.append("Extracted: the passage sentences that answer the question best, in the articles' order.")
        yield from self._finish(run, "extracted", *quote(chosen, passages))

    def _reply(
        self, generator: Generator, messages: list[Message], run: _Run, tokens: int = 0
    ) -> Generator_[Event, None, str]:
        """Stream a reply as Draft pieces; return its text."""
        pieces: list[str] = []
        for piece in generator.stream(messages, tokens or self.answer_tokens):
            if not run.first_draft:
                run.first_draft = time.perf_counter()
            pieces.append(piece)
            yield Draft(piece)
        run.replied = time.perf_counter()
        return "".join(pieces).strip()

    def _quotable(self, question: str, shown: Sequence[Evidence]) -> Evidence | None:
        """The best sentence the judge finds answers the question, cut to the clause that does."""
        wanted = expected_type(question)
        for unit in shown:
            if not holds_answer_type(unit.text, wanted, question):
                continue
            # A sentence is quoted only on the judge's word: without it (a model that gives no
            # probabilities), a sentence that merely resembles the question is not an answer.
            probability = self.judge.answers(unit.text, question) if self.judge is not None else None
            if probability is None or probability < self.policy.quote:
                continue
            return short_span(unit, question)
        return None

    def _finish(self, run: _Run, mode: AnswerMode, text: str, citations: tuple[Citation, ...],
                claims: tuple[Claim, ...], notes: Sequence[str] = ()) -> Iterator[Event]:
        run.first_final = time.perf_counter()
        yield Delta(text)
        yield Outcome(
            text, citations, (*claims, *run.struck), mode, (*run.notes, *notes), run.draft, run.repair,
            run.prompt_tokens, run.evidence_score, run.first_draft, run.first_final, run.replied, run.warnings,
            run.passages,
        )


@dataclass
class _Run:
    """What one answer gathers on its way."""

    passages: tuple[Hit, ...]
    prompt_tokens: int = 0
    warnings: tuple[str, ...] = ()
    draft: str = ""
    repair: str = ""
    evidence_score: float = 0.0
    notes: list[str] = field(default_factory=list)
    struck: list[Claim] = field(default_factory=list)
    first_draft: float = 0.0
    first_final: float = 0.0
    replied: float = 0.0


def _judged(check: ReplyCheck) -> tuple[str, ...]:
    return () if check.judged else ("The model gave no probabilities, so claims were checked by their words only.",)


def _unsaid(chosen: Sequence[Evidence], check: ReplyCheck, checked: Sequence[Hit], shown: int) -> list[Evidence]:
    """The chosen sentences no kept claim rests on, numbered as in `checked` (the `shown` sentences,
    then the retrieved passages the chosen ones are numbered in)."""
    said = [(checked[e.passage - 1].chunk.doc_id, e) for c in check.kept if (e := c.evidence)]
    moved = [replace(u, passage=u.passage + shown) for u in chosen]
    return [u for u in moved if not any(doc == checked[u.passage - 1].chunk.doc_id and e.start < u.end
                                        and u.start < e.end for doc, e in said)]


def _within_words(units: Sequence[Evidence], budget: int) -> list[Evidence]:
    """The units, in order, that fit in `budget` words (one too long is passed over, not the rest)."""
    fits = []
    for unit in units:
        if len(unit.text.split()) <= budget:
            fits.append(unit)
            budget -= len(unit.text.split())
    return fits


def _as_hit(unit: Evidence, passages: Sequence[Hit]) -> Hit:
    """A passage sentence as a passage of its own, so a repair's citations point at its exact span."""
    hit = passages[unit.passage - 1]
    chunk = Chunk(f"{hit.chunk.id}@{unit.start}", hit.chunk.doc_id, unit.text, unit.start, unit.end)
    return replace(hit, chunk=chunk)


_CLAUSE_END = re.compile(r"[,;:—–()]\s*|\s+-\s+")
SHORT_QUOTE_WORDS = 25  # a sentence this short is quoted whole


def short_span(unit: Evidence, question: str) -> Evidence:
    """The shortest run of the sentence's clauses (up to three) that holds the question's terms and,
    after the last of them, something the question does not say: an answer usually follows the
    words that repeat the question ("… its first director, Henry Cole"). The whole sentence when
    it is short.

    >>> text = ("The museum, which was founded in 1852 after the Great Exhibition of the year before, "
    ...         "opened in South Kensington in 1857 under its first director, Henry Cole, who ran it until 1873.")
    >>> short_span(Evidence(1, 0, len(text), text), "Who was the museum's first director?").text
    'opened in South Kensington in 1857 under its first director, Henry Cole'
    """
    if len(unit.text.split()) <= SHORT_QUOTE_WORDS:
        return unit
    cuts = [0, *(m.end() for m in _CLAUSE_END.finditer(unit.text)), len(unit.text)]
    pieces = [(a, b) for a, b in itertools.pairwise(cuts) if unit.text[a:b].strip()]
    asked = set(terms(question))
    best: tuple[float, int, int] | None = None
    for i in range(len(pieces)):
        for j in range(i, min(i + 3, len(pieces))):
            start, end = pieces[i][0], pieces[j][1]
            said = terms(unit.text[start:end])
            anchors = [k for k, t in enumerate(said) if t in asked]
            if not anchors:
                continue
            answer_after = any(t not in asked for t in said[anchors[-1] + 1 :])
            covered = len(set(said) & asked) / max(1, len(asked))
            score = covered + 0.5 * answer_after - 0.01 * len(unit.text[start:end].split())
            if best is None or score > best[0]:
                best = (score, start, end)
    if best is None:
        return unit
    _, start, end = best
    text = unit.text[start:end]
    stripped = text.strip(" ,;:—–()-")
    start += text.index(stripped)
    end = start + len(stripped)
    return Evidence(unit.passage, unit.start + start, unit.start + end, unit.text[start:end])
