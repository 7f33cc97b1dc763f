"""Check a generated answer against the passages it was built from, sentence by sentence.

For each sentence of the model's reply:
- it is *supported* by a passage when every number and every name it states occurs in that
  passage, most of its content terms occur in one sentence of it (`Thresholds.min_coverage`,
  compared through `terms()`), and whatever it puts in quotation marks is in the passage word for
  word;
- a sentence cited to a passage that does not support it is re-assigned to the passage that does;
- a sentence no passage supports is removed (and reported in `Verdict.removed`), so a number or a
  name that appears in no retrieved passage is never presented as sourced;
- a sentence whose negation differs from its evidence ("not", "no longer") is *contradicted* and removed;
- each citation is narrowed to the exact sentence(s) of the passage that hold the claim.
Then the answer as a whole must be *relevant*: its evidence must match the question (lexically,
IDF-weighted, or by embedding similarity), it must hold the kind of answer the question asks for
(rag/answer_types.py: a year, a date, a count …), and no passage sentence holding that kind of
answer may match the question clearly better (`Thresholds.margin`). If nothing supported and
relevant is left, or the model itself found no answer, the best passage sentence is quoted when it
clearly answers the question, and otherwise the answer is an honest refusal with the closest
passages; `Verdict.notes` says why.
The `Thresholds` were chosen on the question set (see README, "How the thresholds were chosen").

Deliberately not here: generating text, or retrieving passages.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from rag.answer_types import expected_type, holds_answer_type
from rag.citations import MARKER, parse_markers, strip_markers
from rag.prompting import REFUSAL, looks_like_refusal
from rag.sentences import sentence_spans
from rag.terms import STOP_WORDS, fold, numbers, terms
from rag.types import Citation, Hit


@dataclass(frozen=True)
class Thresholds:
    """Chosen with scripts/calibrate.py on eval/questions.jsonl and qwen2.5-0.5b (see the README)."""

    min_coverage: float = 0.6  # share of a claim's content terms one sentence of its passage must contain
    relevant: float = 0.4  # evidence score at which a supported answer is taken to address the question
    extract: float = 0.55  # evidence score at which a passage sentence is quoted in place of a failed answer
    margin: float = 0.08  # how much better a quotable sentence must match the question to replace the reply


# A model's replies differ from another's, so each known model may have thresholds of its own,
# chosen the same way (scripts/calibrate.py --model NAME); other models get the default ones.
CALIBRATED: dict[str, Thresholds] = {
    "qwen2.5-1.5b": Thresholds(relevant=0.3),  # see the README, "How the thresholds were chosen"
}


def thresholds_for(model: str) -> Thresholds:
    return CALIBRATED.get(model, Thresholds())


Embed = Callable[[Sequence[str]], np.ndarray]

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


@dataclass(frozen=True)
class Verdict:
    text: str
    citations: tuple[Citation, ...]
    abstained: bool
    mode: str  # "generated", "quoted" (fallback to a passage), "refused"
    checks: tuple[ClaimCheck, ...] = ()
    removed: tuple[str, ...] = ()
    evidence_score: float = 0.0  # how well the best passage sentence matches the question, 0..1
    notes: tuple[str, ...] = field(default_factory=tuple)


def check_answer(
    question: str,
    raw: str,
    passages: Sequence[Hit],
    embed: Embed,
    idf: Callable[[str], float],
    thresholds: Thresholds = Thresholds(),
) -> Verdict:
    sentences = _evidence_units(passages)
    units = _with_pairs(sentences, passages)
    scores = _evidence_scores(question, units, embed, idf)
    best_score = float(scores.max()) if len(units) else 0.0
    wanted = expected_type(question)
    quotable = _quotable(question, wanted, units, scores, thresholds.extract)

    if not passages or not raw.strip() or looks_like_refusal(raw):
        if quotable is not None:  # the model may miss what a passage plainly says ("14 documents")
            why = "the model found no answer, but a passage sentence clearly answers the question"
            return _quote(quotable, units, passages, (), (), best_score, why)
        return _refusal(best_score, "the model found no answer in the passages" if raw.strip() else "no reply")

    text, _ = parse_markers(raw, len(passages))
    checks = [_check_sentence(s, cited, passages, sentences, thresholds.min_coverage) for s, cited in _claims(text)]
    supported = [c for c in checks if c.evidence is not None]
    relevant = _relevance(question, supported, units, scores)
    typed = holds_answer_type(" ".join(c.sentence for c in supported), wanted, question)
    outranked = (
        quotable is not None
        and float(scores[quotable]) > relevant + thresholds.margin
        and not any(_overlaps(c.evidence, units[quotable]) for c in supported)
    )

    if supported and relevant >= thresholds.relevant and typed and not outranked:
        answer, citations = _compose(supported, passages)
        removed = tuple(c.sentence for c in checks if c.evidence is None and c.status != "empty")
        return Verdict(answer, citations, False, "generated", tuple(checks), removed, best_score)

    why = (
        "no sentence of the reply is supported by the passages" if not supported
        else f"the reply does not state the {wanted} the question asks for" if not typed
        else "a passage sentence answers the question better than the reply's evidence" if outranked
        else "the reply's evidence does not address the question"
    )
    marked = tuple(
        ClaimCheck(c.sentence, c.cited, "irrelevant", c.evidence) if c.evidence else c for c in checks
    )
    removed = tuple(c.sentence for c in marked if c.status != "empty")
    if quotable is not None:
        return _quote(quotable, units, passages, marked, removed, best_score, why)
    verdict = _refusal(best_score, why + ", and no passage sentence clearly does")
    return Verdict(verdict.text, (), True, "refused", marked, removed, best_score, verdict.notes)


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


def _quote(
    i: int,
    units: Sequence[Evidence],
    passages: Sequence[Hit],
    checks: tuple[ClaimCheck, ...],
    removed: tuple[str, ...],
    best_score: float,
    why: str,
) -> Verdict:
    """Quote passage sentence i verbatim, with its citation, in place of the model's reply."""
    unit = units[i]
    quoted = " ".join(unit.text.split())  # the citation keeps the exact text; the answer reads as one line
    answer = f"The articles say: “{quoted}” [1]"
    return Verdict(answer, (_citation(1, unit, passages),), False, "quoted", checks, removed, best_score, (why,))


