"""Write an answer out: its claims as prose with `[n]` markers, and one citation per exact span.

A kept claim is cited to its evidence, the exact sentence(s) of the document it rests on; two
claims resting on the same span share one citation. A quote is the words of a passage sentence in
quotation marks, cited the same way. Markers are numbered in the order the citations first appear.

>>> render([Claim("They signed 14 documents.", "supported", (1,))])
'They signed 14 documents [1].'

Deliberately not here: deciding which claims are kept (checking.py) or what to quote (answering.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from rag.answers.checking import ClaimCheck
from rag.answers.evidence import Evidence
from rag.types import Citation, Claim, Hit

REASONS = {
    "unsupported": "no passage sentence says it",
    "contradicted": "its passage says the opposite",
    "off-question": "it does not answer the question",
}


def removed(check: ClaimCheck) -> Claim:
    return Claim(check.sentence.strip(), "removed", (), REASONS.get(check.status, check.status), check.support)


Made = tuple[str, tuple["Citation", ...], tuple["Claim", ...]]  # text, citations, claims


def compose(checks: Sequence[ClaimCheck], passages: Sequence[Hit]) -> Made:
    """The reply's claims in order, each kept one with the citation of its evidence (one citation per
    distinct span), removed ones marked so; and the text rendered from the kept ones."""
    citations: list[Citation] = []
    out: list[Claim] = []
    for check in checks:
        if check.status == "empty":
            continue
        if check.evidence is None:
            out.append(removed(check))
            continue
        marker = _cite(check.evidence, passages, citations)
        out.append(Claim(check.sentence.strip(), "supported", (marker,), "", check.support))
    return render(out), tuple(citations), tuple(out)


def compose_with_quotes(checks: Sequence[ClaimCheck], missing: Sequence[Evidence], passages: Sequence[Hit]) -> Made:
    """An open answer: the kept claims in the model's words, and the chosen sentences none of them
    says (`missing`, quoted verbatim), all in the articles' order, each cited; removed claims last."""
    citations: list[Citation] = []
    items: list[tuple[tuple[int, int], Evidence, ClaimCheck | None]] = []
    order: dict[str, int] = {}
    for hit in passages:
        order.setdefault(hit.chunk.doc_id, len(order))
    for check in checks:
        if check.evidence is not None:
            items.append(((order[passages[check.evidence.passage - 1].chunk.doc_id], check.evidence.start),
                          check.evidence, check))
    for unit in missing:
        items.append(((order[passages[unit.passage - 1].chunk.doc_id], unit.start), unit, None))
    out: list[Claim] = []
    for _, evidence, kept in sorted(items, key=lambda item: item[0]):
        marker = _cite(evidence, passages, citations)
        if kept is None:
            out.append(Claim(" ".join(evidence.text.split()), "quoted", (marker,)))
        else:
            out.append(Claim(kept.sentence.strip(), "supported", (marker,), "", kept.support))
    out.extend(removed(c) for c in checks if c.evidence is None and c.status != "empty")
    return render(out), tuple(citations), tuple(out)


def quote(units: Sequence[Evidence], passages: Sequence[Hit], lead: str = "") -> Made:
    """Passage words quoted verbatim, each with its citation: after `lead` in quotation marks
    (a fact's short quote), or as sentences of their own (an open question's extracted answer)."""
    citations: list[Citation] = []
    quoted = tuple(Claim(" ".join(u.text.split()), "quoted", (_cite(u, passages, citations),)) for u in units)
    if lead:
        text = lead + " ".join(f"“{c.text}” [{c.markers[0]}]" for c in quoted)
        return text, tuple(citations), quoted
    return render(quoted), tuple(citations), quoted


def dated_list(events: Sequence[tuple[str, Evidence]], passages: Sequence[Hit]) -> Made:
    """A timeline: one line per event, its date first, then the passage sentence quoted verbatim
    and cited: "- **18 December 2025**: On December 18, … in Tokyo [1]."; a sentence with no
    known date has no label (`events` label "")."""
    citations: list[Citation] = []
    claims = tuple(Claim(" ".join(u.text.split()), "quoted", (_cite(u, passages, citations),)) for _, u in events)
    lines = [f"- **{label}**: {render([claim])}" if label else f"- {render([claim])}"
             for (label, _), claim in zip(events, claims, strict=True)]
    return "\n".join(lines), tuple(citations), claims


def render(claims: Sequence[Claim]) -> str:
    """The kept claims as prose, each followed by its markers: "They signed 14 documents [1]."."""
    parts = []
    for claim in claims:
        if not claim.kept:
            continue
        markers = "".join(f"[{m}]" for m in claim.markers)
        sentence = claim.text.rstrip()
        if sentence and sentence[-1] in ".!?":
            parts.append(f"{sentence[:-1]} {markers}{sentence[-1]}")
        else:
            parts.append(f"{sentence} {markers}")
    return " ".join(parts)


def _cite(evidence: Evidence, passages: Sequence[Hit], citations: list[Citation]) -> int:
    """The marker of the citation for this span, added when it is new."""
    hit = passages[evidence.passage - 1]
    chunk = hit.chunk
    for c in citations:
        if (c.doc_id, c.start, c.end) == (chunk.doc_id, evidence.start, evidence.end):
            return c.marker
    quote_text = chunk.text[evidence.start - chunk.start : evidence.end - chunk.start]
    citation = Citation(len(citations) + 1, chunk.doc_id, hit.title, evidence.start, evidence.end, quote_text,
                        chunk.id, hit.published, hit.source, hit.url, hit.also_in)
    citations.append(citation)
    return citation.marker
