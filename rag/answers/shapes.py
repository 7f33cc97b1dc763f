"""What kind of answer a question asks for, and whether a text holds one.

"In what year …?" is answered by a year, "How many …?" by a count, "What day of the week …?" by a
weekday. A reply or a passage sentence that holds no such thing does not answer the question, however
many of its words it shares: "Tokayev's visit took place on December 18" does not say in what year.
Questions whose wording names no such kind (who, what, which, how) expect nothing checkable here,
and `expected_type` returns None for them.

>>> expected_type("In what year did Kazakhstan give up its nuclear arsenal?")
'year'
>>> holds_answer_type("It renounced the world's fourth-largest arsenal.", "year", "In what year …?")
False
>>> holds_answer_type("The talks ended with 14 documents.", "count", "How many documents were signed?")
True

A question's *shape* is coarser: "fact" for one short answer, "open" for what wants several
sentences: a summary, the main points, a list, events in order, a comparison, a "why", a yes/no
question that wants the detail. The checker asks every sentence of an open answer to be supported,
but not the answer as a whole to match the question's words, which open questions seldom share.

>>> answer_shape("Summarize the article about the lecture."), answer_shape("Who met Koike?")
('open', 'fact')

"timeline" is for what happened in order, or since when, and for what is new (rag/answers/timelines.py):

>>> answer_shape("What happened during the visit, in order?"), answer_shape("What's new on the iPod?")
('timeline', 'timeline')
>>> answer_shape("Why must one be excluded in order to keep it unique?")
'open'

Deliberately not here: whether the text is *true* (rag/answers/checking.py decides that).
"""

from __future__ import annotations

import re

from rag.text.terms import NUMBER_WORDS, digits, fold, numbers, terms, words
from rag.types import Shape

MONTHS = (
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec"
).split()
WEEKDAYS = "monday tuesday wednesday thursday friday saturday sunday".split()
_TIME_UNITS = r"(?:second|minute|hour|day|week|fortnight|month|year|decade|century|centuries)s?"
_SCALE_WORDS = r"(?:dozen|dozens|hundred|hundreds|thousand|thousands|million|millions|billion|billions|trillion)"

# Checked in this order: the first pattern that matches the (folded) question wins.
_QUESTION_TYPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("weekday", re.compile(r"\bday of the week\b|\bwhat weekday\b|\bwhich weekday\b")),
    ("year", re.compile(r"\b(?:what|which) years?\b|\byears? did\b")),
    ("date", re.compile(r"\b(?:what|which) (?:date|day)\b|^when\b|\bwhen (?:did|was|were|is|will|does|do|had)\b")),
    ("duration", re.compile(r"\bhow long\b")),
    ("count", re.compile(r"\bhow many\b")),
    ("amount", re.compile(r"\bhow much\b")),
)

_YEAR = re.compile(r"\b(?:1[5-9]|20)\d\d\b")
_DAY_OF_MONTH = re.compile(r"\b(?:" + "|".join(MONTHS) + r")\.? \d{1,2}\b|\b\d{1,2} (?:" + "|".join(MONTHS) + r")\b")
# "in March", "last week", "the same day": a month on its own ("may" only with a number: it is
# also a verb) or a time named relative to another.
_MONTH = re.compile(r"\b(?:" + "|".join(m for m in MONTHS if len(m) > 3) + r")\b")
_RELATIVE_TIME = re.compile(
    r"\b(?:yesterday|today|tomorrow|tonight)\b"
    r"|\b(?:last|next|this|that|same|following|previous) (?:day|week|month|year|morning|afternoon|evening|night)\b"
)
_WEEKDAY = re.compile(r"\b(?:" + "|".join(WEEKDAYS) + r")\b")
_DURATION = re.compile(
    r"\b(?:\d+(?:[.,]\d+)?|a|an|" + "|".join(NUMBER_WORDS) + r"|several|few)(?:[ -]" + _SCALE_WORDS + r")?[ -]"
    + _TIME_UNITS + r"\b"
)
_SCALE = re.compile(r"\b" + _SCALE_WORDS + r"\b")


