"""Pure scoring functions for the evaluation: answer matching, token F1, spans, citations, speed.

Everything here takes plain strings, numbers and `Span`s and returns plain values, so each rule can
be unit-tested on hand-made cases. The texts are an answer's claims as data (`Answer.claims`), never
its rendered text with `[n]` markers.

`citation_support` is a judge of its own, by words, on purpose: the evaluation must not grade the
checker with the checker's own judge (rag/answers/judging.py), or a fault of that judge would pass unseen.
It is strict about the accepted answer and lenient about wording, so it errs towards calling a
paraphrase unsupported; the reports show each such case for a reader to look at.

Deliberately not here: reading question files (dataset.py), running the assistant (runner.py)
or deciding what a whole case scores (scoring.py).

Answer matching normalises both sides (lower case, NFKC, straight quotes, dashes to spaces, other
punctuation removed, whitespace collapsed) and then looks for an accepted answer in the text,
starting at a word boundary:

>>> answer_matches("They signed fourteen documents.", ["14", "fourteen"])
True
>>> answer_matches("They signed 140 documents.", ["14"])
False
>>> answer_matches("He arrived on Dec. 17th.", ["Dec 17"])
True
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "‘": "'", "’": "'", "‚": "'", "`": "'"})
_ARTICLES = frozenset({"a", "an", "the"})
# Words of four letters or more that carry no claim of their own.
_STOP_WORDS = frozenset(
    """about according after also among answer another article articles been before being both could
    does during each from have having here into itself just many more most much must only other over
    passage passages question said same says should some such than that their them then there these
    they this those through under very well were what when where which while will with would your""".split()
)
CONTENT_WORD_SHARE = 0.6  # a sentence is supported when the quote holds this share of its content words
REST_WORD_SHARE = 0.5  # ... or, when it states an accepted answer, this share of its other content words


@dataclass(frozen=True)
class Span:
    """A character range of one indexed document: `document.text[start:end]`."""

    doc_id: str
    start: int
    end: int

    def __len__(self) -> int:
        return max(0, self.end - self.start)


# -- text --------------------------------------------------------------------------------------


def normalise(text: str) -> str:
    """Lower case, NFKC, dashes and slashes to spaces, other punctuation removed, spaces collapsed.

    >>> normalise("Kassym-Jomart Tokayev’s “2.7 trillion” — U.S.")
    'kassym jomart tokayevs 27 trillion us'
    """
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES).lower()
    out = []
    for char in text:
        category = unicodedata.category(char)
        if category == "Pd" or char in "/\\":
            out.append(" ")
        elif category[0] in "PS":
            continue
        else:
            out.append(char)
    return " ".join("".join(out).split())


_NUMBER_WORDS = {
    w: str(n)
    for n, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
        "seventeen eighteen nineteen twenty".split()
    )
}


def _without_articles(text: str) -> str:
    """Articles left out, and number words up to twenty written as digits ("four" is "4")."""
    return " ".join(_NUMBER_WORDS.get(w, w) for w in text.split() if w not in _ARTICLES)


def _phrase_pattern(phrase: str) -> re.Pattern[str] | None:
    """Starts at a word boundary; a phrase ending in a digit must not run on into more digits."""
    words = _without_articles(normalise(phrase))
    if not words:
        return None
    tail = r"(?!\d)" if words[-1].isdigit() else ""
    return re.compile(r"(?<!\w)" + re.escape(words) + tail)


def contains_phrase(text: str, phrase: str) -> bool:
    """Whether the normalised `text` contains the normalised `phrase`, starting at a word boundary.

    As eval/README.md says, an accepted answer is looked for as contained text, so "Central Asia"
    is found in "Central Asian states"; but not inside another word, and "14" is not found in "140"
    or "2014" (while "17" is in "17th"). Articles (a, an, the) are left out on both sides, as
    SQuAD's scoring does, so "the Charles River" is found in "Charles River".

    >>> contains_phrase("Russia, China and Central Asian states", "Central Asia")
    True
    >>> contains_phrase("It is near Charles River.", "the Charles River")
    True
    >>> contains_phrase("They signed 140 documents in 2014.", "14"), contains_phrase("Dec. 17th", "Dec 17")
    (False, True)
    >>> contains_phrase("Thomas Davis had 4 forced fumbles.", "four")
    True
    """
    pattern = _phrase_pattern(phrase)
    return bool(pattern and pattern.search(_without_articles(normalise(text))))


def answer_matches(text: str, answers: Sequence[str], all_of: Sequence[str] = ()) -> bool:
    """Whether `text` states one of the accepted `answers` and, for list questions, every `all_of` item."""
    return any(contains_phrase(text, a) for a in answers) and all(contains_phrase(text, a) for a in all_of)


def missing_items(text: str, all_of: Sequence[str]) -> list[str]:
    """The `all_of` items that `text` does not state."""
    return [item for item in all_of if not contains_phrase(text, item)]


def _f1_tokens(text: str) -> list[str]:
    return [t for t in normalise(text).split() if t not in _ARTICLES]


def token_f1(text: str, references: Iterable[str]) -> float:
    """The best SQuAD-style token F1 (articles dropped) of `text` against any reference.

    >>> round(token_f1("Emperor Naruhito.", ["Naruhito"]), 2)
    0.67
    >>> token_f1("", ["Naruhito"])
    0.0
    """
    predicted = Counter(_f1_tokens(text))
    best = 0.0
    for reference in references:
        expected = Counter(_f1_tokens(reference))
        common = sum((predicted & expected).values())
        if common:
            precision, recall = common / sum(predicted.values()), common / sum(expected.values())
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def exact_match(text: str, references: Iterable[str]) -> bool:
    """SQuAD's exact match: the normalised text (articles dropped) equals a normalised reference.

    >>> exact_match("The Rhineland.", ["Rhineland"]), exact_match("It was the Rhineland.", ["Rhineland"])
    (True, False)
    """
    said = _f1_tokens(text)
    return any(said == _f1_tokens(reference) for reference in references)


DIRECT_WORDS = 30  # a direct answer says it in at most this many words …
DIRECT_SLACK = 20  # … or in the accepted answer's words plus this many, when that is more


def words_in(text: str) -> int:
    return len(normalise(text).split())


def is_direct(text: str, answers: Sequence[str], all_of: Sequence[str] = ()) -> bool:
    """Whether `text` is a direct answer by its length: at most 30 words, or the accepted answer's
    words plus 20 when that is more (a list answer needs room for its items). A reply of one or
    two sentences passes; a pasted paragraph (the old checker's median was 43 words) does not.

    Why a length bound and not SQuAD F1: F1 against a short span ("Henry Cole") marks down the
    full sentence a reader wants ("Henry Cole was the museum's first director": 0.44) as much as
    padding, so a threshold on it would reward bare fragments. The length bound only rules out
    what is not an answer but a passage.

    >>> is_direct("Henry Cole was the museum's first director.", ["Henry Cole"])
    True
    >>> is_direct(" ".join(["word"] * 31), ["Henry Cole"])
    False
    """
    gold = words_in(", ".join(all_of)) if all_of else min((words_in(a) for a in answers), default=0)
    return words_in(text) <= max(DIRECT_WORDS, gold + DIRECT_SLACK)


# -- retrieval ---------------------------------------------------------------------------------


def overlap(a: Span, b: Span) -> int:
    """Characters two spans share (0 for different documents)."""
    if a.doc_id != b.doc_id:
        return 0
    return max(0, min(a.end, b.end) - max(a.start, b.start))


def covers(passage: Span, quote: Span) -> bool:
    """Whether a passage holds the quote: all of it, or at least half of a quote longer than the passage.

    >>> covers(Span("a", 0, 100), Span("a", 10, 40)), covers(Span("a", 0, 100), Span("a", 90, 120))
    (True, False)
    >>> covers(Span("a", 0, 100), Span("a", 40, 220))  # quote longer than the passage, not half of it
    False
    """
    shared = overlap(passage, quote)
    if shared >= len(quote):
        return True
    return len(quote) > len(passage) and shared * 2 >= len(quote)


def first_hit_rank(passages: Sequence[Span], quotes: Sequence[Span]) -> int | None:
    """1-based position of the first passage that covers any of the quotes, or None."""
    for rank, passage in enumerate(passages, start=1):
        if any(covers(passage, quote) for quote in quotes):
            return rank
    return None


def recall_at_k(ranks: Sequence[int | None], k: int) -> float | None:
    """Share of cases whose supporting passage is among the first k (None when there are no cases).

    >>> recall_at_k([1, 3, None, 5], k=4)
    0.5
    """
    if not ranks:
        return None
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks)


def mean_reciprocal_rank(ranks: Sequence[int | None], k: int) -> float | None:
    """Mean of 1/rank over the cases, counting a miss (or a rank beyond k) as 0.

    >>> mean_reciprocal_rank([1, 2, None, 5], k=4)
    0.375
    """
    if not ranks:
        return None
    return sum(1 / r for r in ranks if r is not None and r <= k) / len(ranks)


# -- citations ---------------------------------------------------------------------------------


def _stem(word: str) -> str:
    """Crude suffix stripping so "signed" meets "signing" and "arrive" meets "arrived".

    >>> [_stem(w) for w in ("signed", "signing", "arrive", "arrives", "documents", "ended")]
    ['sign', 'sign', 'arriv', 'arriv', 'document', 'end']
    """
    if word.isdigit():
        return word
    for suffix in ("ing", "ed", "es", "s", "e"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def content_words(text: str) -> list[str]:
    """Words of four letters or more that are not stop words, and every number, stemmed.

    >>> content_words("The meeting ended with signing 14 documents.")
    ['meet', 'end', 'sign', '14', 'document']
    """
    words = normalise(text).split()
    kept = [w for w in words if any(c.isdigit() for c in w) or (len(w) >= 4 and w not in _STOP_WORDS)]
    return [_stem(w) for w in kept]


def same_word(a: str, b: str) -> bool:
    """Stems match when equal, or when one word is the start of the other ("refer", "referenc").

    >>> same_word("refer", "referenc"), same_word("14", "140"), same_word("sign", "signal")
    (True, False, True)
    """
    if a == b:
        return True
    shorter, longer = sorted((a, b), key=len)
    return len(shorter) >= 4 and shorter.isalpha() and longer.startswith(shorter)


def word_share(words: Sequence[str], text: str) -> float:
    """Share of `words` (already stemmed) found among the content words of `text`; 1.0 for none."""
    if not words:
        return 1.0
    available = set(content_words(text))
    return sum(1 for w in words if w in available or any(same_word(w, a) for a in available)) / len(words)


def citation_support(
    sentence: str, quote: str, answers: Sequence[str], all_of: Sequence[str] = (), question: str = ""
) -> tuple[bool, str]:
    """Whether the cited `quote` supports the `sentence` it is attached to, and if not, why.

    When the sentence states an accepted answer (or list item), the quote must hold an accepted
    answer (and each list item the sentence states), and also half of the sentence's other content
    words, ignoring words taken from the question: the latter catches the right name given for the
    wrong role. A sentence stating no accepted answer needs 60% of its content words in the quote.
    """
    stated = [a for a in answers if contains_phrase(sentence, a)]
    items = [a for a in all_of if contains_phrase(sentence, a)]
    words = content_words(sentence)
    if not stated and not items:
        share = word_share(words, quote)
        if share >= CONTENT_WORD_SHARE:
            return True, ""
        return False, f"the quote holds {share:.0%} of the sentence's content words"
    if stated and not any(contains_phrase(quote, a) for a in answers):
        return False, f"the quote does not contain {stated[0]!r}"
    absent = [item for item in items if not contains_phrase(quote, item)]
    if absent:
        return False, f"the quote does not contain {absent[0]!r}"
    known = set(content_words(question))
    for phrase in stated + items:
        known.update(content_words(phrase))
    rest = [w for w in words if not any(same_word(w, k) for k in known)]
    if word_share(rest, quote) >= REST_WORD_SHARE:
        return True, ""
    missing = ", ".join(w for w in rest if word_share([w], quote) == 0)
    return False, f"the quote does not support the rest of the sentence ({missing})"


# -- speed and rates ---------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100), like numpy's default; None for no values.

    >>> percentile([1.0, 2.0, 3.0, 4.0], 50), percentile([1.0, 2.0, 3.0, 4.0], 95)
    (2.5, 3.85)
    """
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return round(ordered[low] + (ordered[high] - ordered[low]) * (position - low), 10)


def share(flags: Iterable[bool]) -> float | None:
    """Fraction of true flags; None when there are none to count."""
    values = list(flags)
    return sum(values) / len(values) if values else None
