"""Scoring open answers (rag/evaluation/open_questions.py): key points, citations, own words, length."""

from __future__ import annotations

from rag.evaluation.open_questions import OpenCase, Point, score_open, summarise_open
from rag.types import Answer, Citation, Claim

DOC = "Tokayev held talks with Emperor Naruhito. He met Governor Yuriko Koike."
CASE = OpenCase("o1", "What did Tokayev do in Japan?", "events", ("visit.txt",),
                (Point("talks with the Emperor", ("talks emperor",)), Point("met Koike", ("met koike",)),
                 Point("signed 14 documents", ("14 documents",))))


def answer(mode: str, text: str, quote: str = "Tokayev held talks with Emperor Naruhito.") -> Answer:
    start = DOC.index(quote)
    citation = Citation(1, "visit.txt", "Visit", start, start + len(quote), quote)
    return Answer(CASE.question, text, (citation,), claims=(Claim(text.replace(" [1]", ""), "supported", (1,)),),
                  mode=mode)  # type: ignore[arg-type]


def test_points_are_covered_by_the_kept_claims_and_each_citation_is_checked() -> None:
    good = score_open(CASE, answer("written", "He had talks with the Emperor [1]."), {"visit.txt": DOC})
    assert good.covered == (True, False, False) and good.all_cited
    wrong_span = score_open(CASE, answer("written", "He had talks with the Emperor [1].", "He met Governor Yuriko "
                                         "Koike."), {"visit.txt": DOC.replace("He met", "He saw")})
    assert not wrong_span.all_cited  # the quote is not the document's text at that span


def test_the_summary_counts_own_words_and_answers_short_enough() -> None:
    results = [
        score_open(CASE, answer("written", "He had talks with the Emperor [1]."), {"visit.txt": DOC}),
        score_open(CASE, answer("extracted", "word " * 130 + "[1]."), {"visit.txt": DOC}),
        score_open(CASE, None, {}, "the model crashed"),
    ]
    s = summarise_open(results)
    assert (s.cases, s.errors, s.refused) == (3, 1, 1 / 3)
    assert s.own_words == 0.5 and s.short == 0.5  # of the two answered: one written, one of 131 words
    assert s.words_p50 is not None and 65 <= s.words_p50 <= 69  # the middle of about 6 and 130