_OPEN = re.compile(
    r"^(?:please )?(?:summari[sz]e|sum up|outline|describe|explain|list|compare|contrast|give (?:me )?(?:an? )?"
    r"(?:summary|overview|outline|list)|tell me (?:about|what|how|why))\b"
    r"|\b(?:summary|overview|main points?|key points?|main ideas?|key ideas?|main topics?|highlights|takeaways)\b"
    r"|\bin (?:chronological )?order\b|\bstep by step\b"
    r"|\b(?:differ|differs|difference|differences|compare|compared|comparison|similarities|in common)\b"
    r"|^why\b|\bwhy (?:did|does|do|is|was|were|are|has|have|had|should|would|could)\b"
    r"|^what (?:is|was|are|were) (?:the |this |that |each |both )?(?:(?:first|second|other|last) )?"
    r"(?:articles?|story|stories|piece|report|texts?) about\b"
    r"|^what (?:did|does|do|has|have|had) [^?]{1,60} (?:do|say|said|discuss|argue|propose|call for|announce|achieve)\b"
    r"|^what happened\b|\bwhat (?:were|are) the (?:events|results|outcomes|consequences|reasons|causes)\b"
    r"|^how (?:did|does|do|has|have|is|was|were) [^?]{1,80} (?:describe|see|view|explain|justify|portray)\b"
    r"|^(?:did|does|do|is|was|were|are|has|have|had|can|could|will|would)\b[^?]*\?\s*\S"
)


_TIMELINE = re.compile(
    r"\bin (?:chronological |date |time )?order\b(?! to\b)|\btimeline\b|\bchronolog|\bsequence of events\b"
    r"|\bsince when\b"
    r"|\bwhat(?:'s| is| has been|s) new\b|\bwhat(?:'s| is) the news\b|\bany news\b|\bnews since\b"
)


def answer_shape(question: str) -> Shape:
    """'timeline' for what happened in order and what is new, 'open' for questions that want several
    sentences (see the module's docstring), else 'fact'."""
    text = fold(question).strip()
    if _TIMELINE.search(text):
        return "timeline"
    return "open" if _OPEN.search(text) else "fact"


# Open questions that ask for one view or one statement ("How did X view Y?", "What did X say about
# Y?"): one sentence answers them, and quoting more of the article only buries it. A question that
# also asks for a list, the main points or a summary is broad all the same.
_ONE_VIEW = re.compile(
    r"^what (?:did|does|do|has|have|had) [^?]{1,60} (?:say|said)\b"
    r"|^how (?:did|does|do|has|have|is|was|were) [^?]{1,80} (?:describe|see|view|portray)\b",
    re.IGNORECASE,
)
_BROAD = re.compile(r"\b(?:list|main points?|key points?|summar\w*|overview|in order)\b", re.IGNORECASE)


def asks_for_breadth(question: str) -> bool:
    """Whether an open question wants several points (so what the model left out is quoted too),
    not one view or statement.

    >>> asks_for_breadth("What are the main points of the lecture?")
    True
    >>> asks_for_breadth("How did Tokayev describe Japan as a partner?")
    False
    >>> asks_for_breadth("What did he say about nuclear weapons?")
    False
    >>> asks_for_breadth("What did the summary say? List the main points.")
    True
    """
    question = question.strip()
    return not _ONE_VIEW.search(question) or bool(_BROAD.search(question))


def expected_type(question: str) -> str | None:
    """'weekday', 'year', 'date', 'duration', 'count', 'amount', or None when the wording names no kind."""
    text = fold(question).strip()
    for name, pattern in _QUESTION_TYPES:
        if pattern.search(text):
            return name
    return None


def holds_answer_type(text: str, kind: str | None, question: str = "") -> bool:
    """Whether `text` holds an answer of that kind. A number the question itself states does not
    count as the answer to "how many" ("How many of the 14 documents …?")."""
    if kind is None:
        return True
    folded = fold(text)
    if kind == "weekday":
        return bool(_WEEKDAY.search(folded))
    if kind == "year":
        return bool(_YEAR.search(folded))
    if kind == "date":
        return any(p.search(folded) for p in (_DAY_OF_MONTH, _MONTH, _WEEKDAY, _YEAR, _RELATIVE_TIME))
    if kind == "duration":
        return bool(_DURATION.search(folded))
    new_numbers = numbers(text) - numbers(question)
    if kind == "count":
        return bool(new_numbers or _SCALE.search(folded)) and _counts_the_thing_asked(text, question)
    if kind == "amount":  # an amount is written in digits: "2.7 trillion", "$300 million"
        return bool(digits(text) - numbers(question))
    raise ValueError(f"unknown answer type {kind!r}")


def _counts_the_thing_asked(text: str, question: str) -> bool:
    """"How many citizens …?" is answered by a number of citizens: some number in the text must be
    followed within a few words by the thing counted ("14 documents", "two thousand students"),
    not merely stand somewhere ("the two countries"). Compared through stems, so "document" meets
    "documents"; a question whose counted thing cannot be read passes."""
    asked = re.search(r"\bhow many ((?:[^\W\d_]+ ?){1,2})", fold(question))
    counted = set(terms(asked.group(1))) if asked else set()
    if not counted:
        return True
    tokens = words(text)
    return any(
        (token[0].isdigit() or token in NUMBER_WORDS) and counted & set(terms(" ".join(tokens[i + 1 : i + 5])))
        for i, token in enumerate(tokens)
    )
