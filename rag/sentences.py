"""Split text into sentences, as exact (start, end) character spans.

Rule-based and deliberately small: a sentence ends at . ! ? or … (plus any closing quotes or
brackets) when whitespace and an upper-case letter, digit or opening quote follow, and always at a
line break. Common abbreviations ("Mr.", "Dr.", "e.g.") and initials ("J. Smith") do not end a
sentence. Spans never include the surrounding whitespace, so `text[start:end]` is the sentence.

>>> text = "Mr. Abe met him. They signed 14 documents!\\nNext line"
>>> [text[s:e] for s, e in sentence_spans(text)]
['Mr. Abe met him.', 'They signed 14 documents!', 'Next line']
"""

from __future__ import annotations

import re

_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof st jr sr vs etc e.g i.e inc ltd co corp gen col lt sgt rep sen gov no vol fig approx".split()
)
_END = re.compile(r"[.!?…]+[\"'”’»)\]]*(?=\s+[\"'“‘«(\[]?[A-ZА-ЯЁ0-9])")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for line_start, line in _lines(text):
        start = 0
        for match in _END.finditer(line):
            if _is_abbreviation(line, match.start()):
                continue
            _add(spans, line, line_start, start, match.end())
            start = match.end()
        _add(spans, line, line_start, start, len(line))
    return spans


def _lines(text: str) -> list[tuple[int, str]]:
    out, pos = [], 0
    for line in text.split("\n"):
        out.append((pos, line))
        pos += len(line) + 1
    return out


def _add(spans: list[tuple[int, int]], line: str, offset: int, start: int, end: int) -> None:
    piece = line[start:end]
    stripped = piece.strip()
    if stripped:
        lead = len(piece) - len(piece.lstrip())
        s = offset + start + lead
        spans.append((s, s + len(stripped)))


def _is_abbreviation(line: str, dot: int) -> bool:
    if line[dot] != ".":
        return False
    word = re.search(r"([\w.]+)$", line[:dot])
    if not word:
        return False
    token = word.group(1).lower().rstrip(".")
    return token in _ABBREVIATIONS or (len(token) == 1 and token.isalpha())
