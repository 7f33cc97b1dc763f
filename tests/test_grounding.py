"""The answer checker on hand-made cases: each claim must be supported by the passage it cites.

Most cases check by words alone (no judge), as for a generator that gives no probabilities; the
cases at the end give the checker a scripted judge, to show what is decided by its judgement."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from rag.grounding import Thresholds, check_answer
from rag.terms import idf_table
from rag.types import Chunk, Hit

DOC = (
    "Then, the Kazakh leader held talks with Japanese Prime Minister Sanae Takaichi. "
    "The meeting ended with signing 14 documents.\n\n"
    "On Friday, December 19, Kassym-Jomart Tokayev met with Tokyo Governor Yuriko Koike. "
    "The two sides discussed cooperation in digitalization and artificial intelligence.\n\n"
    "Global military spending last year amounted to a record 2.7 trillion US dollars."
)


def _passages() -> list[Hit]:
    paragraphs = DOC.split("\n\n")
    hits, offset = [], 0
    for n, paragraph in enumerate(paragraphs, start=1):
        start = DOC.index(paragraph, offset)
        offset = start + len(paragraph)
        hits.append(Hit(Chunk(f"c{n}", "visit.txt", paragraph, start, offset), 1.0, n, "State visit"))
    return hits


def _embed(texts: Sequence[str]) -> np.ndarray:
    """The question orthogonal to every passage: decisions rest on the lexical evidence alone."""
    vectors = np.zeros((len(texts), 2), dtype=np.float32)
    vectors[0, 0] = 1.0
    vectors[1:, 1] = 1.0
    return vectors


IDF = idf_table(DOC.split("\n\n"))


def check(question: str, raw: str):  # type: ignore[no-untyped-def]
    # Scores here are half the IDF-weighted share of question terms found (the cosine part is 0).
    return check_answer(question, raw, _passages(), _embed, IDF, Thresholds(relevant=0.15, extract=0.3))


def reasons(verdict) -> list[str]:  # type: ignore[no-untyped-def]
    """Why each removed claim was removed."""
    return [c.reason for c in verdict.claims if not c.kept]


def test_a_right_citation_is_kept_and_narrowed_to_the_exact_sentence() -> None:
    verdict = check("How many documents were signed after the talks?", "They signed 14 documents [1].")
    assert verdict.mode == "generated" and not verdict.abstained
    (citation,) = verdict.citations
    assert citation.quote == "The meeting ended with signing 14 documents."
    assert DOC[citation.start : citation.end] == citation.quote
    assert verdict.text == "They signed 14 documents [1]."


def test_a_sentence_cited_to_the_wrong_passage_gets_the_passage_that_supports_it() -> None:
    verdict = check("Who did Tokayev meet on December 19?", "On December 19 Tokayev met Governor Yuriko Koike [3].")
    assert verdict.claims[0].status == "supported" and verdict.claims[0].markers == (1,)
    (citation,) = verdict.citations
    assert "Yuriko Koike" in citation.quote and citation.chunk_id == "c2"


def test_an_unsupported_number_is_removed_never_presented_as_sourced() -> None:
    verdict = check(
        "How many documents were signed after the talks?",
        "They signed 14 documents [1]. The deals were worth 300 million dollars [1].",
    )
    assert "300" not in verdict.text
    assert verdict.removed == ("The deals were worth 300 million dollars.",)
    assert [c.quote for c in verdict.citations] == ["The meeting ended with signing 14 documents."]


def test_a_name_from_outside_the_passages_is_removed() -> None:
    verdict = check(
        "Who did Tokayev meet on December 19?",
        "On December 19 Tokayev met Tokyo Governor Yuriko Koike [2]. He also met Shinzo Abe [2].",
    )
    assert "Abe" not in verdict.text and "He also met Shinzo Abe." in verdict.removed


def test_when_every_sentence_fails_a_passage_that_clearly_answers_is_quoted() -> None:
    verdict = check(
        "How many documents were signed when the meeting with the Prime Minister ended?",
        "They signed 12 agreements [1].",
    )
    assert verdict.mode == "quoted"
    assert "The meeting ended with signing 14 documents." in verdict.citations[0].quote
    assert DOC[verdict.citations[0].start : verdict.citations[0].end] == verdict.citations[0].quote
    assert "14 documents" in verdict.text


def test_an_invented_answer_with_no_supporting_passage_becomes_a_refusal() -> None:
    verdict = check("What is the population of Kazakhstan?", "About 20 million people live in Kazakhstan [1].")
    assert verdict.abstained and verdict.mode == "refused" and not verdict.citations
    assert verdict.text == "The articles do not say."


def test_a_refusal_by_the_model_stays_a_refusal_when_no_passage_clearly_answers() -> None:
    verdict = check("Who is the Secretary-General of the UN?", "The articles do not say.")
    assert verdict.abstained and not verdict.citations


def test_a_refusal_by_the_model_is_overruled_by_a_passage_that_clearly_answers() -> None:
    verdict = check("How many documents were signed when the meeting ended?", "The articles do not say.")
    assert verdict.mode == "quoted" and not verdict.abstained
    assert verdict.citations[0].quote == "The meeting ended with signing 14 documents."
    assert verdict.notes and "the model found no answer" in verdict.notes[0]


def test_a_supported_but_off_topic_reply_is_not_an_answer() -> None:
    verdict = check("What is the population of Kazakhstan?", "The two sides discussed digitalization [2].")
    assert verdict.abstained or verdict.mode == "quoted"
    assert verdict.mode != "generated"


@pytest.mark.parametrize("raw", ["", "   "])
def test_an_empty_reply_is_a_refusal(raw: str) -> None:
    assert check("Anything?", raw).abstained


def test_number_words_count_as_their_digits() -> None:
    verdict = check("How many documents were signed after the talks?", "Fourteen documents were signed [1].")
    assert verdict.mode == "generated" and "14 documents" in verdict.citations[0].quote


def test_a_reply_without_the_kind_of_answer_asked_for_quotes_the_sentence_that_has_it() -> None:
    # "What day of the week" is answered by a weekday; the reply gives only the date.
    verdict = check(
        "What day of the week was December 19, when Tokayev met Governor Yuriko Koike?",
        "On December 19 Tokayev met Tokyo Governor Yuriko Koike [2].",
    )
    assert verdict.mode == "quoted" and "Friday" in verdict.text
    assert "Friday" in verdict.citations[0].quote


def test_a_date_does_not_answer_a_question_about_the_year() -> None:
    verdict = check("In what year did Tokayev meet Governor Yuriko Koike?", "He met her on December 19 [2].")
    assert verdict.abstained and verdict.mode == "refused"
    assert "year" in verdict.notes[0]


def test_a_sourced_reply_is_replaced_when_another_sentence_answers_the_question_far_better() -> None:
    # The reply is true to its passage but answers something else; the signing sentence answers it.
    verdict = check(
        "How many documents were signed when the meeting with the Prime Minister ended?",
        "Tokayev met Tokyo Governor Yuriko Koike [2].",
    )
    assert verdict.mode == "quoted" and "14 documents" in verdict.text
    assert verdict.removed == ("Tokayev met Tokyo Governor Yuriko Koike.",)


def test_a_claim_that_drops_the_passages_negation_is_not_supported() -> None:
    passage = "Tokayev stressed that UN reform is no longer a rhetorical discussion but a strategic necessity."
    hits = [Hit(Chunk("c1", "lecture.txt", passage, 0, len(passage)), 1.0, 1, "Lecture")]
    idf = idf_table([passage])
    question = "How did Tokayev characterize UN reform?"
    loose = Thresholds(relevant=0.15, extract=0.3)
    flipped = check_answer(question, "Tokayev said UN reform is a rhetorical discussion [1].", hits, _embed, idf, loose)
    assert reasons(flipped) == ["its passage says the opposite"] and flipped.mode != "generated"
    kept = check_answer(question, "UN reform is no longer a rhetorical discussion [1].", hits, _embed, idf, loose)
    assert kept.claims[0].status == "supported" and kept.mode == "generated"


def test_each_item_of_a_listed_reply_is_checked_on_its_own() -> None:
    verdict = check(
        "Which areas of cooperation did the two sides discuss?",
        "They discussed:\n\n1. Digitalization [2]\n2. Space tourism [2]\n3. Artificial intelligence [2]",
    )
    assert verdict.mode == "generated"
    assert "Digitalization [1]" in verdict.text and "Artificial intelligence [1]" in verdict.text
    assert "Space tourism" in verdict.removed and "2." not in verdict.text


def _titled(*texts: str) -> list[Hit]:
    hits, offset = [], 0
    for n, text in enumerate(texts, start=1):
        hits.append(Hit(Chunk(f"t{n}", f"article{n}.txt", text, offset, offset + len(text)), 1.0, n, f"Article {n}"))
        offset += len(text) + 2
    return hits


def test_words_in_quotation_marks_must_be_in_the_passage_word_for_word() -> None:
    visit = "He gave a lecture titled “How Kazakhstan Envisions a Fairer and More Stable World.”"
    lecture = "In his address, titled “How Kazakhstan Envisions a More Just and Stable World,” he spoke."
    claim = 'The lecture was titled "How Kazakhstan Envisions a More Just and Stable World" [1].'
    # Every content term of the claim is in the visit passage ("more" and "just" are stop words):
    # only the quotation tells the two titles apart.
    question = "What was his address titled?"
    moved = check_answer(question, claim, _titled(visit, lecture), _embed, IDF, Thresholds(relevant=0.15, extract=0.3))
    assert moved.claims[0].status == "supported" and moved.citations[0].chunk_id == "t2"
    alone = check_answer(question, claim, _titled(visit), _embed, IDF, Thresholds(relevant=0.15, extract=0.3))
    assert reasons(alone) == ["no passage says it"] and "More Just" not in alone.text


def test_a_claim_pieced_together_from_two_sentences_is_not_supported() -> None:
    passage = (
        "The Head of State highly appreciated the activity of the League, saying that he viewed it as an "
        "important mechanism of strengthening the bilateral cooperation. Then, the Kazakh leader held talks "
        "with Japanese Prime Minister Sanae Takaichi."
    )
    question = "How did the Kazakh leader interpret being asked to give the talk?"
    # A reply the 0.5B model gave: most of its words are in the passage, but no sentence says it.
    pieced = (
        "The Kazakh leader interpreted being asked to give the talk by saying that he viewed it as an important "
        "mechanism of strengthening the bilateral cooperation [1]."
    )
    support_only = Thresholds(relevant=0.0, extract=0.9)  # no relevance bar, no quoting instead
    verdict = check_answer(question, pieced, _titled(passage), _embed, IDF, support_only)
    assert reasons(verdict) == ["no passage says it"] and verdict.abstained
    # What one sentence says stays supported, with a name from the passage's other sentence.
    faithful = "The Kazakh leader viewed the League as an important mechanism of strengthening the cooperation [1]."
    verdict = check_answer(question, faithful, _titled(passage), _embed, IDF, support_only)
    assert verdict.claims[0].status == "supported" and not verdict.abstained
    assert verdict.citations[0].quote.startswith("The Head of State highly appreciated")


# -- with a judge -----------------------------------------------------------------------------
LECTURE = (
    "The Kazakh President cited the 7th-century teachings of Prince Shotoku on harmony. "
    "On December 18, President Tokayev held talks with Emperor Naruhito of Japan in Tokyo."
)


class ScriptedJudge:
    """Says yes (0.99) to the pairs it is told are faithful, no (0.1) to the rest; records each call."""

    def __init__(self, faithful: dict[str, str]) -> None:
        self.faithful = faithful  # claim -> the evidence sentence that says it
        self.calls: list[tuple[str, str]] = []
        self.questions: list[str | None] = []

    def __call__(self, evidence: str, claim: str, question: str | None = None) -> float | None:
        self.calls.append((evidence, claim))
        self.questions.append(question)
        return 0.99 if self.faithful.get(claim, "\0") in evidence else 0.1


def judged(question: str, raw: str, judge: object) -> object:
    return check_answer(question, raw, _titled(LECTURE), _embed, idf_table([LECTURE]), Thresholds(relevant=0.0), judge)  # type: ignore[arg-type]


PARAPHRASE = "The Kazakh leader invoked the old lessons of Prince Shotoku [1]."


def test_a_right_paraphrase_is_kept_when_the_judge_says_its_evidence_says_it() -> None:
    judge = ScriptedJudge({"The Kazakh leader invoked the old lessons of Prince Shotoku.": "cited the 7th-century"})
    verdict = judged("Whose teachings did the Kazakh leader invoke?", PARAPHRASE, judge)
    assert verdict.mode == "generated" and verdict.claims[0].support == 0.99  # type: ignore[attr-defined]
    assert verdict.citations[0].quote.startswith("The Kazakh President cited")  # type: ignore[attr-defined]
    # The judge was shown the claim against the sentence that holds its words, not the whole passage.
    assert judge.calls == [(verdict.citations[0].quote, "The Kazakh leader invoked the old lessons of Prince Shotoku.")]  # type: ignore[attr-defined]
    # A fact answer is judged as an answer to its question.
    assert judge.questions == ["Whose teachings did the Kazakh leader invoke?"]


def test_words_alone_refuse_that_paraphrase() -> None:
    # "invoked" and "leader" are not in the passage: by words, too little of the claim is there.
    verdict = judged("Whose teachings did the Kazakh leader invoke?", PARAPHRASE, None)
    assert verdict.mode != "generated"  # type: ignore[attr-defined]


def test_a_claim_that_swaps_the_act_is_removed_when_the_judge_says_no() -> None:
    # Every word but "left" is in the sentence about the talks: by words it would pass.
    raw = "On December 18, President Tokayev left Japan [1]."
    by_words = judged("On what date did Tokayev leave Japan?", raw, None)
    assert by_words.mode == "generated"  # type: ignore[attr-defined]
    verdict = judged("On what date did Tokayev leave Japan?", raw, ScriptedJudge({}))
    assert verdict.abstained or verdict.mode == "quoted"  # type: ignore[attr-defined]
    assert reasons(verdict) == ["no passage says it"] and verdict.claims[-1].support == 0.1  # type: ignore[attr-defined]


def test_a_generator_that_cannot_judge_falls_back_to_words_and_says_so() -> None:
    raw = "On December 18, President Tokayev left Japan [1]."
    verdict = judged("On what date did Tokayev leave Japan?", raw, lambda evidence, claim, question: None)
    assert verdict.mode == "generated"  # type: ignore[attr-defined]
    assert any("checked by their words only" in n for n in verdict.notes)  # type: ignore[attr-defined]


def test_an_open_question_keeps_every_supported_claim_without_the_relevance_bar() -> None:
    raw = "The President cited Prince Shotoku [1]. He held talks with Emperor Naruhito [1]. He visited Mars [1]."
    judge = ScriptedJudge(
        {"The President cited Prince Shotoku.": "cited the 7th", "He held talks with Emperor Naruhito.": "held talks"}
    )
    verdict = check_answer(
        "Summarize the article.", raw, _titled(LECTURE), _embed, idf_table([LECTURE]), Thresholds(relevant=0.99), judge
    )
    assert verdict.shape == "open" and verdict.mode == "generated"
    assert [c.status for c in verdict.claims] == ["supported", "supported", "removed"]
    assert set(judge.questions) == {None}  # an open answer's sentences are judged as claims, not answers
    assert verdict.text == "The President cited Prince Shotoku [1]. He held talks with Emperor Naruhito [2]."
    assert [c.quote for c in verdict.citations] == [
        "The Kazakh President cited the 7th-century teachings of Prince Shotoku on harmony.",
        "On December 18, President Tokayev held talks with Emperor Naruhito of Japan in Tokyo.",
    ]


def test_an_open_question_whose_reply_fails_quotes_the_best_sentences_each_cited() -> None:
    verdict = check_answer(
        "What did Tokayev do with Emperor Naruhito? Summarize.", "He flew to the Moon [1].", _titled(LECTURE),
        _embed, idf_table([LECTURE]), Thresholds(summary=0.1), ScriptedJudge({}),
    )
    assert verdict.mode == "quoted" and not verdict.abstained
    assert verdict.citations and all(LECTURE[c.start : c.end] == c.quote for c in verdict.citations)
    kept = [c for c in verdict.claims if c.kept]
    assert all(c.markers for c in kept) and "Naruhito" in verdict.text


def test_a_markdown_heading_is_never_quoted_as_what_the_articles_say() -> None:
    text = (
        "# Halvorsen and the Halvorsen-5789 project\n\n"
        "Halvorsen announced that the Halvorsen-5789 project would receive 879 million."
    )
    heading_end = text.index("\n")
    passage = Hit(Chunk("h1", "web/story.md", text, 0, len(text)), 1.0, 1, "Halvorsen-5789")
    verdict = check_answer(
        "What is the latest on the Halvorsen-5789 project?", "It is on day 12 [1].", [passage], _embed,
        idf_table([text]), Thresholds(relevant=0.15, extract=0.3),
    )
    assert verdict.mode == "quoted" and verdict.citations
    assert all(c.start > heading_end for c in verdict.citations), "the heading is not quoted"
    assert "879 million" in verdict.text
