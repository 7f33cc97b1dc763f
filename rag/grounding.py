"""Check a generated answer against the passages it was built from, claim by claim.

Every sentence of the model's reply is a claim (rag/replies.py). For each claim:
- *evidence* is found: the passage sentence (or short run of sentences) that holds most of its
  words, the passages it cites tried first. Its numbers and names must occur in that passage, and
  whatever it puts in quotation marks must be there word for word: these are exact, so they are
  checked exactly;
- then the claim is *judged*: the generator is asked whether the evidence says what the claim says
  (rag/judging.py), and the claim is supported when the probability of "yes" reaches
  `Thresholds.support`. Sharing words is not saying the same thing, in either direction: "Tokayev
  left Japan on December 18" shares nearly every word with "On December 18, President Tokayev held
  talks with Emperor Naruhito", and "the Kazakh leader invoked the teachings" says, with other
  words, what "Tokayev cited the teachings" says. When the generator cannot judge (a server without
  log-probabilities), most of the claim's content words must be in one evidence sentence instead
  (`Thresholds.min_coverage`), and `Verdict.notes` says that the judge was skipped;
- a claim cited to the wrong passage is re-cited to the one that supports it; without a judge, a
  claim whose negation differs from its evidence ("no longer a rhetorical discussion") is
  contradicted (the judge reads negation itself); a claim nothing
  supports is removed, and every citation is narrowed to the exact sentence(s) that hold it.

Then the answer as a whole, by the question's shape (rag/answer_types.py):
- a *fact* question wants its answer: the kept claims' evidence must match the question
  (`Thresholds.relevant`), hold the kind of answer asked for (a year for "in what year", a count
  of the thing for "how many" …), and not lose to a passage sentence that holds that kind of answer
  and matches the question clearly better (`Thresholds.margin`). Otherwise, or when the model
  found no answer, the best passage sentence is quoted when it clearly answers
  (`Thresholds.extract`), and else the answer is an honest refusal;
- an *open* question (a summary, the main points, a list, why …) keeps every supported claim; when
  none is left, the passage sentences that match the question best are quoted, each with its
  citation. It is refused only when no passage matches it at all.
`Verdict.notes` says why an answer was quoted or refused. The `Thresholds` are chosen on one half
of a question set and reported on the other (scripts/calibrate.py, docs/checking.md).

Deliberately not here: generating text, retrieving passages, or asking the generator (judging.py).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from rag.answer_types import answer_shape, expected_type, holds_answer_type
from rag.markers import parse_markers
from rag.replies import REFUSAL, claims, looks_like_refusal
from rag.sentences import sentence_spans
from rag.terms import STOP_WORDS, fold, numbers, terms
from rag.types import Citation, Claim, Hit


@dataclass(frozen=True)
class Thresholds:
    """Chosen with scripts/calibrate.py on xquad-dev and the in-house set together, with the 1.5B
    judge (docs/checking.md has what each half chose and how the other half scored)."""

    support: float = 0.97  # judge's P(yes) at which a claim counts as said by its evidence (and answering)
    min_coverage: float = 0.6  # without a judge: share of a claim's content terms one evidence sentence holds
    candidate: float = 0.3  # share of a claim's content terms a sentence needs to be judged as its evidence
    relevant: float = 0.0  # evidence score at which a fact answer is taken to address the question
    extract: float = 0.5  # evidence score at which a passage sentence is quoted in place of a failed answer
    margin: float = 0.08  # how much better a quotable sentence must match the question to replace the reply
    summary: float = 0.15  # evidence score a passage sentence needs to be quoted for an open question


# A model's replies (and judgements) differ from another's, so each known model may have thresholds
# of its own, chosen the same way (scripts/calibrate.py --model NAME); other models get the default.
CALIBRATED: dict[str, Thresholds] = {}


def thresholds_for(model: str) -> Thresholds:
    return CALIBRATED.get(model, Thresholds())


Embed = Callable[[Sequence[str]], np.ndarray]
# (evidence, claim, question or None) -> P(the evidence says the claim [and it answers the question]);
# None: this judge cannot tell.
Judge = Callable[[str, str, str | None], float | None]


@dataclass(frozen=True)
class Evidence:
    passage: int  # 1-based passage number, as in the prompt
    start: int  # character span in the document
    end: int
    text: str


@dataclass(frozen=True)
class ClaimCheck:
    sentence: str
    cited: tuple[int, ...]  # passages the model cited
    status: str  # "supported", "reassigned", "unsupported", "contradicted", "irrelevant", "empty"
    evidence: Evidence | None = None
    support: float | None = None  # the judge's probability for the evidence chosen (or best tried)


@dataclass(frozen=True)
class Verdict:
    text: str
    citations: tuple[Citation, ...]
    abstained: bool
    mode: str  # "generated", "quoted" (passage sentences in place of a failed reply), "refused"
    claims: tuple[Claim, ...] = ()
    evidence_score: float = 0.0  # how well the best passage sentence matches the question, 0..1
    notes: tuple[str, ...] = field(default_factory=tuple)
    shape: str = "fact"

    @property
    def removed(self) -> tuple[str, ...]:
        return tuple(c.text for c in self.claims if not c.kept)


def check_answer(
    question: str,
    raw: str,
    passages: Sequence[Hit],
    embed: Embed,
    idf: Callable[[str], float],
    thresholds: Thresholds = Thresholds(),
    judge: Judge | None = None,
) -> Verdict:
    shape = answer_shape(question)
    sentences = _evidence_units(passages)
    units = _with_pairs(sentences, passages)
    scores = _evidence_scores(question, units, embed, idf)
    best_score = float(scores.max()) if len(units) else 0.0
    wanted = expected_type(question) if shape == "fact" else None
    quotable = _quotable(question, wanted, units, scores, thresholds.extract)
    notes: list[str] = []

    if not passages or not raw.strip() or looks_like_refusal(raw):
        why = "the model found no answer in the passages" if raw.strip() else "no reply"
        return _fallback(shape, quotable, question, units, sentences, scores, passages, (), best_score, thresholds, why)

    text, _ = parse_markers(raw, len(passages))
    asked = question if shape == "fact" else None  # a fact answer is judged as an answer to its question
    checks = [_check_claim(s, cited, passages, sentences, thresholds, judge, asked) for s, cited in claims(text)]
    if judge is not None and any(c.support is None and c.status != "empty" for c in checks):
        notes.append("the model gave no probabilities, so claims were checked by their words only")
    supported = [c for c in checks if c.evidence is not None]

    if shape == "open":
        if supported:
            return _generated(checks, passages, best_score, shape, notes)
        why = "no sentence of the reply is supported by the passages"
        return _fallback(
            shape, quotable, question, units, sentences, scores, passages, checks, best_score, thresholds, why
        )

    relevant = _relevance(supported, units, scores)
    typed = holds_answer_type(" ".join(c.sentence for c in supported), wanted, question)
    outranked = (
        quotable is not None
        and float(scores[quotable]) > relevant + thresholds.margin
        and not any(_overlaps(c.evidence, units[quotable]) for c in supported)
    )
    if supported and relevant >= thresholds.relevant and typed and not outranked:
        return _generated(checks, passages, best_score, shape, notes)

    why = (
        "no sentence of the reply is supported by the passages" if not supported
        else f"the reply does not state the {wanted} the question asks for" if not typed
        else "a passage sentence answers the question better than the reply's evidence" if outranked
        else "the reply's evidence does not address the question"
    )
    marked = [ClaimCheck(c.sentence, c.cited, "irrelevant", c.evidence, c.support) if c.evidence else c for c in checks]
    return _fallback(shape, quotable, question, units, sentences, scores, passages, marked, best_score, thresholds, why)


def _generated(
    checks: Sequence[ClaimCheck], passages: Sequence[Hit], best_score: float, shape: str, notes: Sequence[str]
) -> Verdict:
    text, citations, kept = _compose(checks, passages)
    return Verdict(text, citations, False, "generated", kept, best_score, tuple(notes), shape)


def _fallback(
    shape: str,
    quotable: int | None,
    question: str,
    units: Sequence[Evidence],
    sentences: Sequence[Evidence],
    scores: np.ndarray,
    passages: Sequence[Hit],
    checks: Sequence[ClaimCheck],
    best_score: float,
    thresholds: Thresholds,
    why: str,
) -> Verdict:
    """Quote what the passages say in place of a reply that failed, or refuse."""
    removed = tuple(_removed(c) for c in checks if c.status != "empty")
    if shape == "open":
        best = _summary_sentences(sentences, scores[: len(sentences)], thresholds.summary)
        chosen = _in_reading_order(best, passages)
        if chosen:
            return _quote_many(chosen, passages, removed, best_score, why)
    elif quotable is not None:
        if why == "the model found no answer in the passages":
            why = "the model found no answer, but a passage sentence clearly answers the question"
        return _quote_many([units[quotable]], passages, removed, best_score, why, lead="The articles say: ")
    if checks:  # the model's reply failed: say that nothing in the passages answers either
        why += ", and no passage sentence clearly does"
    return Verdict(REFUSAL, (), True, "refused", removed, best_score, (why,), shape)


def _quotable(
    question: str, wanted: str | None, units: Sequence[Evidence], scores: np.ndarray, extract: float
) -> int | None:
    """The best-matching passage sentence (or pair) that clearly answers the question: its evidence
    score reaches `extract` and it holds the kind of answer the question asks for."""
    for i in np.argsort(-scores, kind="stable"):
        if scores[i] < extract:
            return None
        if holds_answer_type(units[i].text, wanted, question):
            return int(i)
    return None


def extract_answer(
    question: str, passages: Sequence[Hit], embed: Embed, idf: Callable[[str], float], thresholds: Thresholds
) -> Verdict:
    """Answer an open question from the passages' own sentences, each cited: the ones that match the
    question best and say different things, in the order the articles tell them. No model writes
    anything, so nothing needs checking; the question is refused when no sentence matches it."""
    sentences = _evidence_units(passages)
    scores = _evidence_scores(question, sentences, embed, idf)
    best_score = float(scores.max()) if len(sentences) else 0.0
    chosen = _in_reading_order(_summary_sentences(sentences, scores, thresholds.summary, embed), passages)
    if not chosen:
        why = "no passage sentence matches the question"
        return Verdict(REFUSAL, (), True, "refused", (), best_score, (why,), "open")
    return _quote_many(chosen, passages, (), best_score, "the passages' sentences that answer it best")


def _summary_sentences(
    sentences: Sequence[Evidence], scores: np.ndarray, floor: float, embed: Embed | None = None, most: int = 6
) -> list[Evidence]:
    """The passage sentences that match the question best (up to `most`, each at least `floor`),
    each next one chosen for its score less its likeness to those already chosen (maximal marginal
    relevance), so two wordings of one fact are not both quoted; in the passages' order, so the
    answer reads as the articles do. A sentence two overlapping chunks share counts once."""
    unique: dict[tuple[int, str], int] = {}
    for i in np.argsort(-scores, kind="stable"):
        if scores[i] >= floor:
            unique.setdefault((sentences[i].start, sentences[i].text), int(i))
    pool = list(unique.values())
    vectors = embed([sentences[i].text for i in pool]) if embed is not None and pool else None
    picked: list[int] = []  # positions in pool
    while len(picked) < min(most, len(pool)):
        def worth(n: int) -> float:
            if vectors is None:
                return float(scores[pool[n]])
            likeness = max((float(vectors[n] @ vectors[m]) for m in picked), default=0.0)
            return float(scores[pool[n]]) - DIVERSITY * likeness

        picked.append(max((n for n in range(len(pool)) if n not in picked), key=worth))
    return [sentences[pool[n]] for n in picked]


DIVERSITY = 0.3  # how much a sentence's likeness to one already chosen counts against it


def _in_reading_order(chosen: Sequence[Evidence], passages: Sequence[Hit]) -> list[Evidence]:
    """The sentences as the articles tell them: by article (the best passage's first), then by place."""
    order: dict[str, int] = {}
    for hit in passages:
        order.setdefault(hit.chunk.doc_id, len(order))
    return sorted(chosen, key=lambda e: (order[passages[e.passage - 1].chunk.doc_id], e.start))


def _quote_many(
    chosen: Sequence[Evidence],
    passages: Sequence[Hit],
    removed: tuple[Claim, ...],
    best_score: float,
    why: str,
    lead: str = "",
) -> Verdict:
    """Quote passage sentences verbatim, each with its citation, in place of the model's reply."""
    citations = tuple(_citation(n, unit, passages) for n, unit in enumerate(chosen, start=1))
    quoted = tuple(Claim(" ".join(u.text.split()), "quoted", (n,)) for n, u in enumerate(chosen, start=1))
    text = lead + " ".join(f"“{c.text}” [{c.markers[0]}]" for c in quoted) if lead else _render(quoted)
    shape = "fact" if lead else "open"
    return Verdict(text, citations, False, "quoted", (*quoted, *removed), best_score, (why,), shape)


def _removed(check: ClaimCheck) -> Claim:
    reasons = {
        "unsupported": "no passage says it",
        "contradicted": "its passage says the opposite",
        "irrelevant": "it does not answer the question",
    }
    return Claim(check.sentence, "removed", (), reasons.get(check.status, check.status), check.support)


def _overlaps(a: Evidence | None, b: Evidence) -> bool:
    return a is not None and a.passage == b.passage and a.start < b.end and b.start < a.end


# -- evidence ---------------------------------------------------------------------------------
def _evidence_units(passages: Sequence[Hit]) -> list[Evidence]:
    """Every sentence of every passage, in order. A Markdown heading ("# Title") is not one: it
    names the article, it does not say anything an answer could quote."""
    units = []
    for n, hit in enumerate(passages, start=1):
        chunk = hit.chunk
        for start, end in sentence_spans(chunk.text):
            if not chunk.text[start:end].startswith("#"):
                units.append(Evidence(n, chunk.start + start, chunk.start + end, chunk.text[start:end]))
    return units


def _with_pairs(units: Sequence[Evidence], passages: Sequence[Hit]) -> list[Evidence]:
    """The sentences, then each run of two neighbouring sentences of one passage: an answer often
    sits in the sentence after the one that repeats the question's words."""
    pairs = []
    for first, second in itertools.pairwise(units):
        if first.passage == second.passage:
            chunk = passages[first.passage - 1].chunk
            text = chunk.text[first.start - chunk.start : second.end - chunk.start]
            pairs.append(Evidence(first.passage, first.start, second.end, text))
    return [*units, *pairs]


def _evidence_scores(question: str, units: Sequence[Evidence], embed: Embed, idf: Callable[[str], float]) -> np.ndarray:
    """For each passage sentence, how well it matches the question: the mean of its cosine
    similarity and the IDF-weighted share of the question's terms it contains."""
    if not units:
        return np.zeros(0)
    vectors = embed([question, *[u.text for u in units]])
    cosine = np.clip(vectors[1:] @ vectors[0], 0.0, 1.0)
    q_terms = set(terms(question))
    total = sum(idf(t) for t in q_terms) or 1.0
    lexical = np.array([sum(idf(t) for t in q_terms & set(terms(u.text))) / total for u in units])
    return 0.5 * cosine + 0.5 * lexical


def _relevance(supported: Sequence[ClaimCheck], units: Sequence[Evidence], scores: np.ndarray) -> float:
    best = 0.0
    for check in supported:
        for unit, score in zip(units, scores, strict=True):
            ev = check.evidence
            if ev and unit.passage == ev.passage and unit.start >= ev.start and unit.end <= ev.end:
                best = max(best, float(score))
    return best


# -- claims -----------------------------------------------------------------------------------
def _content(sentence: str) -> tuple[set[str], set[str], set[str]]:
    """(content terms, numbers, names) of a claim."""
    content = set(terms(sentence))
    nums = numbers(sentence)
    names = set()
    raw_words = re.findall(r"[^\W\d_][\w’'-]*", sentence)
    for i, word in enumerate(raw_words):
        # A capitalised word inside the sentence is taken for a name (the first word may just start it).
        if i > 0 and word[0].isupper() and fold(word) not in STOP_WORDS:
            names.update(terms(word))
    return content, nums, names


def _named(names: set[str], passage_terms: set[str]) -> bool:
    """Every name is in the passage, as written or as the start of a longer word: "Kazakh" is named
    by "Kazakhstan's"."""
    return all(any(t.startswith(name) for t in passage_terms) for name in names)


_QUOTED = re.compile(r"[\"“”„«»]([^\"“”„«»]+)[\"“”„«»]")


def _quoted(sentence: str) -> list[str]:
    """Phrases the claim puts in quotation marks (three words or more), folded for comparison."""
    return [q for q in (_plain(m.group(1)) for m in _QUOTED.finditer(sentence)) if len(q.split()) >= 3]


def _plain(text: str) -> str:
    return " ".join(fold(text).strip(" .,;:!?").split())


def _check_claim(
    sentence: str,
    cited: tuple[int, ...],
    passages: Sequence[Hit],
    units: Sequence[Evidence],
    thresholds: Thresholds,
    judge: Judge | None,
    question: str | None = None,
) -> ClaimCheck:
    content, nums, names = _content(sentence)
    if not content:
        return ClaimCheck(sentence, cited, "empty")
    quotes = _quoted(sentence)
    ranked = []
    for n, hit in enumerate(passages, start=1):
        # Numbers, names and quotations are exact: they must be in the passage as written. Names and
        # numbers may come from the rest of the passage ("He described …" is about the Tokayev named before).
        if not (nums <= numbers(hit.chunk.text) and _named(names, set(terms(hit.chunk.text)))):
            continue
        if not all(q in _plain(hit.chunk.text) for q in quotes):
            continue
        coverage = max((len(content & set(terms(u.text))) / len(content) for u in units if u.passage == n), default=0.0)
        ranked.append((coverage, n in cited, -n, n))
    ranked.sort(reverse=True)

    needed = content | nums | names
    if judge is None:
        return _by_words(sentence, cited, ranked, needed, units, thresholds.min_coverage)
    # The judge is asked about the best candidate and the best cited one, if that is another.
    candidates = [r for r in ranked if r[0] >= thresholds.candidate]
    tried = candidates[:1] + [r for r in candidates[1:] if r[1]][:1]
    best: tuple[float, Evidence] | None = None
    for _, _, _, n in tried:
        evidence = _narrow(needed, n, units)
        probability = judge(evidence.text, sentence, question)
        if probability is None:  # this generator cannot judge: fall back to the words
            return _by_words(sentence, cited, ranked, needed, units, thresholds.min_coverage)
        if best is None or probability > best[0]:
            best = (probability, evidence)
    if best is None:
        return ClaimCheck(sentence, cited, "unsupported")
    probability, evidence = best
    if probability < thresholds.support:
        return ClaimCheck(sentence, cited, "unsupported", None, probability)
    status = "supported" if evidence.passage in cited else "reassigned"
    return ClaimCheck(sentence, cited, status, evidence, probability)


def _by_words(
    sentence: str,
    cited: tuple[int, ...],
    ranked: Sequence[tuple[float, bool, int, int]],
    needed: set[str],
    units: Sequence[Evidence],
    min_coverage: float,
) -> ClaimCheck:
    """Supported when most of the claim's content terms are in one sentence of a passage."""
    ranked = [r for r in ranked if r[0] >= min_coverage]
    if not ranked:
        return ClaimCheck(sentence, cited, "unsupported")
    chosen = next((r[3] for r in ranked if r[3] in cited and r[0] >= ranked[0][0] - 1e-9), ranked[0][3])
    evidence = _narrow(needed, chosen, units)
    if _negated(sentence) != _negated(evidence.text):
        return ClaimCheck(sentence, cited, "contradicted")
    return ClaimCheck(sentence, cited, "supported" if chosen in cited else "reassigned", evidence)


_NEGATION = re.compile(r"\b(?:not|never|cannot|no longer|neither|nor)\b|n't\b")


def _negated(text: str) -> bool:
    return bool(_NEGATION.search(fold(text)))


def _narrow(needed: set[str], passage: int, units: Sequence[Evidence]) -> Evidence:
    """The shortest run of consecutive sentences of the passage that holds most of the claim."""
    own = [u for u in units if u.passage == passage]
    bags = [set(terms(u.text)) | numbers(u.text) for u in own]
    best: tuple[float, int, int] = (-1.0, 0, 0)
    for i in range(len(own)):
        covered: set[str] = set()
        for j in range(i, min(i + 3, len(own))):
            covered |= bags[j]
            score = len(needed & covered) / max(1, len(needed)) - 0.05 * (j - i)
            if score > best[0] + 1e-9:
                best = (score, i, j)
    _, i, j = best
    first, last = own[i], own[j]
    text = first.text if i == j else " ".join(u.text for u in own[i : j + 1])
    return Evidence(passage, first.start, last.end, text)


# -- answer -----------------------------------------------------------------------------------
def _compose(
    checks: Sequence[ClaimCheck], passages: Sequence[Hit]
) -> tuple[str, tuple[Citation, ...], tuple[Claim, ...]]:
    """The answer's claims in the reply's order, each kept one with the citation of its evidence
    (one citation per distinct span), and the text rendered from them."""
    citations: list[Citation] = []
    out: list[Claim] = []
    for check in checks:
        if check.status == "empty":
            continue
        if check.evidence is None:
            out.append(_removed(check))
            continue
        citation = _citation(len(citations) + 1, check.evidence, passages)
        key = (citation.chunk_id, citation.start, citation.end)
        same = next((c for c in citations if (c.chunk_id, c.start, c.end) == key), None)
        if same is None:
            citations.append(citation)
            same = citation
        out.append(Claim(check.sentence.strip(), "supported", (same.marker,), "", check.support))
    return _render(out), tuple(citations), tuple(out)


def _render(claims_: Sequence[Claim]) -> str:
    """The kept claims as prose, each followed by its markers: "They signed 14 documents [1]."."""
    parts = []
    for claim in claims_:
        if not claim.kept:
            continue
        markers = "".join(f"[{m}]" for m in claim.markers)
        sentence = claim.text.rstrip()
        if sentence and sentence[-1] in ".!?":
            parts.append(f"{sentence[:-1]} {markers}{sentence[-1]}")
        else:
            parts.append(f"{sentence} {markers}")
    return " ".join(parts)


def _citation(marker: int, evidence: Evidence, passages: Sequence[Hit]) -> Citation:
    hit = passages[evidence.passage - 1]
    chunk = hit.chunk
    quote = chunk.text[evidence.start - chunk.start : evidence.end - chunk.start]
    return Citation(marker, chunk.doc_id, hit.title, evidence.start, evidence.end, quote, chunk.id,
                    hit.published, hit.source, hit.url, hit.also_in)
