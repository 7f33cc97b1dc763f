"""Read the `[n]` markers in a model's reply: which passages each part of it cites.

Markers are 1-based passage numbers, as numbered in the prompt. A marker that points at no passage
is dropped from the text and logged: it is never mapped to some other passage. Forms understood:
"[2]", "[1, 3]", "[1][3]", "[Passage 2]". Only the model's raw reply is read this way: the checked
`Answer` carries its claims and citations as data (rag/types.py), so nothing downstream parses
markers back out of text.

Deliberately not here: building citations (composing.py turns a claim's evidence into one).

>>> parse_markers("Fourteen documents were signed [1][7]. [2, 1]", passages=3)
('Fourteen documents were signed [1]. [2][1]', [1, 2])
"""

from __future__ import annotations

import logging
import re

log = logging.getLogger(__name__)

MARKER = re.compile(r"\[\s*(?:passages?\s*)?(\d+(?:\s*(?:,|and)\s*\d+)*)\s*\]", re.IGNORECASE)


def parse_markers(text: str, passages: int) -> tuple[str, list[int]]:
    """The text with out-of-range markers removed and lists split, and the valid numbers in order."""
    used: list[int] = []

    def replace(match: re.Match[str]) -> str:
        numbers = [int(n) for n in re.findall(r"\d+", match.group(1))]
        valid = []
        for n in numbers:
            if 1 <= n <= passages:
                valid.append(n)
                if n not in used:
                    used.append(n)
            else:
                log.warning("Dropping citation [%d]: there are only %d passages", n, passages)
        return "".join(f"[{n}]" for n in valid)

    cleaned = MARKER.sub(replace, text)
    cleaned = re.sub(r"[ \t]+([.,;:!?])", r"\1", cleaned)  # " ." left behind by a dropped marker
    return re.sub(r"[ \t]{2,}", " ", cleaned).strip(), used


def strip_markers(text: str) -> str:
    """The text without its markers.

    >>> strip_markers("Naruhito [1]. He met Koike [2, 3].")
    'Naruhito. He met Koike.'
    """
    return re.sub(r"\s*" + MARKER.pattern, "", text, flags=re.IGNORECASE).strip()
