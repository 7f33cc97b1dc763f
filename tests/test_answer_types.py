"""Which kind of answer a question asks for, and whether a text holds one."""

from __future__ import annotations

import pytest

from rag.answers.shapes import expected_type, holds_answer_type


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("What day of the week was December 19?", "weekday"),
        ("In what year did Kazakhstan give up its nuclear arsenal?", "year"),
        ("In which years did he serve in Geneva?", "year"),
        ("On what date did Tokayev leave Japan?", "date"),
        ("When did that happen?", "date"),
        ("How long did their talks last?", "duration"),
        ("How many documents were signed?", "count"),
        ("How much did Japan invest in Kazakhstan?", "amount"),
        ("Who is the Mayor of Astana?", None),
        ("Which shrine did Tokayev visit?", None),
        ("How did Tokayev describe Japan?", None),
        ("What did they discuss when they met?", None),
    ],
)
def test_the_question_wording_names_the_kind_of_answer(question: str, kind: str | None) -> None:
    assert expected_type(question) == kind


@pytest.mark.parametrize(
    ("text", "kind", "question", "holds"),
    [
        ("On Friday, December 19, they met.", "weekday", "What day of the week?", True),
        ("On December 19 they met.", "weekday", "What day of the week?", False),
        ("The visit took place on December 18.", "year", "In what year?", False),
        ("Kazakhstan renounced its arsenal in 1995.", "year", "In what year?", True),
        ("The visit took place on December 18.", "date", "On what date?", True),
        ("He arrived on 17 December.", "date", "On what date?", True),
        ("The pilot starts with the tram line in March.", "date", "When does the pilot start?", True),
        ("They met again the following day.", "date", "When did they meet again?", True),
        ("He may visit Astana.", "date", "When will he visit Astana?", False),
        ("He delivered a keynote lecture in Tokyo.", "date", "On what date?", False),
        ("The talks lasted two hours.", "duration", "How long?", True),
        ("The talks ended with signing 14 documents.", "duration", "How long?", False),
        ("The meeting ended with signing 14 documents.", "count", "How many documents were signed?", True),
        ("Fourteen documents were signed.", "count", "How many documents were signed?", True),
        ("The two countries are bound by friendship.", "count", "How many Kazakh citizens study in Japan?", False),
        ("Some 2,000 Kazakh students study there.", "count", "How many Kazakh students study in Japan?", True),
        ("Of the 14 documents, none is listed.", "count", "How many of the 14 documents are on energy?", False),
        ("Spending reached 2.7 trillion US dollars.", "amount", "How much was spent?", True),
        ("He wants to deepen trade and investment.", "amount", "How much did Japan invest?", False),
        ("Anything at all.", None, "Who?", True),
    ],
)
def test_a_text_holds_the_kind_of_answer_or_not(text: str, kind: str | None, question: str, holds: bool) -> None:
    assert holds_answer_type(text, kind, question) is holds
