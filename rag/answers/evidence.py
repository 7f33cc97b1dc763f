"""Find, in the retrieved passages, the sentence that can stand behind a question or a claim.

The unit of evidence is a passage sentence (`Evidence`: its passage number and exact span in the
document), or a short run of neighbouring sentences. Two lookups:
- for a *question*, how well each sentence matches it (`question_scores`: the mean of MiniLM cosine
  similarity and the IDF-weighted share of the question's terms the sentence holds), to choose the
  sentences a repair prompt shows and a quote comes from;
- for a *claim* of a reply, the passages that may support it (`candidates`): its numbers and names
  must be in the passage as written, and whatever it puts in quotation marks word for word (these
  are exact, so they are checked exactly), ranked by the share of its content terms one sentence
  holds; `narrow` then gives the shortest run of sentences holding most of it.

Markdown headings ("# Title") are not evidence: they name an article, they say nothing a claim
could rest on.

>>> from rag.types import Chunk, Hit
>>> hit = Hit(Chunk("c", "d", "# Visit\\nThey met. They signed 14 documents.", 0, 43), 1.0, 1)
>>> [u.text for u in sentences([hit])]
['They met.', 'They signed 14 documents.']

Deliberately not here: asking a model whether the evidence says the claim (judging.py) or what to
do with the answer (answering.py).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence, Set
from dataclasses import dataclass

import numpy as np

from rag.text.sentences import sentence_spans
from rag.text.terms import STOP_WORDS, fold, numbers, terms
from rag.types import Hit

Embed = Callable[[Sequence[str]], np.ndarray]
Idf = Callable[[str], float]


@dataclass(frozen=True)
class Evidence:
    passage: int  # 1-based passage number, as in the prompt
    start: int  # character span in the document
    end: int
    text: str  # document.text[start:end]


def sentences(passages: Sequence[Hit]) -> list[Evidence]:
    """Every sentence of every passage, in order, without Markdown headings."""
    units = []
    for n, hit in enumerate(passages, start=1):
        chunk = hit.chunk
        for start, end in sentence_spans(chunk.text):
            if not chunk.text[start:end].startswith("#"):
                units.append(Evidence(n, chunk.start + start, chunk.start + end, chunk.text[start:end]))
    return units


def with_pairs(units: Sequence[Evidence], passages: Sequence[Hit]) -> list[Evidence]:
    """The sentences, then each run of two neighbouring sentences of one passage: an answer often
    sits in the sentence after the one that repeats the question's words."""
    pairs = []
    for first, second in itertools.pairwise(units):
        if first.passage == second.passage:
            chunk = passages[first.passage - 1].chunk
            text = chunk.text[first.start - chunk.start : second.end - chunk.start]
            pairs.append(Evidence(first.passage, first.start, second.end, text))
    return [*units, *pairs]


def question_scores(question: str, units: Sequence[Evidence], embed: Embed, idf: Idf) -> np.ndarray:
    """For each unit, how well it matches the question, 0..1: the mean of its cosine similarity
    and the IDF-weighted share of the question's terms it contains."""
    if not units:
        return np.zeros(0)
    vectors = embed([question, *[u.text for u in units]])
    cosine = np.clip(vectors[1:] @ vectors[0], 0.0, 1.0)
    q_terms = set(terms(question))
    total = sum(idf(t) for t in q_terms) or 1.0
    lexical = np.array([sum(idf(t) for t in q_terms & set(terms(u.text))) / total for u in units])
    return np.asarray(0.5 * cosine + 0.5 * lexical)


def best_sentences(question: str, passages: Sequence[Hit], embed: Embed, idf: Idf, n: int) -> list[Evidence]:
    """The `n` sentences that match the question best, best first (one of two copies of a sentence
    that overlapping passages share)."""
    units = sentences(passages)
    scores = question_scores(question, units, embed, idf)
    chosen: list[Evidence] = []
    seen: set[tuple[int, int]] = set()
    for i in np.argsort(-scores, kind="stable"):
        unit = units[int(i)]
        if (unit.start, unit.end) in seen:
            continue
        seen.add((unit.start, unit.end))
        chosen.append(unit)
        if len(chosen) == n:
            break
    return chosen


# -- a claim's evidence --------------------------------------------------------------------------
@dataclass(frozen=True)
class ClaimTerms:
    content: frozenset[str]  # its content terms (stemmed, no stop words)
    numbers: frozenset[str]
    names: frozenset[str]  # capitalised words inside the sentence, taken for names
    quotes: tuple[str, ...]  # what it puts in quotation marks (three words or more), folded

    @property
    def needed(self) -> set[str]:
        return set(self.content | self.numbers | self.names)


