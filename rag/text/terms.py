"""Turn text into comparable terms: lower-cased, stop words removed, Snowball-stemmed words, and
numbers kept whole. BM25 retrieval and the citation checker both compare texts through this, so
"signed", "signing" and "Signs" meet as "sign", and "2.7" or "14" only ever match themselves.

>>> terms("The meeting ended with signing 14 documents.")
['meet', 'end', 'sign', '14', 'document']
>>> sorted(numbers("USD 2.7 trillion, the 50th anniversary, fourteen documents"))
['14', '2.7', '50']
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache

STOP_WORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had has
    have having he her here hers herself him himself his how i if in into is it its itself just me more
    most my myself no nor not now of off on once only or other our ours ourselves out over own same she
    should so some such than that the their theirs them themselves then there these they this those
    through to too under until up very was we were what when where which while who whom why will with
    would you your yours yourself yourselves said says say according many much did does tell told""".split()
)

NUMBER_WORDS = {
    w: str(n)
    for n, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
        "seventeen eighteen nineteen twenty".split()
    )
}

_WORD = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+(?:['’][^\W\d_]+)?", re.UNICODE)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


@lru_cache(maxsize=1)
def _stemmer():  # type: ignore[no-untyped-def]
    import Stemmer

    return Stemmer.Stemmer("english")


_PLAIN = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "—": " ", "–": " ", "-": " "})


def fold(text: str) -> str:
    """Lower-case, NFKC, typographic quotes and dashes made plain."""
    return unicodedata.normalize("NFKC", text).lower().translate(_PLAIN)


def words(text: str) -> list[str]:
    return [w.replace("’", "'") for w in _WORD.findall(fold(text))]


def terms(text: str) -> list[str]:
    out = []
    stem = _stemmer().stemWord
    for word in words(text):
        if word in STOP_WORDS:
            continue
        if word[0].isdigit():
            out.append(word.replace(",", ""))
        elif word in NUMBER_WORDS:
            out.append(NUMBER_WORDS[word])
        elif len(word) > 1:
            out.append(stem(word.removesuffix("'s")))
    return out


def digits(text: str) -> set[str]:
    """Numbers written in digits, without thousands separators."""
    return {n.replace(",", "") for n in _NUMBER.findall(text)}


def numbers(text: str) -> set[str]:
    """Numbers written in digits, and number words up to twenty, as digit strings."""
    return digits(text) | {NUMBER_WORDS[w] for w in words(text) if w in NUMBER_WORDS}


def idf_table(texts: Sequence[str]) -> Callable[[str], float]:
    """IDF of each term over the given texts (unknown terms get the highest IDF)."""
    df: dict[str, int] = {}
    for text in texts:
        for term in set(terms(text)):
            df[term] = df.get(term, 0) + 1
    return idf_from_counts(len(texts), df)


def idf_from_counts(n: int, df: Mapping[str, int]) -> Callable[[str], float]:
    """`idf_table`'s IDF from counts kept elsewhere: `n` texts, `df[term]` of them containing it.

    >>> idf = idf_from_counts(3, {"bridg": 1})
    >>> idf("bridg") < idf("unseen")
    True
    """
    top = math.log((n + 1) / 1) + 1

    def idf(term: str) -> float:
        count = df.get(term)
        return top if count is None else math.log((n + 1) / (count + 1)) + 1

    return idf
