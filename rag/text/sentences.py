"""Split text into sentences, as exact (start, end) character spans.

Rule-based and deliberately small: a sentence ends at . ! ? or … (plus any closing quotes or
brackets) when whitespace and an upper-case letter, digit or opening quote follow, and always at a
line break. Common abbreviations ("Mr.", "Dr.", "e.g.") and initials ("J. Smith") do not end a
sentence. Spans never include the surrounding whitespace, so `text[start:end]` is the sentence.

No sentence is longer than `MAX_SENTENCE_CHARS`: a longer run without a sentence end (a page of
words with no punctuation, a table flattened onto one line) is cut at the last whitespace before
the limit, or at the limit when there is none. That keeps everything downstream linear in the text.

>>> text = "Mr. Abe met him. They signed 14 documents!\\nNext line"
>>> [text[s:e] for s, e in sentence_spans(text)]
['Mr. Abe met him.', 'They signed 14 documents!', 'Next line']
"""

from __future__ import annotations

import re

MAX_SENTENCE_CHARS = 1000  # well above real sentences; MiniLM reads about this much (256 word pieces)

_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof st jr sr vs etc e.g i.e inc ltd co corp gen col lt sgt rep sen gov no vol fig approx".split()
)
# The look-behind makes a run of "....." one candidate, not one per dot (which was quadratic).
_END = re.compile(r"(?<![.!?…])[.!?…]+[\"'”’»)\]]*(?=\s+[\"'“‘«(\[]?[A-ZА-ЯЁ0-9])")
_WORD_BEFORE = re.compile(r"([\w.]+)$")
_LONGEST_ABBREVIATION = 16  # chars looked at before a dot: enough for any abbreviation or initial


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
    while start < end and line[start].isspace():
        start += 1
    while end > start and line[end - 1].isspace():
        end -= 1
    while end - start > MAX_SENTENCE_CHARS:
        cut = _last_space(line, start + MAX_SENTENCE_CHARS // 2, start + MAX_SENTENCE_CHARS)
        spans.append((offset + start, offset + cut))
        start = cut
        while start < end and line[start].isspace():
            start += 1
    if start < end:
        spans.append((offset + start, offset + end))


def _last_space(line: str, low: int, high: int) -> int:
    """Where to cut before `high`: the start of the last whitespace run after `low`, else `high`."""
    for i in range(high, low, -1):
        if line[i].isspace() and not line[i - 1].isspace():
            return i
    return high


def _is_abbreviation(line: str, dot: int) -> bool:
    if line[dot] != ".":
        return False
    # Only the few characters before the dot: searching all of `line[:dot]` made long lines quadratic.
    word = _WORD_BEFORE.search(line, max(0, dot - _LONGEST_ABBREVIATION - 1), dot)
    if not word:
        return False
    token = word.group(1).lower().rstrip(".")
    return token in _ABBREVIATIONS or (len(token) == 1 and token.isalpha())
