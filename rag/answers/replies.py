"""Read a model's reply: the refusal it may be, and the claims it makes with the passages each cites.

A reply is prose or a list, with `[n]` markers after its sentences. `claims` splits it into
sentences (each list item a claim of its own, without its bullet) and gives each the passage
numbers it cites; a marker standing alone after a sentence's full stop belongs to that sentence.

>>> claims("Tokayev met Koike [2]. They discussed trade. [1]")
[('Tokayev met Koike.', (2,)), ('They discussed trade.', (1,))]
>>> claims("Events:\\n1. A talk [1]\\n- A visit [2]")
[('Events:', ()), ('A talk', (1,)), ('A visit', (2,))]

Deliberately not here: whether a claim is true (checking.py) or how the prompt asks for it.
"""

from __future__ import annotations

import re

from rag.answers.markers import MARKER, strip_markers
from rag.text.sentences import sentence_spans

REFUSAL = "The articles do not say."

_REFUSAL_PATTERNS = (
    "do not say",
    "does not say",
    "don't say",
    "doesn't say",
    "not in the documents",
    "not in the articles",
    "not in the passages",
    "no information",
    "not mentioned",
    "not provided",
    "do not contain",
    "does not contain",
    "do not mention",
    "does not mention",
    "cannot answer",
    "can't answer",
    "not specified",
)


def looks_like_refusal(text: str) -> bool:
    """Whether a reply says the passages do not hold the answer.

    >>> looks_like_refusal("The articles do not say.")
    True
    >>> looks_like_refusal("They signed 14 documents [1].")
    False
    """
    lowered = text.lower().replace("’", "'")
    return any(pattern in lowered for pattern in _REFUSAL_PATTERNS)


_LIST_ITEM = re.compile(r"^\s*(?:\d{1,2}[.)]|[-*•])\s+")


def claims(text: str) -> list[tuple[str, tuple[int, ...]]]:
    """Sentences of the reply with the passage numbers cited in each (markers may trail the period)."""
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