def _overlaps(a: Evidence | None, b: Evidence) -> bool:
    return a is not None and a.passage == b.passage and a.start < b.end and b.start < a.end


def _refusal(score: float, why: str) -> Verdict:
    return Verdict(REFUSAL, (), True, "refused", evidence_score=score, notes=(why,))


# -- evidence ---------------------------------------------------------------------------------
def _evidence_units(passages: Sequence[Hit]) -> list[Evidence]:
    """Every sentence of every passage, in order."""
    units = []
    for n, hit in enumerate(passages, start=1):
        chunk = hit.chunk
        for start, end in sentence_spans(chunk.text):
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


def _relevance(question: str, supported: Sequence[ClaimCheck], units: Sequence[Evidence], scores: np.ndarray) -> float:
    best = 0.0
    for check in supported:
        for unit, score in zip(units, scores, strict=True):
            ev = check.evidence
            if ev and unit.passage == ev.passage and unit.start >= ev.start and unit.end <= ev.end:
                best = max(best, float(score))
    return best


# -- claims -----------------------------------------------------------------------------------
_LIST_ITEM = re.compile(r"^\s*(?:\d{1,2}[.)]|[-*•])\s+")


def _claims(text: str) -> list[tuple[str, tuple[int, ...]]]:
    """Sentences of the reply with the passage numbers cited in each (markers may trail the period).
    Each item of a list ("1. Asia", "- Africa") is a claim of its own, without its bullet."""
    out: list[tuple[str, tuple[int, ...]]] = []
    for line in text.splitlines():
        line = _LIST_ITEM.sub("", line)
        for start, end in sentence_spans(line):
            piece = line[start:end]
            cited = tuple(int(n) for m in MARKER.finditer(piece) for n in re.findall(r"\d+", m.group(1)))
            sentence = strip_markers(piece)
            if not sentence.strip(" .") and out:  # a lone "[2]" after the period belongs to the sentence before
                prev, prev_cited = out[-1]
                out[-1] = (prev, prev_cited + cited)
                continue
            out.append((sentence, cited))
    return out


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