def claim_terms(sentence: str) -> ClaimTerms:
    content = set(terms(sentence))
    names = set()
    raw_words = re.findall(r"[^\W\d_][\w’'-]*", sentence)
    for i, word in enumerate(raw_words):
        # A capitalised word inside the sentence is taken for a name (the first word may just start it).
        if i > 0 and word[0].isupper() and fold(word) not in STOP_WORDS:
            names.update(terms(word))
    return ClaimTerms(frozenset(content), frozenset(numbers(sentence)), frozenset(names), tuple(_quoted(sentence)))


def _named(names: frozenset[str], passage_terms: set[str]) -> bool:
    """Every name is in the passage, as written or as the start of a longer word: "Kazakh" is named
    by "Kazakhstan's"."""
    return all(any(t.startswith(name) for t in passage_terms) for name in names)


_QUOTED = re.compile(r"[\"“”„«»]([^\"“”„«»]+)[\"“”„«»]")


def _quoted(sentence: str) -> list[str]:
    return [q for q in (plain(m.group(1)) for m in _QUOTED.finditer(sentence)) if len(q.split()) >= 3]


def plain(text: str) -> str:
    return " ".join(fold(text).strip(" .,;:!?").split())


@dataclass(frozen=True)
class Candidate:
    passage: int
    coverage: float  # the largest share of the claim's content terms one sentence of it holds
    cited: bool  # the reply cited this passage


def candidates(
    claim: ClaimTerms, cited: Sequence[int], passages: Sequence[Hit], units: Sequence[Evidence]
) -> list[Candidate]:
    """The passages that may support the claim, best first: they hold its numbers, names and
    quotations exactly; ranked by coverage, then whether the reply cited them, then order."""
    ranked = []
    for n, hit in enumerate(passages, start=1):
        text = hit.chunk.text
        # Names and numbers may come from the rest of the passage ("He described …" is about the
        # Tokayev named before).
        if not (claim.numbers <= numbers(text) and _named(claim.names, set(terms(text)))):
            continue
        if not all(q in plain(text) for q in claim.quotes):
            continue
        own = [u for u in units if u.passage == n]
        coverage = max((len(claim.content & set(terms(u.text))) / max(1, len(claim.content)) for u in own),
                       default=0.0)
        ranked.append(Candidate(n, coverage, n in cited))
    ranked.sort(key=lambda c: (c.coverage, c.cited, -c.passage), reverse=True)
    return ranked


def narrow(needed: set[str], passage: int, units: Sequence[Evidence], known: Set[str] = frozenset()) -> Evidence:
    """The shortest run of consecutive sentences of the passage (up to three) that holds most of
    the claim's terms. With `known` (the question's terms), what the claim adds to the question
    counts first: "The first director of the Riverton Museum was Margaret Holloway" cites the sentence
    naming Holloway, not also the one before that names the museum the question already named.

    >>> from rag.types import Chunk, Hit
    >>> text = "The Riverton Museum opened in 1899. Its first director was Margaret Holloway."
    >>> units = sentences([Hit(Chunk("c", "d", text, 0, len(text)), 1.0, 1)])
    >>> claim = claim_terms("The first director of the Riverton Museum was Margaret Holloway.")
    >>> narrow(claim.needed, 1, units).text
    'The Riverton Museum opened in 1899. Its first director was Margaret Holloway.'
    >>> narrow(claim.needed, 1, units, set(terms("Who was the first director of the Riverton Museum?"))).text
    'Its first director was Margaret Holloway.'
    """
    own = [u for u in units if u.passage == passage]
    bags = [set(terms(u.text)) | numbers(u.text) for u in own]
    new = needed - set(known)
    best: tuple[tuple[float, float], int, int] = ((-1.0, -1.0), 0, 0)
    for i in range(len(own)):
        covered: set[str] = set()
        for j in range(i, min(i + 3, len(own))):
            covered |= bags[j]
            share = len(needed & covered) / max(1, len(needed))
            added = len(new & covered) / len(new) if new else share
            score = (round(added - 0.05 * (j - i), 9), round(share - 0.05 * (j - i), 9))
            if score > best[0]:
                best = (score, i, j)
    _, i, j = best
    first, last = own[i], own[j]
    text = first.text if i == j else " ".join(u.text for u in own[i : j + 1])
    return Evidence(passage, first.start, last.end, text)


def overlaps(a: Evidence | None, b: Evidence) -> bool:
    return a is not None and a.passage == b.passage and a.start < b.end and b.start < a.end
