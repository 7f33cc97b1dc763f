"""Choose the passage sentences that answer an open question best, for when the model's own
sentences do not pass the checks: the ones that match the question best and say different
things, in the order the articles tell them.

Deliberately not here: writing them out with citations (composing.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rag.answers import evidence as ev
from rag.answers.evidence import Evidence
from rag.types import Hit

DIVERSITY = 0.3  # how much a sentence's likeness to one already chosen counts against it
MOST = 6  # sentences at most


def summary_sentences(
    question: str, passages: Sequence[Hit], embed: ev.Embed, idf: ev.Idf, floor: float, most: int = MOST
) -> list[Evidence]:
    """Up to `most` passage sentences, each matching the question at least `floor`, each next one
    chosen for its score less its likeness to those already chosen (maximal marginal relevance), so
    two wordings of one fact are not both quoted; in reading order. A sentence two overlapping
    passages share counts once."""
    units = ev.sentences(passages)
    scores = ev.question_scores(question, units, embed, idf)
    unique: dict[tuple[int, str], int] = {}
    for i in np.argsort(-scores, kind="stable"):
        if scores[i] >= floor:
            unique.setdefault((units[i].start, units[i].text), int(i))
    pool = list(unique.values())
    if not pool:
        return []
    vectors = embed([units[i].text for i in pool])
    picked: list[int] = []  # positions in pool
    while len(picked) < min(most, len(pool)):
        def worth(n: int) -> float:
            likeness = max((float(vectors[n] @ vectors[m]) for m in picked), default=0.0)
            return float(scores[pool[n]]) - DIVERSITY * likeness

        picked.append(max((n for n in range(len(pool)) if n not in picked), key=worth))
    return reading_order([units[pool[n]] for n in picked], passages)


def reading_order(chosen: Sequence[Evidence], passages: Sequence[Hit]) -> list[Evidence]:
    """The sentences as the articles tell them: by article (the best passage's first), then by place."""
    order: dict[str, int] = {}
    for hit in passages:
        order.setdefault(hit.chunk.doc_id, len(order))
    return sorted(chosen, key=lambda e: (order[passages[e.passage - 1].chunk.doc_id], e.start))