_QUOTED = re.compile(r"[\"“”„«»]([^\"“”„«»]+)[\"“”„«»]")


def _quoted(sentence: str) -> list[str]:
    """Phrases the claim puts in quotation marks (three words or more), folded for comparison."""
    return [q for q in (_plain(m.group(1)) for m in _QUOTED.finditer(sentence)) if len(q.split()) >= 3]


def _plain(text: str) -> str:
    return " ".join(fold(text).strip(" .,;:!?").split())


def _check_sentence(
    sentence: str, cited: tuple[int, ...], passages: Sequence[Hit], units: Sequence[Evidence], min_coverage: float
) -> ClaimCheck:
    content, nums, names = _content(sentence)
    if not content:
        return ClaimCheck(sentence, cited, "empty")
    quotes = _quoted(sentence)
    ranked = []
    for n, hit in enumerate(passages, start=1):
        passage_terms = set(terms(hit.chunk.text))
        passage_numbers = numbers(hit.chunk.text)
        # What the claim says must be said in one sentence: words gathered from two sentences can
        # make a claim neither of them makes ("the Kazakh leader interpreted being asked to give the
        # talk by saying that he viewed it as an important mechanism"). Its names and numbers may
        # come from the rest of the passage ("He described …" is about the Tokayev named before).
        coverage = max((len(content & set(terms(u.text))) / len(content) for u in units if u.passage == n), default=0.0)
        verbatim = all(q in _plain(hit.chunk.text) for q in quotes)  # a quotation must be word for word
        if nums <= passage_numbers and names <= passage_terms and coverage >= min_coverage and verbatim:
            ranked.append((coverage, n in cited, -n, n))
    if not ranked:
        return ClaimCheck(sentence, cited, "unsupported")
    ranked.sort(reverse=True)
    chosen = next((r[3] for r in ranked if r[3] in cited and r[0] >= ranked[0][0] - 1e-9), ranked[0][3])
    status = "supported" if chosen in cited else "reassigned"
    evidence = _narrow(content | nums | names, chosen, units)
    if _negated(sentence) != _negated(evidence.text):  # "a rhetorical discussion" / "no longer a rhetorical discussion"
        return ClaimCheck(sentence, cited, "contradicted")
    return ClaimCheck(sentence, cited, status, evidence)


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
    text = first.text if i == j else None
    return Evidence(passage, first.start, last.end, text or _span_text(own[i : j + 1]))


def _span_text(run: Sequence[Evidence]) -> str:
    return " ".join(u.text for u in run)


# -- answer -----------------------------------------------------------------------------------
def _compose(supported: Sequence[ClaimCheck], passages: Sequence[Hit]) -> tuple[str, tuple[Citation, ...]]:
    """Join the kept sentences, each followed by its marker; one citation per distinct span."""
    citations: list[Citation] = []
    parts = []
    for check in supported:
        assert check.evidence is not None
        key = (check.evidence.passage, check.evidence.start, check.evidence.end)
        marker = next(
            (c.marker for c in citations if (c.chunk_id, c.start, c.end) == (passages[key[0] - 1].chunk.id, *key[1:])),
            0,
        )
        if not marker:
            marker = len(citations) + 1
            citations.append(_citation(marker, check.evidence, passages))
        sentence = check.sentence.rstrip()
        if sentence and sentence[-1] in ".!?":
            parts.append(f"{sentence[:-1]} [{marker}]{sentence[-1]}")
        else:
            parts.append(f"{sentence} [{marker}]")
    return " ".join(parts), tuple(citations)


def _citation(marker: int, evidence: Evidence, passages: Sequence[Hit]) -> Citation:
    hit = passages[evidence.passage - 1]
    chunk = hit.chunk
    quote = chunk.text[evidence.start - chunk.start : evidence.end - chunk.start]
    return Citation(marker, chunk.doc_id, hit.title, evidence.start, evidence.end, quote, chunk.id)
